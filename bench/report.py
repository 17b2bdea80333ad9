"""docs/PERFORMANCE.md from a full run's results."""

from pathlib import Path
from typing import Any

NOTES = Path(__file__).parent / "notes.md"


def _flow_cpu(step: dict[str, Any], cores: int) -> str:
    """`, CPU a flow 50 ms (API 24, simulator 8) of a 40 ms budget` (runs before it: nothing)."""
    cpu = step.get("cpu_ms_per_flow")
    if not cpu:
        return ""
    budget = cores * 60_000 / step["rate_per_minute"]
    return (
        f", CPU a flow {cpu['machine']:.0f} ms (API {cpu['api']:.0f}, simulator "
        f"{cpu['simulator']:.0f}) of a {budget:.0f} ms budget"
    )


def _notes() -> str:
    """Hand-written: what was changed for speed and what it bought (kept across runs)."""
    return NOTES.read_text().strip() if NOTES.exists() else ""


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _bare_create(create: dict[str, Any]) -> list[tuple[str, ...]]:
    """The create's own statements from bare asyncpg, against the INSERT floor and against us."""
    if "bare_statements" not in create:  # runs before the scenario existed
        return []
    bare = create["bare_statements"]
    return [
        (
            "the create's statements, bare (asyncpg in one transaction, no service code)",
            f"{bare['rps']:.0f} req/s, {bare['cpu_us_per_request']:,} µs CPU",
            f"{create['floor']['rps']:.0f} req/s (INSERT + commit)",
            f"{create['bare_statements_ratio']:.2f}",
            "– (the most a create doing this work reaches)",
            "–",
        ),
        (
            "create: full path against its own statements, bare",
            f"{create['ours']['rps']:.0f} req/s",
            f"{bare['rps']:.0f} req/s",
            f"{create['ratio_to_bare_statements']:.2f}",
            "–",
            "–",
        ),
    ]


def _threads(results: dict[str, Any]) -> str:
    threads = results.get("wrk_threads", 2)  # runs before the key existed used two
    return f"{threads} thread{'s' if threads > 1 else ''}"


def _relay_processes(relay: dict[str, Any]) -> list[tuple[str, ...]]:
    """The shipped relay in its own process (how production runs it) and inside `aigen serve`."""
    if "processes" not in relay:  # runs before the scenario existed
        return []
    rows = []
    for where, key in (("worker", "worker"), ("serve", "serve")):
        figures = relay["processes"][key]
        rows.append(
            (
                f"outbox relay → RabbitMQ in `aigen {where}`, the only relay on its database"
                f" ({relay['processes']['messages']:,} rows committed at once)",
                f"{figures['per_second']:.0f} msg/s, "
                f"{figures['cpu_us_per_message']} µs CPU a message",
                f"{relay['bare_per_second']:.0f} msg/s (bare aio-pika)",
                f"{relay[f'{key}_ratio']:.2f}",
                "≥ 0.9",
                _met(relay[f"{key}_ratio"] >= 0.9),
            )
        )
    return rows


def _tails(s: dict[str, Any]) -> tuple[str, ...]:
    """P99 over P50 of each wrk scenario (32 connections, closed loop)."""
    keys = (
        ("create", "create"),
        ("callback", "callback_apply"),
        ("GET", "get_by_id"),
        ("list", "list_first_page"),
    )
    spreads = {name: s[key]["ours"]["p99_ms"] / s[key]["ours"]["p50_ms"] for name, key in keys}
    return (
        "P99 ÷ P50 in the wrk scenarios",
        ", ".join(f"{name} {spread:.1f}" for name, spread in spreads.items()),
        "–",
        f"{max(spreads.values()):.1f}",
        "≤ 4",
        _met(max(spreads.values()) <= 4),
    )


def write_report(results: dict[str, Any], path: Path, raw: Path) -> None:
    s = results["scenarios"]
    m = results["machine"]
    growth = s["growth"]
    sizes = [k for k in growth if k.isdigit()]
    small, large = sizes[0], sizes[-1]
    e2e = s["end_to_end"]
    half = s["create_p99_at_half_rate"]["ours"]
    get, listing = s["get_by_id"]["ours"], s["list_first_page"]["ours"]
    rows = [
        (
            "create: full path (JWT, validation, pricing, debit, outbox row, commit)",
            f"{s['create']['ours']['rps']:.0f} req/s",
            f"{s['create']['floor']['rps']:.0f} req/s (INSERT + commit)",
            f"{s['create']['ratio']:.2f}",
            "≥ 0.5",
            _met(s["create"]["ratio"] >= 0.5),
        ),
        *_bare_create(s["create"]),
        (
            "create P99 at about half the create throughput",
            f"{half['p99_ms']:.1f} ms at {half['rps']:.0f} req/s",
            "–",
            "–",
            "≤ 25 ms",
            _met(s["create_p99_at_half_rate"]["ours"]["p99_ms"] <= 25),
        ),
        (
            "samples callback applied (signature, lock, update, outbox rows)",
            f"{s['callback_apply']['ours']['rps']:.0f} req/s",
            f"{s['callback_apply']['floor']['rps']:.0f} req/s (SELECT … FOR UPDATE + UPDATE)",
            f"{s['callback_apply']['ratio']:.2f}",
            "≥ 0.5",
            _met(s["callback_apply"]["ratio"] >= 0.5),
        ),
        (
            "GET by id (JWT, the row, the answer with its image links)",
            f"{get['rps']:.0f} req/s, P99 {get['p99_ms']:.1f} ms",
            f"{s['get_by_id']['floor']['rps']:.0f} req/s (SELECT by id, row as JSON)",
            f"{s['get_by_id']['ratio']:.2f}",
            "≥ 0.7",
            _met(s["get_by_id"]["ratio"] >= 0.7),
        ),
        (
            "list, first page of 20",
            f"{listing['rps']:.0f} req/s, P99 {listing['p99_ms']:.1f} ms",
            f"{s['list_first_page']['floor']['rps']:.0f} req/s (same index, rows as JSON)",
            f"{s['list_first_page']['ratio']:.2f}",
            "≥ 0.5",
            _met(s["list_first_page"]["ratio"] >= 0.5),
        ),
        (
            "outbox relay → RabbitMQ with confirms",
            f"{s['relay']['relay_per_second']:.0f} msg/s",
            f"{s['relay']['bare_per_second']:.0f} msg/s (bare aio-pika, same batches)",
            f"{s['relay']['ratio']:.2f}",
            "≥ 0.9",
            _met(s["relay"]["ratio"] >= 0.9),
        ),
        *_relay_processes(s["relay"]),
        _tails(s),
        (
            f"GET by id, P50 at {int(large):,} vs {int(small):,} rows",
            f"{growth[large]['get']['p50_ms']:.2f} ms",
            f"{growth[small]['get']['p50_ms']:.2f} ms",
            f"{growth['get_ratio']:.2f}",
            "≤ 1.3",
            _met(growth["get_ratio"] <= 1.3),
        ),
        (
            f"list first page, P50 at {int(large):,} vs {int(small):,} rows",
            f"{growth[large]['list']['p50_ms']:.2f} ms",
            f"{growth[small]['list']['p50_ms']:.2f} ms",
            f"{growth['list_ratio']:.2f}",
            "≤ 1.3",
            _met(growth["list_ratio"] <= 1.3),
        ),
        (
            "samples callback sent → SSE event, P99",
            f"{e2e['callback_to_sse']['p99_ms']:.1f} ms",
            "–",
            "–",
            "≤ 50 ms",
            _met(e2e["callback_to_sse"]["p99_ms"] <= 50),
        ),
        (
            "create sent → job on the queue, P99",
            f"{e2e['create_to_queue']['p99_ms']:.1f} ms",
            "–",
            "–",
            "≤ 100 ms",
            _met(e2e["create_to_queue"]["p99_ms"] <= 100),
        ),
    ]
    capacity, overload = s["flow_capacity"], s["overload"]
    rows += [
        (
            "whole flows a minute sustained (create → samples → select → final; API P95 ≤ 200 ms)",
            f"{capacity['flows_per_minute']:,}"
            if capacity["flows_per_minute"]
            else f"below {capacity['steps'][0]['rate_per_minute']:,} (the lowest rate tried)",
            "–",
            "–",
            "≥ 3,000",
            _met(capacity["flows_per_minute"] >= 3000),
        ),
        (
            f"overload: {overload['rate_per_minute']:,} flows a minute, accepted requests' P95",
            f"{overload['accepted_p95_ms']:.0f} ms, {overload['shed_share']:.0%} shed, "
            f"{overload['lost']} lost",
            "–",
            "–",
            "≤ 200 ms, 0 lost",
            _met(overload["accepted_p95_ms"] <= 200 and overload["lost"] == 0),
        ),
    ]
    table = "\n".join(f"| {' | '.join(r)} |" for r in rows)
    cpu = " · ".join(
        f"{name} {s[key]['ours']['cpu_us_per_request']:,} µs"
        + (f" (floor {s[key]['floor']['cpu_us_per_request']:,} µs)" if "floor" in s[key] else "")
        for name, key in (
            ("create", "create"),
            ("samples callback", "callback_apply"),
            ("GET by id", "get_by_id"),
            ("list", "list_first_page"),
        )
    )
    steps = "; ".join(
        f"{step['rate_per_minute']:,}/min: P95 {step['api_p95_ms']:.0f} ms, "
        f"{step['shed_share']:.1%} shed, {step['completed']}/{step['flows']} completed"
        + _flow_cpu(step, m["cores"])
        for step in capacity["steps"]
    )
    path.write_text(f"""# Performance

Measured by `make bench` (`python -m bench.run`; `--smoke` for the seconds-long CI mode). Every
figure is the median of 3 runs after a warm-up (the growth rows: one run; the relay: two), and
every ratio compares with a floor measured in the same run on the same PostgreSQL and RabbitMQ.
Raw figures: `{raw}`.

Machine: {m["cpu"]}, {m["cores"]} cores (shared with the database, the broker and wrk),
Python {m["python"]}, {m["postgresql_client"]}.
Load: wrk, {_threads(results)}, 32 connections, 8 s per run.
The service runs as `aigen serve` (one uvicorn worker, uvloop + httptools, pool of
{results.get("pool", 10)} connections) with the local ledger as credit backend and RabbitMQ as
job transport; the floor app is a bare FastAPI app on asyncpg with the same server settings and
pool.

| scenario | ours | floor / baseline | ratio | target | |
|---|---|---|---|---|---|
{table}

CPU of the process under test a request (from /proc/<pid>/stat around each run; steady when
the machine is shared): {cpu}.

Whole flows (`bench/flows.py`: aiohttp clients polling every 2 s, `aigen serve --workers
{results.get("flow_workers", 1)}`, `aigen simulate-n8n` in plain mode, on the same two cores), each
rate for {results.get("flow_seconds", 20)} s, then followed to `completed`: {steps}. A
flow's CPU is the machine's (every process: the service, PostgreSQL, RabbitMQ, the simulator,
the clients) over the flows of the step; its budget is what the cores give a flow when the rate
is held (60,000 ms a minute a core over the rate). A step's flows finish after its last one
starts, so a short step may spend past its budget; a rate held for minutes cannot.

{_notes()}

Latency figures in the end-to-end rows are measured from the moment the client starts sending
(a create's or a callback's HTTP request) to the moment the job is consumed from the queue or
the event is read from the stream, one at a time ({e2e["create_to_queue"]["samples"]} samples
each).
""")

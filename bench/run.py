"""`make bench`: the service against a floor measured in the same run, on the same PostgreSQL
and RabbitMQ, with wrk as the load generator. Writes bench/results/<time>.json and, in full
mode, docs/PERFORMANCE.md. `--smoke` runs every scenario for seconds, to keep it working."""

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from .scenarios import e2e_latencies, relay_rates
from .services import Services, start_services
from .workloads import Workloads
from .wrk import run_wrk

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass(frozen=True)
class Mode:
    name: str
    seconds: float
    runs: int
    connections: int
    growth: tuple[int, int]
    samples: int  # end-to-end latency samples
    relay_messages: int


FULL = Mode(
    "full",
    seconds=8,
    runs=3,
    connections=32,
    growth=(10_000, 1_000_000),
    samples=300,
    relay_messages=20_000,
)
SMOKE = Mode(
    "smoke", seconds=1, runs=1, connections=8, growth=(500, 2_000), samples=20, relay_messages=300
)


def median_of(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in results), 2) for key in results[0]}


def measure(
    base_url: str, requests_file: Callable[[int], Path], mode: Mode, connections: int | None = None
) -> dict[str, float]:
    """A warm-up, then `runs` timed runs (each on fresh request lines); the medians."""
    c = connections or mode.connections
    run_wrk(base_url, requests_file(-1), c, max(1.0, mode.seconds / 4))
    return median_of(
        [run_wrk(base_url, requests_file(n), c, mode.seconds).as_dict() for n in range(mode.runs)]
    )


def half_rate_latency(
    base_url: str, requests_file: Callable[[int], Path], mode: Mode, full_rps: float
) -> dict[str, float]:
    """wrk is closed-loop: find the concurrency whose throughput is nearest half the maximum
    and report its latency there."""
    best: dict[str, float] | None = None
    for connections in (1, 2, 3, 4, 6, 8, 12, 16):
        result = median_of(
            [
                run_wrk(base_url, requests_file(100 + n), connections, mode.seconds).as_dict()
                for n in range(mode.runs)
            ]
        )
        result["connections"] = connections
        if best is None or abs(result["rps"] - full_rps / 2) < abs(best["rps"] - full_rps / 2):
            best = result
        if result["rps"] > full_rps / 2:
            break
    assert best is not None
    return best


async def reset_database(name: str) -> str:
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql_client": pg,
        "kernel": platform.release(),
    }


def ratio(ours: float, floor: float) -> float:
    return round(ours / floor, 3) if floor else 0.0


async def main_async(mode: Mode) -> dict[str, Any]:
    dsn = await reset_database("aigen_bench")
    suffix = uuid.uuid4().hex[:6]
    services: Services = await start_services(dsn, RABBITMQ_URL, suffix, ROOT / "bench" / ".work")
    results: dict[str, Any] = {
        "mode": mode.name,
        "started": datetime.now(UTC).isoformat(),
        "machine": machine(),
    }
    try:
        work = await Workloads.prepare(services)
        print("create …", flush=True)
        create = measure(services.api_url, work.creates, mode)
        floor_insert = measure(services.floor_url, work.floor_inserts, mode)
        create_half = half_rate_latency(services.api_url, work.creates, mode, create["rps"])
        print("callbacks …", flush=True)
        per_run = int(max(create["rps"], 300) * 2 * mode.seconds)  # more than a run can send
        callbacks = measure(services.api_url, await work.callbacks(per_run, mode.runs), mode)
        floor_update = measure(services.floor_url, work.floor_updates, mode)
        print("reads …", flush=True)
        get_by_id = measure(services.api_url, await work.gets(), mode)
        list_page = measure(services.api_url, await work.lists(), mode)
        print("growth …", flush=True)
        growth = {}
        for size in mode.growth:
            await work.grow_to(size)
            growth[str(size)] = {
                "get": measure(services.api_url, await work.gets(), mode),
                "list": measure(services.api_url, await work.lists(), mode),
            }
        print("relay …", flush=True)
        relay = await relay_rates(services, mode.relay_messages, mode.runs)
        print("end to end …", flush=True)
        e2e = await e2e_latencies(services, mode.samples)
    finally:
        await services.stop()
    small, large = (str(s) for s in mode.growth)
    results["scenarios"] = {
        "create": {
            "ours": create,
            "floor": floor_insert,
            "ratio": ratio(create["rps"], floor_insert["rps"]),
            "target": ">= 0.7",
        },
        "create_p99_at_half_rate": {"ours": create_half, "target_ms": 25},
        "callback_apply": {
            "ours": callbacks,
            "floor": floor_update,
            "ratio": ratio(callbacks["rps"], floor_update["rps"]),
            "target": ">= 0.7",
        },
        "get_by_id": {"ours": get_by_id},
        "list_first_page": {"ours": list_page},
        "growth": {
            **growth,
            "get_ratio": ratio(growth[large]["get"]["p50_ms"], growth[small]["get"]["p50_ms"]),
            "list_ratio": ratio(growth[large]["list"]["p50_ms"], growth[small]["list"]["p50_ms"]),
            "target": "<= 1.3",
        },
        "relay": {
            **relay,
            "ratio": ratio(relay["relay_per_second"], relay["bare_per_second"]),
            "target": ">= 0.7",
        },
        "end_to_end": {
            **e2e,
            "targets_ms": {"callback_to_sse_p99": 50, "create_to_queue_p99": 100},
        },
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument(
        "--smoke", action="store_true", help="seconds, not minutes: keeps the harness working"
    )
    args = parser.parse_args(argv)
    mode = SMOKE if args.smoke else FULL
    started = time.monotonic()
    results = asyncio.run(main_async(mode))
    results["seconds"] = round(time.monotonic() - started, 1)
    out = ROOT / "bench" / "results" / f"{mode.name}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out.relative_to(ROOT)}")
    if mode is FULL:
        from .report import write_report

        write_report(results, ROOT / "docs" / "PERFORMANCE.md", out.relative_to(ROOT))
        print("report: docs/PERFORMANCE.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fault scenarios of issue 8 that the suite runs so far. Each breaks something in the
middle of load, restores it, and counts what was sent against what arrived."""

import asyncio
import json
import random
import re
import signal
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from bench.flows import SERVE_WORKERS, run_flows
from tests.s3_server import S3Server

from creativeflow.services.aigeneration.infrastructure.simulator.renderer import render_plain
from creativeflow.services.aigeneration.infrastructure.simulator.signing import CallbackSigner

from .harness import (
    CREATE,
    RABBITMQ_URL,
    SETTINGS,
    create_load,
    free_port,
    postgres_restart_immediate,
    queue_request_ids,
    rabbitmq_stopped,
    stack,
    token,
)
from .stalled import hold_stalled_uploads

# REQUEST_BODY_TIMEOUT_SECONDS (10) plus 100,000 declared bytes at 32 KiB/s, and a margin
STALL_BOUND_S = 16.0


@dataclass(frozen=True)
class Mode:
    name: str
    creates: int
    load_seconds: float
    outage_seconds: float
    storm_requests: int


SHORT = Mode("short", creates=300, load_seconds=20, outage_seconds=8, storm_requests=20)
LONG = Mode("long", creates=2000, load_seconds=60, outage_seconds=15, storm_requests=100)


@dataclass
class Row:
    scenario: str
    done: str
    figures: dict[str, Any]
    expected: str
    met: bool


async def _wait_until(check: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.5)
    return bool(await check())


async def _metric(url: str, line_start: str) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)
    )


async def broker_stopped_during_creates(work: Path, mode: Mode) -> Row:
    async with stack("broker", work) as world:
        api = world.serve()
        world.simulator()
        load = asyncio.create_task(create_load([api], mode.creates, mode.load_seconds))
        await asyncio.sleep(mode.load_seconds * 0.25)

        def outage() -> None:
            with rabbitmq_stopped():
                time.sleep(mode.outage_seconds)

        await asyncio.to_thread(outage)
        result = await load
        accepted = result.accepted

        async def all_waiting() -> bool:
            rows = await world.sql(
                "SELECT count(*) AS n FROM generation_requests WHERE id = ANY($1::text[]) AND status = 'awaiting_selection'",
                accepted,
            )
            return int(rows[0]["n"]) == len(accepted)

        await _wait_until(all_waiting, 180)
        applied = await _metric(api, 'aigen_n8n_callbacks_total{kind="samples",outcome="applied"}')
        rows = await world.sql(
            "SELECT id, status, created_at, jobs FROM generation_requests WHERE id = ANY($1::text[])",
            accepted,
        )
        summary = world.stop("simulator")
        stats = dict(re.findall(r"(consumed|distinct_jobs|redelivered|requeued)=(\d+)", summary))
        reached = [r for r in rows if r["status"] == "awaiting_selection"]
        lags = []
        for row in reached:
            job = json.loads(row["jobs"])[-1]
            finished = job["finished_at"]
            if finished:
                from datetime import datetime

                lags.append((datetime.fromisoformat(finished) - row["created_at"]).total_seconds())
        consumed, distinct = int(stats.get("consumed", 0)), int(stats.get("distinct_jobs", 0))
        figures = {
            "created": len(accepted),
            "create_errors": sum(n for s, n in result.statuses.items() if s != 202) + result.errors,
            "jobs_consumed_distinct": distinct,
            "duplicates_delivered": consumed - distinct,
            "duplicates_applied": int(applied) - len(reached),
            "lost": len(accepted) - len(reached),
            "longest_lag_s": round(max(lags, default=0.0), 1),
        }
    met = (
        figures["lost"] == 0
        and figures["duplicates_applied"] == 0
        and figures["jobs_consumed_distinct"] >= figures["created"]
    )
    return Row(
        "1. RabbitMQ stopped during creates",
        f"`rabbitmqctl stop_app` for {mode.outage_seconds:.0f} s, then `start_app`, during {mode.creates} creates over {mode.load_seconds:.0f} s; `aigen simulate-n8n` consuming",
        figures,
        "lost 0, duplicates applied 0",
        met,
    )


async def postgres_restarted_during_creates(work: Path, mode: Mode) -> Row:
    async with stack("postgres", work) as world:
        api = world.serve()
        load = asyncio.create_task(create_load([api], mode.creates, mode.load_seconds / 2))
        await asyncio.sleep(mode.load_seconds / 6)
        await asyncio.to_thread(postgres_restart_immediate)
        result = await load

        async def drained() -> bool:
            try:
                rows = await world.sql(
                    "SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL"
                )
            except Exception:
                return False
            return int(rows[0]["n"]) == 0

        await _wait_until(drained, 60)
        stored = {r["id"] for r in await world.sql("SELECT id FROM generation_requests")}
        with_job = {
            r["request_id"]
            for r in await world.sql(
                "SELECT payload->>'request_id' AS request_id FROM outbox WHERE destination = 'job'"
            )
        }
        published = set(await queue_request_ids(world))
        figures = {
            "answered_202": result.statuses.get(202, 0),
            "answered_503": result.statuses.get(503, 0),
            "answered_500": result.statuses.get(500, 0),
            "connection_errors": result.errors,
            "orphans": len([r for r in result.accepted if r not in stored or r not in with_job]),
            "published_for_rolled_back": len(published - stored),
            "accepted_not_published": len(set(result.accepted) - published),
        }
    met = (
        figures["answered_500"] == 0
        and figures["orphans"] == 0
        and figures["published_for_rolled_back"] == 0
        and figures["accepted_not_published"] == 0
    )
    return Row(
        "2. PostgreSQL restarted with -m immediate",
        f"`pg_ctlcluster … restart -m immediate` during {mode.creates} creates",
        figures,
        "no 500; 0 orphans; nothing published for a rolled-back create",
        met,
    )


async def listen_connection_terminated(work: Path, mode: Mode) -> Row:
    # replica A runs the relay with a 30 s poll; replica B only takes creates, so only A's
    # LISTEN (re-established after pg_terminate_backend) can wake A's relay promptly
    async with stack("listen", work, OUTBOX_POLL_INTERVAL_SECONDS="30") as world:
        world.serve("relay-replica")
        creates = world.serve("api-replica", RUN_OUTBOX_RELAY="false")
        await asyncio.sleep(2)
        database = world.dsn.rsplit("/", 1)[1]
        killed = await world.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
            database,
        )
        await asyncio.sleep(2)  # the listener reconnects after 1 s
        started = time.monotonic()
        result = await create_load([creates], 50, 2)

        async def drained() -> bool:
            rows = await world.sql("SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL")
            return int(rows[0]["n"]) == 0

        ok = await _wait_until(drained, 25)
        seconds = round(time.monotonic() - started, 1)
        listeners = await world.sql(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
            database,
        )
        stuck = await world.sql("SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL")
        published = await queue_request_ids(world)
        figures = {
            "listen_connections_terminated": len(killed),
            "listen_connections_after": int(listeners[0]["n"]),
            "created": len(result.accepted),
            "published": len(published),
            "drained_in_s": seconds if ok else None,
            "stuck_rows": int(stuck[0]["n"]),
        }
    met = figures["stuck_rows"] == 0 and figures["published"] == figures["created"] and ok
    return Row(
        "4. LISTEN connection terminated",
        "`pg_terminate_backend` on the relay replica's LISTEN connection, then 50 creates through another replica (relay poll set to 30 s)",
        figures,
        "relay recovers (drained well before the 30 s poll); stuck rows 0",
        met,
    )


async def callback_storm(work: Path, mode: Mode) -> Row:
    async with stack("storm", work) as world:
        api = world.serve()
        signer = CallbackSigner(SETTINGS.n8n_callback_secret)
        user = "storm-user"
        auth = {"Authorization": f"Bearer {token(user)}"}
        async with httpx.AsyncClient(base_url=api, timeout=20) as client:
            ids = []
            for _ in range(mode.storm_requests):
                ids.append(
                    (
                        await client.post("/api/v1/generation-requests", json=CREATE, headers=auth)
                    ).json()["id"]
                )
            jobs = await _jobs_on_queue(world, len(ids))

            async def send(kind: str, body: dict[str, Any]) -> str:
                text = json.dumps(body)
                response = await client.post(
                    f"/api/v1/n8n-callbacks/{kind}", content=text, headers=signer.headers(text)
                )
                return str(response.json().get("result", response.status_code))

            async def uploaded(job: dict[str, Any]) -> list[str]:
                """n8n's part: an image of the job's size at each of its upload targets."""
                data = render_plain(job["job_id"], job["width"], job["height"])
                for target in job["outputs"]:
                    put = await client.put(target["upload_url"], content=data)
                    assert put.status_code == 204, put.text
                return [target["asset_id"] for target in job["outputs"]]

            def samples(job: dict[str, Any], ids: list[str]) -> dict[str, Any]:
                return {
                    "request_id": job["request_id"],
                    "job_id": job["job_id"],
                    "samples": [{"asset_id": asset_id} for asset_id in ids],
                }

            def error(job: dict[str, Any]) -> dict[str, Any]:
                return {
                    "request_id": job["request_id"],
                    "job_id": job["job_id"],
                    "error_code": "model_error",
                    "error_message": "late",
                    "retryable": True,
                }

            outcomes: list[str] = []
            outputs = {job["request_id"]: await uploaded(job) for job in jobs}
            storm = [
                send("samples", samples(job, outputs[job["request_id"]]))
                for job in jobs
                for _ in range(5)
            ]
            random.shuffle(storm)
            outcomes += await asyncio.gather(*storm)
            outcomes += await asyncio.gather(
                *(send("error", error(job)) for job in jobs)
            )  # late errors for samples
            for request_id in ids:
                await client.post(
                    f"/api/v1/generation-requests/{request_id}/select-sample",
                    json={"selected_sample_id": outputs[request_id][1]},
                    headers=auth,
                )
            finals = await _jobs_on_queue(world, len(ids))
            storm = []
            for job in finals:
                (final_id,) = await uploaded(job)
                final = {
                    "request_id": job["request_id"],
                    "job_id": job["job_id"],
                    "asset": {"asset_id": final_id},
                }
                storm += [send("final", final) for _ in range(5)]
            random.shuffle(storm)
            outcomes += await asyncio.gather(*storm)
            late = [
                send("error", error(job)) for job in finals for _ in range(5)
            ]  # after the final
            outcomes += await asyncio.gather(*late)
        statuses = await world.sql(
            "SELECT status, count(*) AS n FROM generation_requests GROUP BY status"
        )
        refunds = await world.sql("SELECT count(*) AS n FROM outbox WHERE destination = 'refund'")
        to_waiting = await _metric(
            api,
            'aigen_status_transitions_total{from_status="processing_samples",to_status="awaiting_selection"}',
        )
        to_done = await _metric(
            api,
            'aigen_status_transitions_total{from_status="processing_final",to_status="completed"}',
        )
        to_failed = await _metric(
            api, 'aigen_status_transitions_total{from_status="processing_final",to_status="failed"}'
        )
        figures = {
            "requests": len(ids),
            "callbacks_sent": len(outcomes),
            "applied": outcomes.count("applied"),
            "duplicate": outcomes.count("duplicate"),
            "ignored": outcomes.count("ignored"),
            "samples_transitions": int(to_waiting),
            "final_transitions": int(to_done + to_failed),
            "refunds": int(refunds[0]["n"]),
            "completed": sum(int(r["n"]) for r in statuses if r["status"] == "completed"),
        }
    n = figures["requests"]
    met = (
        figures["samples_transitions"] == n
        and figures["final_transitions"] == n
        and figures["applied"] == 2 * n
        and figures["completed"] == n
        and figures["refunds"] == 0
    )
    return Row(
        "7. Every callback sent 5 times",
        f"{mode.storm_requests} requests; samples ×5 concurrently and shuffled, then a late error per samples job; final ×5 concurrently and shuffled, then error ×5 after the final",
        figures,
        "one transition per job; every request completed; 0 refunds (late errors ignored)",
        met,
    )


async def _jobs_on_queue(world: Any, count: int, within: float = 30) -> list[dict[str, Any]]:
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    jobs: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(world.queue, passive=True)
        while len(jobs) < count and time.monotonic() < deadline:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            jobs.append(json.loads(message.body))
    return jobs


SCENARIOS = [
    broker_stopped_during_creates,
    postgres_restarted_during_creates,
    listen_connection_terminated,
    callback_storm,
]


async def replicas_share_one_database(work: Path, mode: Mode) -> Row:
    figures: dict[str, Any] = {}
    ok = True
    for count in (2, 4):
        async with stack(f"replicas{count}", work) as world:
            urls = [world.serve(f"replica-{n}") for n in range(count)]
            result = await create_load(urls, mode.storm_requests * 5, 5)
            jobs = await _jobs_on_queue(world, len(result.accepted))
            await asyncio.sleep(2)
            # anything published twice would be left on the queue now
            extra = [j["job_id"] for j in await _jobs_on_queue(world, 10**6, within=2)]
            signer = CallbackSigner(SETTINGS.n8n_callback_secret)
            async with httpx.AsyncClient(timeout=20) as client:
                outcomes = [
                    o for job in jobs for o in await _samples_to_all(client, urls, signer, job)
                ]
            waiting = await world.sql(
                "SELECT count(*) AS n FROM generation_requests WHERE status = 'awaiting_selection'"
            )
            published = [j["job_id"] for j in jobs] + extra
            figures[f"{count}_replicas"] = {
                "created": len(result.accepted),
                "published": len(published),
                "published_twice": len(published) - len(set(published)),
                "callbacks": len(outcomes),
                "applied": outcomes.count("applied"),
                "awaiting_selection": int(waiting[0]["n"]),
            }
            f = figures[f"{count}_replicas"]
            ok = (
                ok
                and f["published_twice"] == 0
                and f["published"] == f["created"]
                and f["applied"] == f["created"] == f["awaiting_selection"]
            )
    return Row(
        "5. Two and four replicas on one database",
        f"{mode.storm_requests * 5} creates round-robin over 2, then 4 `aigen serve` processes (each with its relay); every samples callback sent to every replica at once",
        figures,
        "every outbox row published once; each callback applied once",
        ok,
    )


async def _samples_to_all(
    client: httpx.AsyncClient, urls: list[str], signer: CallbackSigner, job: dict[str, Any]
) -> list[str]:
    """The job's images at its upload targets (the replicas share one folder), then the same
    samples callback to every replica at once (signed separately, as retries are)."""
    data = render_plain(job["job_id"], job["width"], job["height"])
    for target in job["outputs"]:
        put = await client.put(target["upload_url"], content=data, headers=target["headers"])
        assert put.status_code == 204, put.text
    samples = [{"asset_id": target["asset_id"]} for target in job["outputs"]]
    body = json.dumps(
        {"request_id": job["request_id"], "job_id": job["job_id"], "samples": samples}
    )
    answers = await asyncio.gather(
        *(
            client.post(
                f"{url}/api/v1/n8n-callbacks/samples", content=body, headers=signer.headers(body)
            )
            for url in urls
        )
    )
    return [a.json()["result"] for a in answers]


async def poison_job(work: Path, mode: Mode) -> Row:
    async with stack(
        "poison",
        work,
        SAMPLE_JOB_DEADLINE_SECONDS="10",
        SWEEP_INTERVAL_SECONDS="1",
        RABBITMQ_JOB_DELIVERY_LIMIT="3",
    ) as world:
        api = world.serve()
        world.simulator()
        user = "poison-user"
        auth = {"Authorization": f"Bearer {token(user)}"}
        async with httpx.AsyncClient(base_url=api, timeout=20) as client:
            body = {**CREATE, "prompt": "[simulate:crash] a job no worker survives"}
            request_id = (
                await client.post("/api/v1/generation-requests", json=body, headers=auth)
            ).json()["id"]

            async def failed() -> bool:
                answer = (
                    await client.get(f"/api/v1/generation-requests/{request_id}", headers=auth)
                ).json()
                return answer["status"] == "failed"

            await _wait_until(failed, 60)
            request = (
                await client.get(f"/api/v1/generation-requests/{request_id}", headers=auth)
            ).json()
        await asyncio.sleep(3)  # the refund row's delivery
        summary = world.stop("simulator")
        refunds = await world.sql(
            "SELECT count(*) AS n FROM credit_ledger_entries WHERE kind = 'refund'"
        )
        dead_letters = await _count_queue(f"{world.queue}.dead")
        stats = dict(re.findall(r"(consumed|requeued)=(\d+)", summary))
        figures = {
            "status": request["status"],
            "error_code": request["error_code"],
            "deliveries_to_the_worker": int(stats.get("consumed", 0)),
            "requeued": int(stats.get("requeued", 0)),
            "dead_lettered": dead_letters,
            "refunds": int(refunds[0]["n"]),
        }
    met = (
        figures["status"] == "failed"
        and figures["error_code"] == "timeout"
        and figures["dead_lettered"] == 1
        and figures["refunds"] == 1
    )
    return Row(
        "8. A poison job",
        "a job the worker crashes on every time (`[simulate:crash]`), quorum queue delivery limit 3, sample deadline 10 s",
        figures,
        "dead-lettered once; the request failed by the deadline sweep and refunded exactly once",
        met,
    )


async def _count_queue(name: str) -> int:
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


SCENARIOS = [
    broker_stopped_during_creates,
    postgres_restarted_during_creates,
    listen_connection_terminated,
    replicas_share_one_database,
    callback_storm,
    poison_job,
]


PROCESSING = ("validating_credits", "publishing_to_queue", "processing_samples", "processing_final")


async def _money(world: Any) -> tuple[Decimal, Decimal]:
    """Local ledger: debited and refunded, in credits."""
    rows = await world.sql(
        "SELECT kind, coalesce(sum(amount), 0) AS total FROM credit_ledger_entries GROUP BY kind"
    )
    totals = {r["kind"]: Decimal(r["total"]) / 10_000 for r in rows}
    return totals.get("debit", Decimal(0)), totals.get("refund", Decimal(0))


async def _delivered_price(world: Any) -> Decimal:
    """What the steps that were delivered (or are still in flight) cost."""
    total = Decimal(0)
    for row in await world.sql("SELECT jobs FROM generation_requests"):
        for job in json.loads(row["jobs"]):
            if job["state"] in ("dispatched", "succeeded"):
                total += Decimal(job["price"])
    return total


async def service_killed(work: Path, mode: Mode) -> Row:
    async with stack(
        "sigkill",
        work,
        SAMPLE_JOB_DEADLINE_SECONDS="15",
        SWEEP_INTERVAL_SECONDS="1",
        RECOVERY_GRACE_SECONDS="3",
    ) as world:
        port = free_port()
        api = world.serve("api", port=port)
        world.simulator()
        load = asyncio.create_task(create_load([api], mode.creates, mode.load_seconds / 2))
        await asyncio.sleep(mode.load_seconds / 6)
        world.stop("api", signal.SIGKILL)
        result = await load
        world.serve("api-restarted", port=port)  # the callbacks' URL stays valid

        async def settled() -> bool:
            rows = await world.sql(
                "SELECT count(*) AS n FROM generation_requests WHERE status = ANY($1::text[])",
                list(PROCESSING),
            )
            return int(rows[0]["n"]) == 0

        await _wait_until(settled, 60)
        await asyncio.sleep(3)  # refund rows of the last timeouts
        stuck = await world.sql(
            "SELECT count(*) AS n FROM generation_requests WHERE status = ANY($1::text[]) AND updated_at < now() - interval '20 seconds'",
            list(PROCESSING),
        )
        statuses = {
            r["status"]: int(r["n"])
            for r in await world.sql(
                "SELECT status, count(*) AS n FROM generation_requests GROUP BY status"
            )
        }
        debited, refunded = await _money(world)
        delivered = await _delivered_price(world)
        figures = {
            "accepted": len(result.accepted),
            "refused_while_down": result.errors,
            "statuses": statuses,
            "stuck_past_deadline": int(stuck[0]["n"]),
            "debits_minus_refunds": str(debited - refunded),
            "price_of_delivered_steps": str(delivered),
        }
    met = figures["stuck_past_deadline"] == 0 and debited - refunded == delivered
    return Row(
        "3. The service killed with SIGKILL mid-load",
        f"SIGKILL of `aigen serve` during {mode.creates} creates, restarted on the same port; simulate-n8n consuming; sample deadline 15 s",
        figures,
        "nothing stuck past its deadline; debits − refunds = price of delivered steps",
        met,
    )


async def credit_service_failing(work: Path, mode: Mode) -> Row:
    from tests.stub_servers import CreditServiceStub

    credits = CreditServiceStub()
    credits.book.starting_balance = Decimal(1_000_000)
    await credits.start()
    credits.behaviour.status, credits.behaviour.failure_rate, credits.behaviour.delay = (
        503,
        0.3,
        0.05,
    )
    try:
        async with stack(
            "credits", work, CREDIT_SERVICE_API_URL=credits.url, CREDIT_SERVICE_TIMEOUT_SECONDS="1"
        ) as world:
            api = world.serve()
            world.simulator()
            count = mode.creates // 2
            body = {**CREATE, "prompt": "[simulate:error] every model run fails"}
            limit = asyncio.Semaphore(50)  # like 50 clients: the rest wait their turn here
            async with httpx.AsyncClient(base_url=api, timeout=20) as client:

                async def create(n: int) -> int:
                    auth = {"Authorization": f"Bearer {token(f'c-{n % 20}')}"}
                    async with limit:
                        try:
                            answer = await client.post(
                                "/api/v1/generation-requests", json=body, headers=auth
                            )
                        except httpx.HTTPError:
                            return 0  # counted as a connection error
                    return answer.status_code

                answers = await asyncio.gather(*(create(n) for n in range(count)))
                await credits.stop()  # down while the refunds of those model errors are due
                await asyncio.sleep(mode.outage_seconds)
                await credits.start()
                credits.behaviour.status = None

            async def drained() -> bool:
                rows = await world.sql(
                    "SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL"
                )
                return int(rows[0]["n"]) == 0

            ok = await _wait_until(drained, 90)
            refund_rows = await world.sql(
                "SELECT count(*) AS n FROM outbox WHERE destination IN ('refund', 'settle')"
            )
        per_key: dict[str, int] = {}
        for kind, call in credits.calls:
            if kind in ("debit", "refund"):
                per_key[call["idempotency_key"]] = per_key.get(call["idempotency_key"], 0) + 1
        debited, refunded = credits.book.total("debit"), credits.book.total("refund")
        figures = {
            "creates": count,
            "answered_202": answers.count(202),
            "answered_503": answers.count(503),
            "other_answers_or_errors": len(answers) - answers.count(202) - answers.count(503),
            "credit_calls_retried": sum(n - 1 for n in per_key.values()),
            "debited": str(debited),
            "refunded": str(refunded),
            "net_charged": str(debited - refunded),
            "refund_and_settle_rows": int(refund_rows[0]["n"]),
            "undelivered_after_recovery": 0 if ok else "some",
        }
    finally:
        await credits.stop()
    # every step failed in the model, or was refused at the credit service: nothing may stay charged
    met = ok and debited == refunded
    return Row(
        "6. The credit service failing 30 %, slow, and down during refunds",
        f"{mode.creates // 2} creates whose model runs all fail; 30 % of credit calls answer 503 after 50 ms; the credit service stopped for {mode.outage_seconds:.0f} s while the refunds are due",
        figures,
        "net charged 0 (no double charge, no double refund); every refund delivered after recovery",
        met,
    )


async def soak(work: Path, mode: Mode) -> Row:
    minutes = 2 if mode is SHORT else 10
    # Plain renders: a real model runs on other hosts; here Pillow's full pictures (≈130 ms of
    # CPU a request) would take the two cores from the service under test. The rate needs 33
    # jobs a second (a samples and a final job per request); 32 at once keep the queue short.
    # a worker process a core, as an operator runs `aigen serve` on a host of its own
    async with stack(
        "soak", work, SIMULATOR_CONCURRENCY="32", SIMULATOR_RENDER_MODE="plain"
    ) as world:
        api = world.serve(workers=SERVE_WORKERS)
        world.simulator()
        memory = [world.rss_mb("api")]
        started = time.monotonic()

        async def sample_memory() -> None:
            while time.monotonic() - started < minutes * 60:
                await asyncio.sleep(15)
                memory.append(world.rss_mb("api"))

        # the client retries a `503 overloaded` after its Retry-After, as the shipped one does:
        # shed requests are counted (shed share), a flow not completed is an error. Beside it,
        # 100 stalled uploads without a token and 20 with one (4 users) are held open throughout
        stalled_tokens = [token(f"staller-{n % 4}") for n in range(20)]
        run, _, stalled = await asyncio.gather(
            run_flows(api, token, rate_per_minute=1000, seconds=minutes * 60),
            sample_memory(),
            hold_stalled_uploads(
                api,
                stalled_tokens,
                unauthenticated=100,
                seconds=minutes * 60,
                bound_s=STALL_BOUND_S,
            ),
        )
    # a leak keeps growing after the warm-up; the caches and pools fill in the first half
    half = len(memory) // 2
    late_growth = memory[-1] - memory[half]
    figures = {
        "minutes": minutes,
        **run.figures(),
        "rss_mb_start_end": f"{memory[0]} → {memory[-1]}",
        "rss_mb_samples": memory,
        "rss_mb_growth_second_half": round(late_growth, 1),
    }
    figures.update(stalled.figures())
    if run.first_error:
        figures["first_error"] = run.first_error
    held_in_bound = stalled.not_closed == 0 and stalled.answers  # every one ended, in time
    met = (
        run.errors == 0
        and run.completed == run.flows
        and late_growth <= 0.05 * memory[0]
        and bool(held_in_bound)
    )
    return Row(
        "9. Soak at 1,000 requests a minute, stalled uploads held open",
        f"{minutes} min of 1,000 creates a minute, each followed to `completed` through simulate-n8n (select, final); a `503 overloaded` is retried after its Retry-After. Throughout, 100 connections without a token and 20 with one (4 users) send `POST /assets` headers, `Content-Length: 100000` and 600 bytes, then stall; each is reopened a second after the service lets it go",
        figures,
        f"errors 0; memory without a growth trend (second half grows < 5 % of the start); every stalled connection answered and closed within {STALL_BOUND_S:.0f} s (401 at once without a token, 429 past a user's uploads, 408 after the body timeout)",
        met,
    )


SCENARIOS.insert(2, service_killed)
SCENARIOS.insert(5, credit_service_failing)
SCENARIOS.append(soak)


async def storage_stopped_mid_flow(work: Path, mode: Mode) -> Row:
    """The asset storage (a real S3-compatible server) goes away for 15 s while samples are
    uploaded and reported. Callbacks whose images cannot be checked are answered 503 with
    Retry-After and applied when sent again; the worker's uploads fail and are retried; every
    request still gets its samples, each applied once, each image recorded once."""
    outage, direct = 15.0, 20
    storage = S3Server(work / "storage-s3" / "data")
    storage.start()
    try:
        async with stack("storage", work, **storage.settings("faults/")) as world:
            api = world.serve()
            signer = CallbackSigner(SETTINGS.n8n_callback_secret)
            auth = {"Authorization": f"Bearer {token('storage-user')}"}
            async with httpx.AsyncClient(base_url=api, timeout=30) as client:
                # n8n's part, by hand for `direct` jobs: uploaded before the outage,
                # reported during it
                for _ in range(direct):
                    await client.post("/api/v1/generation-requests", json=CREATE, headers=auth)
                jobs = await _jobs_on_queue(world, direct)
                bodies = []
                for job in jobs:
                    data = render_plain(job["job_id"], job["width"], job["height"])
                    for target in job["outputs"]:
                        put = await client.put(
                            target["upload_url"], content=data, headers=target["headers"]
                        )
                        assert put.status_code == 200, put.text
                    samples = [{"asset_id": t["asset_id"]} for t in job["outputs"]]
                    body = {"request_id": job["request_id"], "job_id": job["job_id"]}
                    bodies.append(
                        (json.dumps({**body, "samples": samples}), f"msg_{job['job_id']}")
                    )

                async def report() -> list[int]:
                    answers = []
                    for text, message_id in bodies:
                        response = await client.post(
                            "/api/v1/n8n-callbacks/samples",
                            content=text,
                            headers=signer.headers(text, message_id),
                        )
                        answers.append(response.status_code)
                    return answers

                world.simulator()
                load = asyncio.create_task(create_load([api], mode.creates, mode.load_seconds))
                await asyncio.sleep(mode.load_seconds * 0.25)
                storage.stop()
                stopped = time.monotonic()
                during = await report()
                await asyncio.sleep(max(0.0, outage - (time.monotonic() - stopped)))
                storage.start()
                after = await report()
                result = await load
            ids = [*result.accepted, *(job["request_id"] for job in jobs)]

            async def all_waiting() -> bool:
                rows = await world.sql(
                    "SELECT count(*) AS n FROM generation_requests WHERE id = ANY($1::text[]) AND status = 'awaiting_selection'",
                    ids,
                )
                return int(rows[0]["n"]) == len(ids)

            await _wait_until(all_waiting, 240)
            reached = await world.sql(
                "SELECT count(*) AS n FROM generation_requests WHERE id = ANY($1::text[]) AND status = 'awaiting_selection'",
                ids,
            )
            assets = await world.sql(
                "SELECT count(*) AS n, count(DISTINCT id) AS distinct_ids FROM assets WHERE kind = 'sample'"
            )
            applied = await _metric(
                api, 'aigen_n8n_callbacks_total{kind="samples",outcome="applied"}'
            )
            summary = world.stop("simulator")
            stats = dict(
                re.findall(r"(consumed|distinct_jobs|redelivered|requeued)=(\d+)", summary)
            )
            done = int(reached[0]["n"])
            figures = {
                "created": len(ids),
                "callbacks_during_the_outage": len(during),
                "answered_503": during.count(503),
                "sent_again_and_applied": after.count(200),
                "worker_jobs_requeued": int(stats.get("requeued", 0)),
                "reached_awaiting_selection": done,
                "lost": len(ids) - done,
                "applied_twice": int(applied) - done,
                "sample_images_recorded": int(assets[0]["n"]),
                "recorded_twice": int(assets[0]["n"]) - int(assets[0]["distinct_ids"]),
            }
    finally:
        storage.stop()
    met = (
        figures["lost"] == 0
        and figures["applied_twice"] == 0
        and figures["recorded_twice"] == 0
        and figures["answered_503"] == direct
        and figures["sent_again_and_applied"] == direct
        and figures["sample_images_recorded"] == 4 * figures["created"]
    )
    return Row(
        "10. Asset storage stopped mid-flow",
        f"the S3-compatible storage (rclone serve s3) stopped for {outage:.0f} s during {mode.creates} creates over {mode.load_seconds:.0f} s, `aigen simulate-n8n` uploading to presigned URLs and calling back; {direct} samples callbacks sent during the outage for images uploaded before it, then again",
        figures,
        f"{direct} answered 503 then applied; lost 0, applied twice 0, 4 images recorded per request, none twice",
        met,
    )


SCENARIOS.append(storage_stopped_mid_flow)

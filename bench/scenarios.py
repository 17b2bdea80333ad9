"""Scenarios measured in this process: the relay's publish rate against a bare aio-pika loop
publishing the same messages with confirms, and the end-to-end latencies (a samples callback
sent → its SSE event; a create sent → its job on the queue)."""

import asyncio
import json
import statistics
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import asyncpg
import httpx
from httpx_sse import aconnect_sse
from sqlalchemy import insert

from creativeflow.services.aigeneration.core.security import create_dev_token
from creativeflow.services.aigeneration.infrastructure.database.tables import outbox
from creativeflow.services.aigeneration.infrastructure.messaging.outbox_relay import OutboxRelay
from creativeflow.services.aigeneration.infrastructure.messaging.outbox_store import SqlaOutboxStore
from creativeflow.services.aigeneration.infrastructure.messaging.pg_listener import OUTBOX_CHANNEL
from creativeflow.services.aigeneration.infrastructure.messaging.rabbitmq_publisher import (
    RabbitMqPublisher,
)
from creativeflow.services.aigeneration.infrastructure.messaging.rabbitmq_topology import (
    RabbitMqTopology,
    declare,
)
from creativeflow.services.aigeneration.infrastructure.simulator.signing import CallbackSigner

from . import fixtures
from .services import AIGEN, Services, cpu_seconds, free_port

BATCH = 500  # the relay's default batch (OUTBOX_BATCH_SIZE): both sides keep this many in flight


class Tomorrow:
    """The bench relay's clock: rows made available tomorrow are invisible to the service's
    own relay (same database), so only the measured relay delivers them."""

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(days=1)


def topology(services: Services) -> RabbitMqTopology:
    return RabbitMqTopology(
        job_exchange=services.env["RABBITMQ_GENERATION_EXCHANGE"],
        job_queue=services.env["RABBITMQ_N8N_JOB_QUEUE"],
    )


def job_body(n: int) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "job_id": str(uuid.uuid4()),
        "job_type": "samples",
        "request_id": str(uuid.uuid4()),
        "round": 1,
        "user_id": f"user-{n}",
        "project_id": "bench",
        "prompt": "A poster for a summer sale",
        "format": "instagram_post",
        "width": 512,
        "height": 512,
        "num_samples": 4,
        "output_format": "png",
        "model": "sdxl-turbo",
        "callback_urls": {"samples": "http://x/s", "final": "http://x/f", "error": "http://x/e"},
    }


async def _purge(services: Services) -> None:
    connection = await aio_pika.connect(services.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        await declare(channel, topology(services))
        queue = await channel.get_queue(services.env["RABBITMQ_N8N_JOB_QUEUE"])
        await queue.purge()


async def relay_rates(services: Services, messages: int, runs: int) -> dict[str, Any]:
    bodies = [job_body(n) for n in range(messages)]
    relay_rates_, bare_rates = [], []
    for _ in range(runs):
        await _purge(services)
        now = Tomorrow().now()
        rows = [
            {
                "destination": "job",
                "message_key": b["job_id"],
                "payload": b,
                "headers": {"message_id": b["job_id"], "type": "generation.samples"},
                "created_at": now,
                "available_at": now,
            }
            for b in bodies
        ]
        async with services.engine.begin() as connection:
            for start in range(0, len(rows), 2000):
                await connection.execute(insert(outbox), rows[start : start + 2000])
        publisher = RabbitMqPublisher(services.rabbitmq_url, topology(services))
        await publisher.ensure_connected()
        published = 0
        all_published = asyncio.Event()

        async def job(
            row: Any, p: RabbitMqPublisher = publisher, done: asyncio.Event = all_published
        ) -> None:
            nonlocal published
            await p.dispatch(row.payload, row.headers)
            published += 1
            if published == messages:
                done.set()

        relay = OutboxRelay(
            SqlaOutboxStore(services.engine, Tomorrow()), {"job": job}, Tomorrow(), batch_size=BATCH
        )
        started = time.perf_counter()
        running = asyncio.create_task(relay.run())  # as the service runs it
        await all_published.wait()
        relay.stop()
        await running  # returns once the last batch is marked delivered
        relay_rates_.append(messages / (time.perf_counter() - started))
        await publisher.close()

        await _purge(services)
        connection = await aio_pika.connect(services.rabbitmq_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = (await declare(channel, topology(services))).jobs
            started = time.perf_counter()
            for start in range(0, messages, BATCH):
                await asyncio.gather(
                    *(
                        exchange.publish(
                            aio_pika.Message(
                                json.dumps(b).encode(),
                                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                message_id=b["job_id"],
                                content_type="application/json",
                            ),
                            routing_key="generation.job",
                            mandatory=True,
                        )
                        for b in bodies[start : start + BATCH]
                    )
                )
            bare_rates.append(messages / (time.perf_counter() - started))
    await _purge(services)
    return {
        "messages": messages,
        "relay_per_second": round(statistics.median(relay_rates_), 1),
        "bare_per_second": round(statistics.median(bare_rates), 1),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "samples": len(ordered)}


async def e2e_latencies(services: Services, samples: int) -> dict[str, Any]:
    return {
        "create_to_queue": await _create_to_queue(services, samples),
        "callback_to_sse": await _callback_to_sse(services, samples),
    }


async def _create_to_queue(services: Services, samples: int) -> dict[str, float]:
    await _purge(services)
    arrived: dict[str, asyncio.Future[float]] = {}
    connection = await aio_pika.connect(services.rabbitmq_url)
    token = create_dev_token(services.settings, "bench-e2e")
    latencies = []
    async with connection, httpx.AsyncClient(base_url=services.api_url, timeout=10) as http:
        channel = await connection.channel()
        queue = await channel.get_queue(services.env["RABBITMQ_N8N_JOB_QUEUE"])

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            request_id = json.loads(message.body)["request_id"]
            future = arrived.get(request_id)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())
            await message.ack()

        await queue.consume(on_message)
        for _ in range(samples):
            started = time.perf_counter()
            response = await http.post(
                "/api/v1/generation-requests",
                content=fixtures.CREATE_BODY,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            future = arrived.setdefault(
                response.json()["id"], asyncio.get_running_loop().create_future()
            )
            latencies.append((await asyncio.wait_for(future, 10) - started) * 1000)
    return _percentiles(latencies)


async def _callback_to_sse(services: Services, samples: int) -> dict[str, float]:
    user = "bench-sse"
    requests = fixtures.waiting_for_samples(samples, user)
    await fixtures.store(services.engine, requests)
    signer = CallbackSigner(services.settings.n8n_callback_secret)
    auth = {"Authorization": f"Bearer {create_dev_token(services.settings, user)}"}
    latencies = []
    async with httpx.AsyncClient(base_url=services.api_url, timeout=10) as http:
        for request in requests:
            async with aconnect_sse(
                http, "GET", f"/api/v1/generation-requests/{request.id}/events", headers=auth
            ) as source:
                events = source.aiter_sse()
                await anext(events)  # the current state
                body, headers = fixtures.samples_callback(request, signer, services.assets_dir)
                sent = time.perf_counter()
                callback = asyncio.create_task(
                    http.post("/api/v1/n8n-callbacks/samples", content=body, headers=headers)
                )
                await anext(events)
                latencies.append((time.perf_counter() - sent) * 1000)
                assert (await callback).json()["result"] == "applied"
    return _percentiles(latencies)


async def relay_in_processes(services: Services, dsn: str, messages: int) -> dict[str, Any]:
    """The shipped relay as it runs: alone in `aigen worker` (production), and inside `aigen
    serve` (the embedded default), each on a database of its own so no other relay takes rows.
    `messages` job rows are committed at once (and the relay told, as a commit tells it); the
    figure is messages a second until the last is marked delivered, and the process's CPU."""
    results = {}
    for command in ("worker", "serve"):
        await _purge(services)
        env = {**services.env, "DATABASE_URL": dsn, "RUN_SWEEPS": "false"}
        subprocess.run(
            [AIGEN, "migrate"], cwd=services.folder, env=env, check=True, capture_output=True
        )
        args = [AIGEN, command] + (["--port", str(free_port())] if command == "serve" else [])
        log = (services.folder / f"relay-{command}.log").open("wb")
        process = subprocess.Popen(args, cwd=services.folder, env=env, stdout=log, stderr=log)
        connection = await asyncpg.connect(dsn)
        try:
            await _until_listening(connection)
            await connection.execute("TRUNCATE outbox")
            bodies = [job_body(n) for n in range(messages)]
            now = datetime.now(UTC)
            cpu_before = cpu_seconds(process.pid)
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "outbox",
                    columns=[
                        *("destination", "message_key", "payload", "headers"),
                        *("created_at", "available_at", "attempts"),
                    ],
                    records=[
                        (
                            "job",
                            b["job_id"],
                            json.dumps(b),
                            json.dumps({"message_id": b["job_id"], "type": "generation.samples"}),
                            now,
                            now,
                            0,
                        )
                        for b in bodies
                    ],
                )
                await connection.execute(f"SELECT pg_notify('{OUTBOX_CHANNEL}', '')")
            started = time.perf_counter()
            seconds = await _until_delivered(connection) - started
            spent = cpu_seconds(process.pid) - cpu_before
        finally:
            await connection.close()
            process.terminate()
            process.wait(timeout=30)
        results[command] = {
            "per_second": round(messages / seconds, 1),
            "cpu_us_per_message": round(spent / messages * 1e6),
        }
    await _purge(services)
    return {"messages": messages, **results}


async def _until_delivered(connection: asyncpg.Connection) -> float:
    """When the last row was seen delivered (looked at every 50 ms)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if not await connection.fetchval("SELECT count(*) FROM outbox WHERE delivered_at IS NULL"):
            return time.perf_counter()
        await asyncio.sleep(0.05)  # another process does the work
    raise RuntimeError("the relay did not deliver every row in 300 s")


async def _until_listening(connection: asyncpg.Connection) -> None:
    """The process is up once it listens for the outbox's notifications."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        ):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the relay's process did not come up")

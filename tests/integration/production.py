"""A service wired like production: PostgreSQL, RabbitMQ (a topology of its own per test),
and the credit and notification services as stub servers on 127.0.0.1."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika

from creativeflow.services.aigeneration.composition.root import Container, build_container
from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.main import attach, create_app

from ..stub_servers import CreditServiceStub, NotificationServiceStub
from .api_client import ApiDriver


class Broker:
    """A job exchange and queue of this test's own; read back with basic.get."""

    def __init__(self, url: str) -> None:
        self.url = url
        suffix = uuid.uuid4().hex[:8]
        self.exchange = f"test_jobs_{suffix}"
        self.queue = f"test_jobs_q_{suffix}"
        self.events_queue = f"test_events_{suffix}"

    async def drain_jobs(self) -> list[aio_pika.abc.AbstractIncomingMessage]:
        return await self._drain(self.queue)

    async def drain_events(self) -> list[aio_pika.abc.AbstractIncomingMessage]:
        return await self._drain(self.events_queue)

    async def _drain(self, queue_name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
        connection = await aio_pika.connect(self.url)
        messages = []
        async with connection:
            channel = await connection.channel()
            try:
                queue = await channel.get_queue(queue_name)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                return []  # never declared: nothing was ever published to it
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                messages.append(message)
        return messages

    async def listen_to_events(self) -> None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            events = await channel.declare_exchange(
                "generation_events", aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.events_queue, auto_delete=False)
            await queue.bind(events, routing_key="generation.#")

    async def delete(self) -> None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            for queue in (self.queue, f"{self.queue}.dead", self.events_queue):
                await channel.queue_delete(queue)
            for exchange in (self.exchange, f"{self.exchange}.dead"):
                await channel.exchange_delete(exchange)


def job_ids(messages: list[Any]) -> list[str]:
    return [json.loads(m.body)["job_id"] for m in messages]


async def eventually(check: Callable[[], Any], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def production_service(
    database_url: str,
    broker: Broker,
    tmp_path: Path,
    *,
    credits: CreditServiceStub | None = None,
    notifications: NotificationServiceStub | None = None,
    rabbitmq_url: str | None = None,
    background: bool = True,
    **overrides: Any,
) -> AsyncIterator[tuple[ApiDriver, Container]]:
    settings = load_settings(
        _env_file=None,
        DATABASE_URL=database_url,
        RABBITMQ_URL=rabbitmq_url or broker.url,
        RABBITMQ_GENERATION_EXCHANGE=broker.exchange,
        RABBITMQ_N8N_JOB_QUEUE=broker.queue,
        CREDIT_SERVICE_API_URL=credits.url if credits else None,
        NOTIFICATION_SERVICE_API_URL=notifications.url if notifications else None,
        DATA_DIR=tmp_path / "data",
        AUTO_MIGRATE=False,
        LOG_LEVEL="WARNING",
        OUTBOX_MAX_BACKOFF_SECONDS=0.5,
        OUTBOX_POLL_INTERVAL_SECONDS=0.2,
        RUN_SWEEPS=False,
        **overrides,
    )
    app = create_app(settings)
    container = await build_container(settings)
    attach(app, container)
    if background:
        await container.start_background()
    try:
        async with ApiDriver(app, container) as driver:
            yield driver, container
    finally:
        await container.aclose()

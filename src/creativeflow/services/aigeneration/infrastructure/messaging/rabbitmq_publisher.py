"""Publishes job messages and domain events with publisher confirms.

`publish_*` returns only once the broker has confirmed the message, and raises when it was
nacked, returned as unroutable, or the broker cannot be reached: the outbox relay then keeps
the row and retries it. The connection is made on first use and re-made after a loss, so the
service starts and takes requests while the broker is down."""

import asyncio
import logging
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from .rabbitmq_topology import DeclaredTopology, RabbitMqTopology, declare

log = logging.getLogger(__name__)


class RabbitMqPublisher:
    def __init__(self, url: str, topology: RabbitMqTopology) -> None:
        self._url = url
        self._topology = topology
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._declared: DeclaredTopology | None = None
        self._lock = asyncio.Lock()

    async def dispatch(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        """JobDispatcher: a job message to the queue n8n consumes."""
        declared = await self._ready()
        message = aio_pika.Message(
            orjson.dumps(body),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=headers["message_id"],
            correlation_id=headers.get("correlation_id"),
            type=headers.get("type"),
        )
        await declared.jobs.publish(
            message,
            routing_key=self._topology.job_routing_key,
            mandatory=True,  # unroutable = not delivered: keep it in the outbox
        )  # no timer per message: the relay bounds the whole batch with one

    async def publish(self, routing_key: str, event: dict[str, Any]) -> None:
        """EventPublisher: a domain event for whoever listens (Odoo, analytics)."""
        declared = await self._ready()
        message = aio_pika.Message(
            orjson.dumps(event),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            correlation_id=event.get("correlation_id"),
            type=routing_key,
        )
        # no listener bound yet is fine for events: not mandatory
        await declared.events.publish(message, routing_key=routing_key, mandatory=False)

    @property
    def is_connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def ensure_connected(self) -> bool:
        """For readiness: connect now if never connected; False if the broker is unreachable."""
        if self.is_connected:
            return True
        try:
            await self._ready()
        except Exception:
            return False
        return self.is_connected

    async def declare_when_reachable(self, max_delay: float = 30.0) -> None:
        """Background task at startup: declare the exchanges and the job queue as soon as the
        broker answers, so n8n can attach to the queue before the first job is published."""
        delay = 1.0
        while not await self.ensure_connected():
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)

    async def _ready(self) -> DeclaredTopology:
        if self._declared is not None and self._channel is not None and not self._channel.is_closed:
            return self._declared
        async with self._lock:
            if self._declared is None or self._channel is None or self._channel.is_closed:
                await self._connect()
            assert self._declared is not None
            return self._declared

    async def _connect(self) -> None:
        if self._connection is None or self._connection.is_closed:
            self._connection = await aio_pika.connect_robust(self._url, timeout=5)
            log.info("connected to RabbitMQ")
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._declared = await declare(self._channel, self._topology)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

"""The job queue's dead letters (contract §8), read and re-driven by operators.

Reading takes each message without acknowledging it and closes the channel after: the broker
puts every one back, so a look never loses a job. Re-driving publishes the job to the job
exchange again (with publisher confirms) before it acknowledges the dead letter, so a crash
in between leaves a duplicate, which the service answers `duplicate`, never a lost job."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from ...application.ports import DeadLetter
from .rabbitmq_topology import RabbitMqTopology

MAX_SCAN = 10_000  # a dead-letter queue longer than this is an incident of its own


class RabbitMqDeadLetters:
    def __init__(self, url: str, topology: RabbitMqTopology) -> None:
        self._url = url
        self._topology = topology

    async def depth(self) -> int:
        async with self._channel() as channel:
            queue = await channel.declare_queue(self._topology.dead_letter_queue, passive=True)
            return int(queue.declaration_result.message_count or 0)

    async def peek(self, limit: int) -> list[DeadLetter]:
        async with self._channel() as channel:
            queue = await channel.get_queue(self._topology.dead_letter_queue, ensure=True)
            letters: list[DeadLetter] = []
            while len(letters) < limit:
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                letters.append(_letter(message))
            return letters  # closing the channel puts every message back

    async def settle(
        self, job_id: str, redrive: Callable[[DeadLetter], Awaitable[bool]]
    ) -> DeadLetter | None:
        async with self._channel() as channel:
            queue = await channel.get_queue(self._topology.dead_letter_queue, ensure=True)
            for _ in range(MAX_SCAN):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    return None
                if message.message_id != job_id:
                    continue  # put back when the channel closes
                letter = _letter(message)
                if await redrive(letter):
                    jobs = await channel.get_exchange(self._topology.job_exchange, ensure=True)
                    await jobs.publish(_again(message), self._topology.job_routing_key)
                await message.ack()
                return letter
            return None

    @asynccontextmanager
    async def _channel(self) -> AsyncIterator[AbstractChannel]:
        connection = await aio_pika.connect(self._url, timeout=5)
        try:
            yield await connection.channel(publisher_confirms=True)
        finally:
            await connection.close()


def _letter(message: AbstractIncomingMessage) -> DeadLetter:
    recorded: Any = (message.headers or {}).get("x-death")
    deaths: list[Any] = list(recorded) if isinstance(recorded, list) else []
    first = deaths[0] if deaths and isinstance(deaths[0], dict) else {}
    try:
        body = json.loads(message.body)
    except ValueError:
        body = {}
    return DeadLetter(
        job_id=message.message_id or "",
        request_id=body.get("request_id") if isinstance(body, dict) else None,
        job_type=message.type,
        reason=str(first.get("reason")) if first.get("reason") else None,
        deaths=sum(int(d.get("count", 1)) for d in deaths if isinstance(d, dict)) or 1,
    )


def _again(message: AbstractIncomingMessage) -> aio_pika.Message:
    """The job as it was first published (the broker's death records left behind)."""
    headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        type=message.type,
    )

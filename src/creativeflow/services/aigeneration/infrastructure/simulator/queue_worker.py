"""`aigen simulate-n8n`: the simulator as a separate worker on the job queue, as n8n runs.

Manual acks after the callback was accepted, a prefetch window of SIMULATOR_CONCURRENCY, and a
requeue when the service could not be told (the quorum queue's delivery limit then
dead-letters a job that keeps failing). A job delivered twice is rendered once."""

import asyncio
import json
import logging
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from ..messaging.rabbitmq_topology import RabbitMqTopology, declare
from .n8n_simulator import N8nSimulator

log = logging.getLogger(__name__)


@dataclass
class ConsumerStats:
    consumed: int = 0
    redelivered: int = 0
    requeued: int = 0
    job_ids: set[str] = field(default_factory=set)

    def summary(self) -> str:
        return (
            f"simulate-n8n: consumed={self.consumed} distinct_jobs={len(self.job_ids)} "
            f"redelivered={self.redelivered} requeued={self.requeued}"
        )


class RabbitMqJobConsumer:
    def __init__(
        self, url: str, topology: RabbitMqTopology, simulator: N8nSimulator, prefetch: int
    ) -> None:
        self._url = url
        self._topology = topology
        self._simulator = simulator
        self._prefetch = prefetch
        self.stats = ConsumerStats()

    async def run(self, stop: asyncio.Event) -> None:
        connection = await aio_pika.connect_robust(self._url, timeout=10)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            declared = await declare(channel, self._topology)
            await declared.job_queue.consume(self._on_message)
            log.info("consuming %s", self._topology.job_queue)
            await stop.wait()
        finally:
            await connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.stats.consumed += 1
        try:
            job = json.loads(message.body)
            job["correlation_id"] = message.correlation_id
            job_id = str(job["job_id"])
        except (ValueError, KeyError, TypeError):
            log.error("dropping a malformed job message %s", message.message_id)
            await message.reject(requeue=False)  # dead-lettered for a person to look at
            return
        if job_id in self.stats.job_ids or message.redelivered:
            self.stats.redelivered += 1
        self.stats.job_ids.add(job_id)
        try:
            await self._simulator.handle(job)
        except Exception as exc:
            log.warning("job %s not reported, requeued: %s", job_id, exc)
            self.stats.requeued += 1
            await message.nack(requeue=True)
            return
        await message.ack()

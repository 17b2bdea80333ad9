"""Exchanges and queues of contract §2 and §4, declared the same way by every process.

The job queue is a quorum queue with a delivery limit: a job that n8n rejects or crashes on
again and again is dead-lettered instead of looping forever; the deadline sweep then fails
and refunds its request."""

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

EVENTS_EXCHANGE = "generation_events"


@dataclass(frozen=True)
class RabbitMqTopology:
    job_exchange: str = "generation_jobs"
    job_queue: str = "n8n_generation_jobs"
    job_routing_key: str = "generation.job"
    events_exchange: str = EVENTS_EXCHANGE
    queue_type: str = "quorum"  # or "classic"
    delivery_limit: int = 5

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.job_exchange}.dead"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.job_queue}.dead"

    def job_queue_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-queue-type": self.queue_type,
            "x-dead-letter-exchange": self.dead_letter_exchange,
        }
        if self.queue_type == "quorum":
            arguments["x-delivery-limit"] = self.delivery_limit
        return arguments


@dataclass(frozen=True)
class DeclaredTopology:
    jobs: AbstractExchange
    events: AbstractExchange
    job_queue: AbstractQueue


async def declare(channel: AbstractChannel, topology: RabbitMqTopology) -> DeclaredTopology:
    topic = aio_pika.ExchangeType.TOPIC
    jobs = await channel.declare_exchange(topology.job_exchange, topic, durable=True)
    events = await channel.declare_exchange(topology.events_exchange, topic, durable=True)
    dead = await channel.declare_exchange(
        topology.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_queue = await channel.declare_queue(topology.dead_letter_queue, durable=True)
    await dead_queue.bind(dead)
    queue = await channel.declare_queue(
        topology.job_queue, durable=True, arguments=topology.job_queue_arguments()
    )
    await queue.bind(jobs, routing_key=topology.job_routing_key)
    return DeclaredTopology(jobs, events, queue)

"""What /readyz checks and what /metrics shows, built over the adapters for the HTTP API
(which sees only the named checks and the page)."""

import asyncio
import logging

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..api.dependencies import MetricsPage, ReadinessCheck
from ..application.admin.deliveries import AdminDeliveries
from ..application.ports import AssetStorage, Clock
from ..infrastructure.messaging.outbox_relay import OutboxRelay
from ..infrastructure.messaging.rabbitmq_publisher import RabbitMqPublisher
from ..infrastructure.observability.prometheus_metrics import PrometheusMetrics

log = logging.getLogger(__name__)
DEAD_LETTER_TIMEOUT_SECONDS = 1.0


def readiness_checks(
    engine: AsyncEngine,
    storage: AssetStorage,
    publisher: RabbitMqPublisher | None,
    relay: OutboxRelay,
) -> dict[str, ReadinessCheck]:
    """The database and the asset storage answer, the broker is connected (when jobs go
    through it), the outbox relay is not stalled (when this process runs it)."""

    async def database() -> bool:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    async def relay_moving() -> bool | None:
        return not relay.stalled() if relay.running else None

    checks: dict[str, ReadinessCheck] = {"database": database, "storage": storage.check}
    if publisher is not None:
        checks["broker"] = publisher.ensure_connected
    checks["relay"] = relay_moving
    return checks


async def metrics_page(
    metrics: PrometheusMetrics, engine: AsyncEngine, clock: Clock, admin: AdminDeliveries
) -> MetricsPage:
    await metrics.refresh_outbox(engine, clock.now())
    await _refresh_dead_letters(metrics, admin)
    return MetricsPage(generate_latest(metrics.registry), CONTENT_TYPE_LATEST)


async def _refresh_dead_letters(metrics: PrometheusMetrics, admin: AdminDeliveries) -> None:
    """The dead-letter queue's depth, asked within the health checks' bound: a broker that
    does not answer leaves the last figure (its own alert fires on the outbox)."""
    try:
        async with asyncio.timeout(DEAD_LETTER_TIMEOUT_SECONDS):
            depth = await admin.dead_letter_depth()
    except Exception:
        log.warning("dead-letter depth unknown: the broker did not answer")
        return
    if depth is not None:
        metrics.dead_letter_jobs.set(depth)

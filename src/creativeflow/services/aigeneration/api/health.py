"""Liveness, readiness and metrics: outside the versioned API, answered in milliseconds."""

import asyncio
import logging
import time
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import text

from ..core.dependencies import ContainerDep
from .v1.responses import errors

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class HealthRead(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok` while the process serves")


class ReadinessRead(BaseModel):
    status: Literal["ready", "not_ready"] = Field(description="`ready`: send traffic")
    checks: dict[str, bool] = Field(
        description="Each dependency checked: database, storage, broker, relay"
    )


NOT_READY: dict[int | str, dict[str, Any]] = {
    **errors(),
    503: {"model": ReadinessRead, "description": "A dependency is not ready"},
}
CHECK_TIMEOUT_SECONDS = 1.0


@router.get("/healthz", operation_id="getHealth", response_model=HealthRead, responses=errors())
async def healthz() -> dict[str, str]:
    """The process is alive and serving."""
    return {"status": "ok"}


@router.get(
    "/readyz", operation_id="getReadiness", response_model=ReadinessRead, responses=NOT_READY
)
async def readyz(container: ContainerDep) -> JSONResponse:
    """Ready for traffic: the database and the asset storage answer, the broker is connected
    (when configured), and the outbox relay is not stalled."""
    checks: dict[str, Any] = {
        "database": await _database_ok(container),
        "storage": await _storage_ok(container),
    }
    if container.publisher is not None:
        checks["broker"] = await _broker_ok(container)
    if container.relay.running:
        checks["relay"] = not container.relay.stalled()
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(container: ContainerDep) -> Response:
    await container.metrics.refresh_outbox(container.engine, container.clock.now())
    await _refresh_dead_letters(container)
    return Response(generate_latest(container.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _refresh_dead_letters(container: Any) -> None:
    """The dead-letter queue's depth, asked within the health checks' bound: a broker that
    does not answer leaves the last figure (its own alert fires on the outbox)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            depth = await container.admin.dead_letter_depth()
    except Exception:
        log.warning("dead-letter depth unknown: the broker did not answer")
        return
    if depth is not None:
        container.metrics.dead_letter_jobs.set(depth)


async def _database_ok(container: Any) -> bool:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with container.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:  # unreachable, timed out, refused: all "not ready"
        return False
    return time.perf_counter() - started < CHECK_TIMEOUT_SECONDS


async def _storage_ok(container: Any) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return bool(await container.storage.check())
    except TimeoutError:
        return False


async def _broker_ok(container: Any) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return bool(await container.publisher.ensure_connected())
    except TimeoutError:
        return False

"""Liveness, readiness and metrics: outside the versioned API, answered in milliseconds."""

import asyncio
import time
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .dependencies import ReadinessCheck, ServicesDep
from .v1.responses import errors

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
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready for traffic: the database and the asset storage answer, the broker is connected
    (when configured), and the outbox relay is not stalled."""
    names = list(services.readiness)
    results = await asyncio.gather(*(_answered(services.readiness[name]) for name in names))
    checks = {name: ok for name, ok in zip(names, results, strict=True) if ok is not None}
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    page = await services.metrics_page()
    return Response(page.body, media_type=page.media_type)


async def _answered(check: ReadinessCheck) -> bool | None:
    """A check that fails, or does not answer within a second, is "not ready" (a slow
    dependency is one traffic should not wait on)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            ok = await check()
    except Exception:  # unreachable, timed out, refused: all "not ready"
        return False
    return ok if ok is None else bool(ok) and time.perf_counter() - started < CHECK_TIMEOUT_SECONDS

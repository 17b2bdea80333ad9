"""The ASGI app: `creativeflow.services.aigeneration.main:app`."""

import functools
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from .api import health
from .api.load_shedding import Gate, LoadSheddingMiddleware
from .api.middleware import (
    BodyLimits,
    HttpMetricsMiddleware,
    RequestIdMiddleware,
    SecurityMiddleware,
)
from .api.signed_links import SignedLinkCheck
from .api.v1.router import api_router
from .composition.root import Container, build_container
from .core.config import ConfigurationError, Settings, load_settings
from .core.error_handlers import register_error_handlers
from .core.logging_config import setup_logging
from .infrastructure.observability.prometheus_metrics import PrometheusMetrics

log = logging.getLogger(__name__)
CONSOLE = Path(__file__).parent / "api" / "console"
MULTIPART_FRAMING_BYTES = 64 * 1024  # an upload's form around its file: boundaries, fields


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    setup_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await build_container(settings)
        attach(app, container)
        await container.start_background()
        # what start-up built lives as long as the process: out of the collector's sight, so a
        # full collection under load walks only what requests made (docs/PERFORMANCE.md)
        gc.collect()
        gc.freeze()
        log.info(
            "serving with database=%s transport=%s credits=%s notifier=%s",
            container.engine.dialect.name,
            settings.effective_job_transport,
            settings.effective_credit_backend,
            settings.effective_notifier,
        )
        try:
            yield
        finally:
            await container.aclose()

    app = FastAPI(
        title=settings.project_name,
        version="1.0.0",
        openapi_url=f"{settings.api_v1_str}/openapi.json",
        docs_url=f"{settings.api_v1_str}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    register_error_handlers(app)
    _add_middleware(app, settings)
    app.include_router(api_router, prefix=settings.api_v1_str)
    app.mount("/console", StaticFiles(directory=CONSOLE, html=True), name="console")

    app.include_router(health.router)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost last: the request id, admission (shedding), metrics, then the security
    checks and headers, then CORS where configured."""
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "Last-Event-ID",
            ],
            expose_headers=["Location", "X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(
        SecurityMiddleware,
        max_header_bytes=settings.max_header_bytes,
        body=BodyLimits(
            max_bytes=settings.max_request_body_bytes,
            # images are not JSON: uploads and upload targets have their own caps (contract §6)
            max_upload_bytes=settings.max_upload_bytes + MULTIPART_FRAMING_BYTES,
            max_asset_bytes=settings.max_asset_bytes,
            timeout_s=settings.request_body_timeout_seconds,
            min_bytes_per_second=settings.request_body_min_bytes_per_second,
        ),
        api_prefix=settings.api_v1_str,
        docs_prefix=f"{settings.api_v1_str}/docs",
    )
    app.add_middleware(HttpMetricsMiddleware, observe=lambda *args: _observe(app, *args))
    app.add_middleware(
        LoadSheddingMiddleware,
        max_in_flight=settings.max_requests_in_flight,
        api_prefix=settings.api_v1_str,
        retry_after_seconds=settings.overload_retry_after_seconds,
        gate=lambda: _gate(app),
        max_uploads_per_user=settings.max_uploads_per_user,
        on_shed=lambda kind: _shed(app, kind),
    )
    app.add_middleware(RequestIdMiddleware)


def attach(app: FastAPI, container: Container) -> None:
    """Serve `container`: the routes see its ApiServices; the middleware its metrics, and
    admission its token and link checks."""
    app.state.container = container
    app.state.services = container.api
    services = container.api
    app.state.gate = Gate(
        user_of=services.tokens.user_id,
        link_verifies=SignedLinkCheck(services, container.settings.api_v1_str),
    )


def _gate(app: FastAPI) -> Gate | None:
    gate: Gate | None = getattr(app.state, "gate", None)
    return gate


def _observe(app: FastAPI, method: str, route: str, status: int, seconds: float) -> None:
    if (metrics := _metrics(app)) is not None:
        metrics.http_request(method, route, status, seconds)


def _shed(app: FastAPI, kind: str) -> None:
    if (metrics := _metrics(app)) is not None:
        metrics.http_shed(kind)


def _metrics(app: FastAPI) -> PrometheusMetrics | None:
    """The container's metrics once the lifespan has built it (none before, e.g. in a probe)."""
    container = getattr(app.state, "container", None)
    return container.metrics if container is not None else None


@functools.cache
def _app_or_exit() -> FastAPI:
    try:
        return create_app()
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)  # one clear line, no traceback
        raise SystemExit(2) from None


def __getattr__(name: str) -> FastAPI:
    """`main:app` (contract §5), made when a server asks for it, not when the module is
    imported: settings are read in the app factory only (tests import create_app)."""
    if name == "app":
        return _app_or_exit()
    raise AttributeError(name)

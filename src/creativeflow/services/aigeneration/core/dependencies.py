"""The composition root: the one place that knows which adapter serves which port.

`build_container` is called from the app's lifespan (and from `aigen worker`); routers get
what they need through the `Annotated` aliases at the bottom."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from ..application.clock import SystemClock
from ..application.dtos import CallbackUrls, OrchestrationConfig
from ..application.model_selector import ModelSelector
from ..application.orchestration_service import OrchestrationService
from ..application.ports import Clock, CreditGateway, Refund
from ..application.side_effects import EVENT, JOB, NOTIFICATION, REFUND
from ..domain.pricing import PriceList
from ..infrastructure.clients.local_ledger import LocalLedger
from ..infrastructure.clients.log_notifier import LogEventPublisher, LogNotifier
from ..infrastructure.database.db_config import create_engine
from ..infrastructure.database.migrate import upgrade_to_head
from ..infrastructure.messaging.outbox_relay import Deliverer, OutboxRelay
from ..infrastructure.messaging.outbox_store import OutboxRow, SqlaOutboxStore
from ..infrastructure.repositories.sqla_unit_of_work import unit_of_work_factory
from ..infrastructure.simulator.asset_store import LocalAssetStore
from ..infrastructure.simulator.n8n_simulator import (
    InProcessJobDispatcher,
    N8nSimulator,
    SimulatorSettings,
)
from ..infrastructure.simulator.signing import CallbackSigner
from .config import ConfigurationError, CreditBackend, JobTransport, NotifierKind, Settings
from .security import TokenVerifier, Unauthenticated

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    credits: CreditGateway
    service: OrchestrationService
    relay: OutboxRelay
    outbox_store: SqlaOutboxStore
    tokens: TokenVerifier
    callback_webhook: Webhook
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    tasks: list["asyncio.Task[None]"] = field(default_factory=list)

    async def start_background(self) -> None:
        self.tasks = [asyncio.create_task(run()) for run in self.background]

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for close in reversed(self.closers):
            await close()


async def build_container(settings: Settings, *, with_relay: bool | None = None) -> Container:
    clock = SystemClock()
    engine = create_engine(settings.effective_database_url, settings.db_pool_size)
    if settings.should_auto_migrate:
        await upgrade_to_head(engine)

    credits = _credit_gateway(settings, engine, clock)
    config = OrchestrationConfig(
        callback_urls=CallbackUrls(
            samples=f"{settings.callback_base_url}/samples",
            final=f"{settings.callback_base_url}/final",
            error=f"{settings.callback_base_url}/error",
        ),
        model_selector=ModelSelector(
            settings.default_ai_model, enabled=settings.enable_advanced_model_selector
        ),
        prices=PriceList(
            settings.price_sample_round_free,
            settings.price_sample_round_paid,
            settings.price_final_standard_free,
            settings.price_final_standard_paid,
            settings.price_final_high_free,
            settings.price_final_high_paid,
        ),
        sample_deadline=_seconds(settings.sample_job_deadline_seconds),
        final_deadline=_seconds(settings.final_job_deadline_seconds),
        refund_on_system_failure=settings.enable_credit_refund_on_system_failure,
    )
    store = SqlaOutboxStore(engine, clock)
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0))
    deliverers, background = _deliverers(settings, http, credits)
    relay = OutboxRelay(
        store,
        deliverers,
        clock,
        batch_size=settings.outbox_batch_size,
        poll_interval=settings.outbox_poll_interval_seconds,
    )
    uow = unit_of_work_factory(engine, clock, on_commit=relay.wake)
    container = Container(
        settings=settings,
        engine=engine,
        clock=clock,
        credits=credits,
        service=OrchestrationService(uow, credits, clock, config),
        relay=relay,
        outbox_store=store,
        tokens=TokenVerifier(settings),
        callback_webhook=Webhook(settings.n8n_callback_secret),
    )
    if settings.run_outbox_relay if with_relay is None else with_relay:
        container.background.append(relay.run)
    container.background.extend(background)
    container.closers += [http.aclose, engine.dispose]
    return container


def _credit_gateway(settings: Settings, engine: AsyncEngine, clock: Clock) -> CreditGateway:
    backend = settings.effective_credit_backend
    if backend is CreditBackend.LOCAL:
        return LocalLedger(engine, clock, settings.local_ledger_starting_balance)
    raise ConfigurationError(f"configuration error: CREDIT_BACKEND: {backend} is not available yet")


def _deliverers(
    settings: Settings, http: httpx.AsyncClient, credits: CreditGateway
) -> tuple[dict[str, Deliverer], list[Callable[[], Coroutine[Any, Any, None]]]]:
    background: list[Callable[[], Coroutine[Any, Any, None]]] = []
    if settings.effective_job_transport is not JobTransport.IN_PROCESS:
        raise ConfigurationError(
            "configuration error: JOB_TRANSPORT: rabbitmq is not available yet"
        )
    simulator = N8nSimulator(
        http,
        CallbackSigner(settings.n8n_callback_secret),
        LocalAssetStore(settings.assets_dir, settings.public_base_url),
        SimulatorSettings(
            settings.simulator_render_delay_seconds,
            settings.simulator_failure_rate,
            settings.simulator_concurrency,
        ),
    )
    background.append(simulator.run)
    dispatcher = InProcessJobDispatcher(simulator)
    if settings.effective_notifier is not NotifierKind.LOG:
        raise ConfigurationError("configuration error: NOTIFIER: http is not available yet")
    notifier, events = LogNotifier(), LogEventPublisher()

    async def deliver_refund(row: OutboxRow) -> None:
        payload = dict(row.payload)
        await credits.refund(Refund(**{**payload, "amount": Decimal(payload["amount"])}))

    deliverers: dict[str, Deliverer] = {
        JOB: lambda row: dispatcher.dispatch(row.payload, row.headers),
        EVENT: lambda row: events.publish(row.headers["routing_key"], row.payload),
        NOTIFICATION: lambda row: notifier.notify(row.payload),
        REFUND: deliver_refund,
    }
    return deliverers, background


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)


# --- FastAPI dependencies --------------------------------------------------------------------


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_orchestration_service(request: Request) -> OrchestrationService:
    return get_container(request).service


_bearer = HTTPBearer(auto_error=False)


def get_current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated()
    return get_container(request).tokens.user_id(credentials.credentials)


ServiceDep = Annotated[OrchestrationService, Depends(get_orchestration_service)]
CurrentUser = Annotated[str, Depends(get_current_user)]
ContainerDep = Annotated[Container, Depends(get_container)]

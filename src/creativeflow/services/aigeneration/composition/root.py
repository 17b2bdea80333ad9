"""The composition root: builds engines, adapters, the relay and the sweeps in the app's
lifespan (and for `aigen worker`), and what the routes use (ApiServices). Imported by main.py
and the command line alone."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from ..api.dependencies import ApiServices
from ..application.admin.deliveries import AdminDeliveries
from ..application.admin.requests import AdminRequests
from ..application.asset_service import AssetService
from ..application.assets import AssetLinks, OutputCheck
from ..application.chargers import CreditCharger
from ..application.chargers.in_transaction import InTransactionCharger
from ..application.chargers.saga import SagaCharger
from ..application.clock import SystemClock
from ..application.dtos import CallbackUrls, OrchestrationConfig
from ..application.moderation import BlocklistModerator
from ..application.ports import AssetStorage, Clock, CreditGateway, UnitOfWorkFactory
from ..application.requests.creative_moves import CreativeMoves
from ..application.requests.initiate import InitiateGeneration, PreChecks
from ..application.requests.lifecycle import RequestLifecycle
from ..application.requests.reads import RequestReads
from ..application.requests.steps import Ids, StepPlanner
from ..application.results.callbacks import ApplyResults
from ..application.results.job_status import JobStatus
from ..application.status_links import JobStatusLinks
from ..application.unit_of_work import CommitStaging
from ..application.upkeep.sweeper import Sweeper
from ..application.upkeep.sweeps import Sweeps
from ..core.config import Settings
from ..core.security import TokenVerifier
from ..infrastructure.clients.http_errors import new_http_client
from ..infrastructure.clients.local_ledger import LocalLedger
from ..infrastructure.clients.remote_images import HttpRemoteImages
from ..infrastructure.clients.webhook_url_policy import PublicWebhookUrlPolicy
from ..infrastructure.database.db_config import create_engine
from ..infrastructure.database.housekeeping import Housekeeping
from ..infrastructure.database.migrate import upgrade_to_head
from ..infrastructure.messaging.dead_letters import RabbitMqDeadLetters
from ..infrastructure.messaging.outbox_relay import OutboxRelay
from ..infrastructure.messaging.outbox_store import SqlaOutboxStore
from ..infrastructure.messaging.pg_listener import OUTBOX_CHANNEL, PgNotifyListener
from ..infrastructure.messaging.rabbitmq_publisher import RabbitMqPublisher
from ..infrastructure.messaging.status_feed import STATUS_CHANNEL, StatusFeed
from ..infrastructure.observability.prometheus_metrics import (
    InstrumentedCreditGateway,
    PrometheusMetrics,
)
from ..infrastructure.repositories.sqla_idempotency_store import SqlaIdempotencyStore
from ..infrastructure.repositories.sqla_unit_of_work import unit_of_work_factory
from ..infrastructure.storage.upload_cleaner import PillowUploadCleaner
from .adapters import (
    Adapters,
    Closer,
    Task,
    build_adapters,
    build_storage,
    model_selector,
    price_list,
    rabbitmq_topology,
    retry_policies,
    signed_links,
)
from .probes import metrics_page, readiness_checks


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    credits: CreditGateway
    relay: OutboxRelay
    outbox_store: SqlaOutboxStore
    sweeper: Sweeper
    storage: AssetStorage
    api: ApiServices  # what the routes use: the services, links, idempotency, status feed
    metrics: PrometheusMetrics = field(default_factory=PrometheusMetrics)
    publisher: RabbitMqPublisher | None = None
    listener: PgNotifyListener | None = None
    background: list[Task] = field(default_factory=list)
    closers: list[Closer] = field(default_factory=list)
    tasks: dict[Task, "asyncio.Task[None]"] = field(default_factory=dict)

    async def start_background(self) -> None:
        self.tasks = {run: asyncio.create_task(run()) for run in self.background}

    async def aclose(self, grace_seconds: float = 10.0) -> None:
        """Graceful: the relay finishes the batch it is delivering before anything closes."""
        self.relay.stop()
        relay_task = self.tasks.get(self.relay.run)
        if relay_task is not None:
            await asyncio.wait([relay_task], timeout=grace_seconds)
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        for close in reversed(self.closers):
            await close()


@dataclass(frozen=True)
class Foundation:
    """What the use cases are built on: the database and its unit of work, the charger, the
    storage and its links, the outbox and its relay, the metrics."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    adapters: Adapters
    credits: CreditGateway  # the backend itself (not instrumented): `GET /credits` reads it
    metrics: PrometheusMetrics
    store: SqlaOutboxStore
    storage: AssetStorage
    relay: OutboxRelay
    status_feed: StatusFeed
    links: AssetLinks
    config: OrchestrationConfig
    uow: UnitOfWorkFactory
    charger: CreditCharger


async def build_container(
    settings: Settings, *, with_relay: bool | None = None, with_sweeps: bool | None = None
) -> Container:
    base = await _foundation(settings)
    download_http = new_http_client(30.0)
    policy = PublicWebhookUrlPolicy(settings.webhook_allowed_hosts)
    outputs = OutputCheck(
        base.storage, HttpRemoteImages(download_http, policy), settings.max_asset_bytes
    )
    api = _api_services(base, outputs, policy)
    sweeps = Sweeps(base.uow, base.charger, base.clock)
    housekeeping = Housekeeping(
        base.engine,
        base.clock,
        idempotency_ttl=timedelta(hours=settings.idempotency_key_ttl_hours),
        outbox_retention=timedelta(hours=settings.outbox_retention_hours),
    )
    sweeper = Sweeper(
        sweeps,
        settings.sweep_interval_seconds,
        timedelta(seconds=settings.recovery_grace_seconds),
        chores=[housekeeping.purge, *retention_chores(settings, sweeps)],
    )
    container = Container(
        settings=settings,
        engine=base.engine,
        clock=base.clock,
        credits=base.credits,
        relay=base.relay,
        outbox_store=base.store,
        sweeper=sweeper,
        storage=base.storage,
        api=api,
        publisher=base.adapters.publisher,
        metrics=base.metrics,
        background=list(base.adapters.background),
        closers=[*base.adapters.closers, download_http.aclose, base.engine.dispose],
    )
    if base.engine.dialect.name == "postgresql":
        container.listener = _listener(base)
        container.background.append(container.listener.run)
    if settings.run_outbox_relay if with_relay is None else with_relay:
        container.background.append(base.relay.run)
    if settings.run_sweeps if with_sweeps is None else with_sweeps:
        container.background.append(sweeper.run)
    return container


async def _foundation(settings: Settings) -> Foundation:
    clock = SystemClock()
    engine = create_engine(settings.effective_database_url, settings.db_pool_size)
    if settings.should_auto_migrate:
        await upgrade_to_head(engine)
    adapters = build_adapters(settings, engine, clock)
    metrics = PrometheusMetrics()
    raw_credits = adapters.credits
    adapters.credits = InstrumentedCreditGateway(raw_credits, metrics)
    store = SqlaOutboxStore(engine, clock)
    storage = build_storage(settings, clock)
    relay = OutboxRelay(
        store,
        adapters.deliveries(storage).handlers(),
        clock,
        batch_size=settings.outbox_batch_size,
        poll_interval=settings.outbox_poll_interval_seconds,
        max_backoff=timedelta(seconds=settings.outbox_max_backoff_seconds),
        policies=retry_policies(settings),
    )
    status_feed = StatusFeed()
    links = AssetLinks(storage, clock, timedelta(seconds=settings.asset_url_ttl_seconds))
    config = orchestration_config(settings, clock)
    # credits in our own database are charged inside the step's transaction; else the saga
    local = raw_credits if isinstance(raw_credits, LocalLedger) else None
    uow = unit_of_work_factory(
        engine,
        clock,
        CommitStaging(config, links, clock, metrics),
        on_commit=relay.wake,
        on_changed=status_feed.publish,
        ledger=local.book if local is not None else None,
    )
    charger: CreditCharger = (
        InTransactionCharger(uow, clock, config)
        if local is not None
        else SagaCharger(uow, adapters.credits, clock, config)
    )
    return Foundation(
        settings=settings,
        clock=clock,
        engine=engine,
        adapters=adapters,
        credits=raw_credits,
        metrics=metrics,
        store=store,
        storage=storage,
        relay=relay,
        status_feed=status_feed,
        links=links,
        config=config,
        uow=uow,
        charger=charger,
    )


def _api_services(
    base: Foundation, outputs: OutputCheck, policy: PublicWebhookUrlPolicy
) -> ApiServices:
    """Each use case with the ports it uses, and what the routes read besides."""
    settings, uow, clock, config = base.settings, base.uow, base.clock, base.config
    ids = Ids()
    moderator = BlocklistModerator(settings.prompt_blocklist)
    admin_deliveries = AdminDeliveries(uow, base.metrics, base.store, _dead_letters(base))
    assert config.status_links is not None, "orchestration_config gives them"
    return ApiServices(
        settings=settings,
        initiate=InitiateGeneration(
            uow, base.charger, clock, config, ids, PreChecks(moderator, policy), base.metrics
        ),
        moves=CreativeMoves(uow, base.charger, StepPlanner(config, clock, ids), ids, moderator),
        lifecycle=RequestLifecycle(uow, clock),
        reads=RequestReads(uow),
        results=ApplyResults(uow, clock, outputs, base.metrics),
        job_status=JobStatus(uow, config.status_links),
        admin_deliveries=admin_deliveries,
        admin_requests=AdminRequests(uow, base.metrics, clock),
        assets=AssetService(
            uow,
            base.storage,
            base.links,
            signed_links(settings, clock),
            PillowUploadCleaner(),
            clock,
            ids.new_id,
            settings.max_asset_bytes,
            settings.max_upload_bytes,
        ),
        links=base.links,
        prices=config.prices,
        models=config.model_selector,
        credits=base.credits,
        idempotency=SqlaIdempotencyStore(base.engine, clock),
        status_feed=base.status_feed,
        tokens=TokenVerifier(settings),
        callback_webhook=Webhook(settings.n8n_callback_secret),
        metrics=base.metrics,
        readiness=readiness_checks(base.engine, base.storage, base.adapters.publisher, base.relay),
        metrics_page=lambda: metrics_page(base.metrics, base.engine, clock, admin_deliveries),
    )


def _dead_letters(base: Foundation) -> RabbitMqDeadLetters | None:
    """Where RabbitMQ keeps the jobs it dead-lettered; none when jobs go in process."""
    url = base.settings.effective_rabbitmq_url
    if base.adapters.publisher is None or not url:
        return None
    return RabbitMqDeadLetters(url, rabbitmq_topology(base.settings))


def _listener(base: Foundation) -> PgNotifyListener:
    """PostgreSQL's NOTIFY wakes this replica's relay and live status on another's commit."""
    status_feed, relay = base.status_feed, base.relay
    return PgNotifyListener(
        _asyncpg_dsn(base.engine),
        {
            OUTBOX_CHANNEL: lambda _: relay.wake(),
            STATUS_CHANNEL: lambda request_id: (
                status_feed.publish([request_id])
                if request_id
                else status_feed.publish_everything()
            ),
        },
    )


def retention_chores(settings: Settings, sweeps: Sweeps) -> list[Callable[[], Awaitable[int]]]:
    """ASSET_RETENTION_DAYS (and its notice) as chores of the sweep, when set."""
    if settings.asset_retention_days is None:
        return []
    retention = timedelta(days=settings.asset_retention_days)
    chores: list[Callable[[], Awaitable[int]]] = [lambda: sweeps.expire_old_assets(retention)]
    if settings.asset_retention_notice_days is not None:
        notice = timedelta(days=settings.asset_retention_notice_days)
        chores.append(lambda: sweeps.notify_retention(retention, notice))
    return chores


def orchestration_config(settings: Settings, clock: Clock | None = None) -> OrchestrationConfig:
    base = settings.callback_base_url
    signed = signed_links(settings, clock or SystemClock())
    status_links = JobStatusLinks(signed, f"{settings.public_base_url}{settings.api_v1_str}")
    return OrchestrationConfig(
        callback_urls=CallbackUrls(f"{base}/samples", f"{base}/final", f"{base}/error"),
        model_selector=model_selector(settings),
        prices=price_list(settings),
        sample_deadline=timedelta(seconds=settings.sample_job_deadline_seconds),
        final_deadline=timedelta(seconds=settings.final_job_deadline_seconds),
        refund_on_system_failure=settings.enable_credit_refund_on_system_failure,
        max_active_requests=settings.max_active_requests_per_user,
        status_links=status_links,
    )


def _asyncpg_dsn(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

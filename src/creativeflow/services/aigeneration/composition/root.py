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
from ..application.admin import AdminService
from ..application.asset_service import AssetService
from ..application.assets import AssetLinks, OutputCheck
from ..application.chargers import CreditCharger
from ..application.chargers.in_transaction import InTransactionCharger
from ..application.chargers.saga import SagaCharger
from ..application.clock import SystemClock
from ..application.dtos import CallbackUrls, OrchestrationConfig
from ..application.job_status import JobStatusLinks
from ..application.moderation import BlocklistModerator
from ..application.orchestration_service import OrchestrationService, new_id
from ..application.ports import AssetStorage, Clock, CreditGateway
from ..application.sweeper import Sweeper
from ..application.unit_of_work import CommitStaging
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


async def build_container(
    settings: Settings, *, with_relay: bool | None = None, with_sweeps: bool | None = None
) -> Container:
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
    policy = PublicWebhookUrlPolicy(settings.webhook_allowed_hosts)
    download_http = new_http_client(30.0)
    outputs = OutputCheck(
        storage, HttpRemoteImages(download_http, policy), settings.max_asset_bytes
    )
    service = OrchestrationService(
        uow,
        charger,
        clock,
        config,
        outputs,
        moderator=BlocklistModerator(settings.prompt_blocklist),
        webhook_urls=policy,
        metrics=metrics,
    )
    dead_letters = None
    if adapters.publisher is not None and settings.effective_rabbitmq_url:
        # jobs go through RabbitMQ: the jobs it dead-letters are there
        topology = rabbitmq_topology(settings)
        dead_letters = RabbitMqDeadLetters(settings.effective_rabbitmq_url, topology)
    admin = AdminService(uow, metrics, clock, store, dead_letters)
    assets = AssetService(
        uow,
        storage,
        links,
        signed_links(settings, clock),
        PillowUploadCleaner(),
        clock,
        new_id,
        settings.max_asset_bytes,
    )
    housekeeping = Housekeeping(
        engine,
        clock,
        idempotency_ttl=timedelta(hours=settings.idempotency_key_ttl_hours),
        outbox_retention=timedelta(hours=settings.outbox_retention_hours),
    )
    sweeper = Sweeper(
        service,
        settings.sweep_interval_seconds,
        timedelta(seconds=settings.recovery_grace_seconds),
        chores=[housekeeping.purge, *retention_chores(settings, service)],
    )
    api = ApiServices(
        settings=settings,
        service=service,
        admin=admin,
        assets=assets,
        links=links,
        credits=raw_credits,
        idempotency=SqlaIdempotencyStore(engine, clock),
        status_feed=status_feed,
        tokens=TokenVerifier(settings),
        callback_webhook=Webhook(settings.n8n_callback_secret),
        metrics=metrics,
        readiness=readiness_checks(engine, storage, adapters.publisher, relay),
        metrics_page=lambda: metrics_page(metrics, engine, clock, admin),
    )
    container = Container(
        settings=settings,
        engine=engine,
        clock=clock,
        credits=raw_credits,
        relay=relay,
        outbox_store=store,
        sweeper=sweeper,
        storage=storage,
        api=api,
        publisher=adapters.publisher,
        metrics=metrics,
        background=list(adapters.background),
        closers=[*adapters.closers, download_http.aclose, engine.dispose],
    )
    if engine.dialect.name == "postgresql":
        container.listener = PgNotifyListener(
            _asyncpg_dsn(engine),
            {
                OUTBOX_CHANNEL: lambda _: relay.wake(),
                STATUS_CHANNEL: lambda request_id: (
                    status_feed.publish([request_id])
                    if request_id
                    else status_feed.publish_everything()
                ),
            },
        )
        container.background.append(container.listener.run)
    if settings.run_outbox_relay if with_relay is None else with_relay:
        container.background.append(relay.run)
    if settings.run_sweeps if with_sweeps is None else with_sweeps:
        container.background.append(sweeper.run)
    return container


def retention_chores(
    settings: Settings, service: OrchestrationService
) -> list[Callable[[], Awaitable[int]]]:
    """ASSET_RETENTION_DAYS (and its notice) as chores of the sweep, when set."""
    if settings.asset_retention_days is None:
        return []
    retention = timedelta(days=settings.asset_retention_days)
    chores: list[Callable[[], Awaitable[int]]] = [lambda: service.expire_old_assets(retention)]
    if settings.asset_retention_notice_days is not None:
        notice = timedelta(days=settings.asset_retention_notice_days)
        chores.append(lambda: service.notify_retention(retention, notice))
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

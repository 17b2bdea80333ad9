"""Which adapter serves which port, from the settings (contract §5). Used only by the
composition root (composition/root.py)."""

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from ..application.deliveries import Deliveries
from ..application.model_selector import ModelRoute, ModelSelector
from ..application.ports import (
    AssetStorage,
    Clock,
    CreditGateway,
    Destination,
    EventPublisher,
    JobDispatcher,
    Notifier,
)
from ..core import config
from ..core.config import AssetStorageKind, CreditBackend, JobTransport, NotifierKind, Settings
from ..domain.formats import parse_size
from ..domain.models import JobType
from ..domain.pricing import PriceList, SubscriptionTier
from ..infrastructure.clients.credit_service_client import HttpCreditServiceClient
from ..infrastructure.clients.http_errors import new_http_client
from ..infrastructure.clients.local_ledger import LocalLedger
from ..infrastructure.clients.log_notifier import LogEventPublisher, LogNotifier
from ..infrastructure.clients.notification_client import HttpNotificationClient
from ..infrastructure.clients.odoo_adapter_client import OdooCreditGateway, OdooSettings
from ..infrastructure.clients.webhook_sender import WebhookSender
from ..infrastructure.clients.webhook_url_policy import PublicWebhookUrlPolicy
from ..infrastructure.messaging.outbox_relay import RetryPolicy
from ..infrastructure.messaging.rabbitmq_publisher import RabbitMqPublisher
from ..infrastructure.messaging.rabbitmq_topology import RabbitMqTopology
from ..infrastructure.simulator.n8n_simulator import (
    InProcessJobDispatcher,
    N8nSimulator,
    SimulatorSettings,
    new_http_session,
)
from ..infrastructure.simulator.signing import CallbackSigner
from ..infrastructure.storage.object_storage import ObjectAssetStorage, S3Settings, s3_store
from ..infrastructure.storage.signed_links import HmacSignedLinks

Task = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], Awaitable[Any]]


@dataclass
class Adapters:
    credits: CreditGateway
    jobs: JobDispatcher
    events: EventPublisher
    notifier: Notifier
    webhooks: WebhookSender
    publisher: RabbitMqPublisher | None = None
    background: list[Task] = field(default_factory=list)
    closers: list[Closer] = field(default_factory=list)

    def deliveries(self, storage: AssetStorage) -> Deliveries:
        return Deliveries(
            self.jobs, self.events, self.notifier, self.credits, self.webhooks, storage
        )


def build_adapters(settings: Settings, engine: AsyncEngine, clock: Clock) -> Adapters:
    """Each adapter from its settings group (typed as that group: it reads nothing else)."""
    background: list[Task] = []
    closers: list[Closer] = []
    credits = credit_gateway(settings, engine, clock)
    if isinstance(credits, HttpCreditServiceClient | OdooCreditGateway):
        closers.append(credits.aclose)
    notifier, close_notifier = build_notifier(settings)
    if close_notifier is not None:
        closers.append(close_notifier)
    webhooks, close_webhooks = webhook_sender(settings)
    closers.append(close_webhooks)

    publisher: RabbitMqPublisher | None = None
    jobs: JobDispatcher
    events: EventPublisher
    if settings.effective_job_transport is JobTransport.RABBITMQ:
        publisher = rabbitmq_publisher(settings)
        jobs = events = publisher
        background.append(publisher.declare_when_reachable)
        closers.append(publisher.close)
    else:
        session = new_http_session()
        simulator = build_simulator(settings, settings.n8n_callback_secret, session)
        jobs, events = InProcessJobDispatcher(simulator), LogEventPublisher()
        background.append(simulator.run)
        closers.append(session.close)
    return Adapters(credits, jobs, events, notifier, webhooks, publisher, background, closers)


def build_notifier(notifications: config.NotificationSettings) -> tuple[Notifier, Closer | None]:
    if notifications.effective_notifier is not NotifierKind.HTTP:
        return LogNotifier(), None
    assert notifications.notification_service_api_url is not None
    http = new_http_client(notifications.notification_service_timeout_seconds)
    return HttpNotificationClient(http, notifications.notification_service_api_url), http.aclose


def webhook_sender(webhooks: config.WebhookSettings) -> tuple[WebhookSender, Closer]:
    http = httpx.AsyncClient(timeout=httpx.Timeout(webhooks.webhook_timeout_seconds))
    policy = PublicWebhookUrlPolicy(webhooks.webhook_allowed_hosts)
    return WebhookSender(http, webhooks.outbound_webhook_secret, policy), http.aclose


def retry_policies(webhooks: config.WebhookSettings) -> dict[Destination, RetryPolicy]:
    """Webhooks to API users: at least 2 hours of tries, then given up. Everything else
    (jobs, money, notifications) is retried until it is delivered."""
    return {
        Destination.WEBHOOK: RetryPolicy(
            base=timedelta(seconds=webhooks.webhook_retry_base_seconds),
            cap=timedelta(seconds=webhooks.webhook_retry_max_seconds),
            max_attempts=webhooks.webhook_max_attempts,
        )
    }


def rabbitmq_publisher(broker: config.BrokerSettings) -> RabbitMqPublisher:
    assert broker.effective_rabbitmq_url is not None
    return RabbitMqPublisher(broker.effective_rabbitmq_url, rabbitmq_topology(broker))


def rabbitmq_topology(broker: config.BrokerSettings) -> RabbitMqTopology:
    return RabbitMqTopology(
        job_exchange=broker.rabbitmq_generation_exchange,
        job_queue=broker.rabbitmq_n8n_job_queue,
        job_routing_key=broker.rabbitmq_n8n_job_routing_key,
        queue_type=broker.rabbitmq_job_queue_type,
        delivery_limit=broker.rabbitmq_job_delivery_limit,
    )


def build_storage(settings: Settings, clock: Clock) -> AssetStorage:
    if settings.effective_asset_storage is AssetStorageKind.S3:
        return ObjectAssetStorage(s3_store(s3_settings(settings)), clock)
    return ObjectAssetStorage.local(
        settings.assets_dir,
        clock,
        signed_links(settings, clock),
        f"{settings.public_base_url}{settings.api_v1_str}",
    )


def s3_settings(storage: config.StorageSettings) -> S3Settings:
    assert storage.s3_bucket is not None
    return S3Settings(
        bucket=storage.s3_bucket,
        endpoint_url=storage.s3_endpoint_url,
        region=storage.s3_region,
        access_key_id=storage.s3_access_key_id,
        secret_access_key=storage.s3_secret_access_key,
        session_token=storage.s3_session_token,
        key_prefix=storage.s3_key_prefix,
        force_path_style=storage.effective_s3_force_path_style,
    )


def signed_links(security: config.SecuritySettings, clock: Clock) -> HmacSignedLinks:
    return HmacSignedLinks(security.link_signing_key, clock)


def build_simulator(
    simulator: config.SimulatorSettings, callback_secret: str, http: aiohttp.ClientSession
) -> N8nSimulator:
    return N8nSimulator(
        http,
        CallbackSigner(callback_secret),
        SimulatorSettings(
            render_delay_seconds=simulator.simulator_render_delay_seconds,
            failure_rate=simulator.simulator_failure_rate,
            concurrency=simulator.simulator_concurrency,
            render_mode=simulator.simulator_render_mode,
        ),
    )


def price_list(prices: config.PriceSettings) -> PriceList:
    return PriceList(
        prices.price_sample_round_free,
        prices.price_sample_round_paid,
        prices.price_final_standard_free,
        prices.price_final_standard_paid,
        prices.price_final_high_free,
        prices.price_final_high_paid,
    )


def model_selector(settings: config.ModelSettings) -> ModelSelector:
    routes = tuple(
        ModelRoute(
            model=route.model,
            job_type=JobType(route.job_type) if route.job_type else None,
            tiers=frozenset(SubscriptionTier.parse(t) for t in route.tiers)
            if route.tiers
            else None,
            min_long_edge=route.min_long_edge,
            sizes=tuple(parse_size(size) for size in route.sizes),
            name=route.name,
        )
        for route in settings.model_routes
    )
    return ModelSelector(
        settings.default_ai_model,
        routes,
        enabled=settings.enable_advanced_model_selector,
        default_sizes=tuple(parse_size(size) for size in settings.default_ai_model_sizes),
    )


def credit_gateway(
    settings: config.CreditSettings, engine: AsyncEngine, clock: Clock
) -> CreditGateway:
    backend = settings.effective_credit_backend
    if backend is CreditBackend.HTTP:
        assert settings.credit_service_api_url is not None
        http = new_http_client(settings.credit_service_timeout_seconds)
        return HttpCreditServiceClient(http, settings.credit_service_api_url)
    if backend is CreditBackend.ODOO:
        http = new_http_client(settings.credit_service_timeout_seconds)
        return OdooCreditGateway(
            http,
            OdooSettings(
                url=settings.odoo_url or "",
                database=settings.odoo_db or "",
                username=settings.odoo_username or "",
                password=settings.odoo_password or "",
                model=settings.odoo_credit_model,
                balance_method=settings.odoo_balance_method,
                debit_method=settings.odoo_debit_method,
                refund_method=settings.odoo_refund_method,
            ),
        )
    return LocalLedger(engine, clock, settings.local_ledger_starting_balance)

"""The settings groups (contract §5): one class for each part the service configures, each
keeping the seed's variable names. `Settings` (config.py) is all of them; the composition root
hands an adapter its group, typed as that group."""

import hashlib
import hmac
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic_settings import NoDecode

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"  # noqa: S105
DEV_CALLBACK_SECRET = "whsec_ZGV2LW9ubHktbjhuLWNhbGxiYWNrLXNlY3JldC0wMTIzNDU2Nzg5"  # noqa: S105
DEV_WEBHOOK_SECRET = "whsec_ZGV2LW9ubHktb3V0Ym91bmQtd2ViaG9vay1zZWNyZXQtMDEyMzQ1"  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class JobTransport(StrEnum):
    IN_PROCESS = "in_process"
    RABBITMQ = "rabbitmq"


class CreditBackend(StrEnum):
    LOCAL = "local"
    HTTP = "http"
    ODOO = "odoo"


class NotifierKind(StrEnum):
    LOG = "log"
    HTTP = "http"


class AssetStorageKind(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class ModelRouteSetting(BaseModel):
    """One row of MODEL_ROUTES: the first row matching a job picks its model."""

    model: str = Field(min_length=1, max_length=128)
    name: str | None = Field(None, max_length=128)  # shown by GET /models
    job_type: str | None = Field(None, pattern="^(samples|final)$")
    tiers: list[str] | None = None
    min_long_edge: int = Field(0, ge=0)
    sizes: list[Annotated[str, Field(pattern=r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")]] = Field(
        default_factory=list
    )  # what the model accepts, e.g. ["1024x1024", "1536x1024"]; empty: any size


# SDXL renders well only at its training sizes (about a megapixel in set aspects); Turbo at 512.
SDXL_SIZES = [
    "1024x1024", "1152x896", "896x1152", "1216x832", "832x1216",
    "1344x768", "768x1344", "1536x640", "640x1536",
]  # fmt: skip
DEFAULT_MODEL_ROUTES = (
    ModelRouteSetting(model="sdxl-turbo", name="SDXL Turbo", job_type="samples", sizes=["512x512"]),
    ModelRouteSetting(
        model="sdxl-refiner+esrgan-4x",
        name="SDXL refiner with ESRGAN 4x upscaling",
        job_type="final",
        min_long_edge=2049,
        sizes=SDXL_SIZES,
    ),
    ModelRouteSetting(model="sdxl-1.0", name="SDXL 1.0", job_type="final", sizes=SDXL_SIZES),
)


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class _Group(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class DataDirSettings(_Group):
    """Where the embedded parts (SQLite, the local asset folder) keep their files."""

    data_dir: Path = Field(Path("data"), alias="DATA_DIR")


class DatabaseSettings(DataDirSettings):
    """PostgreSQL (DATABASE_URL or the AIGEN_DB_* parts), else SQLite under DATA_DIR."""

    database_url: str | None = Field(None, alias="DATABASE_URL")
    db_host: str | None = Field(None, alias="AIGEN_DB_HOST")
    db_port: int = Field(5432, alias="AIGEN_DB_PORT")
    db_user: str = Field("postgres", alias="AIGEN_DB_USER")
    db_password: str = Field("", alias="AIGEN_DB_PASSWORD")
    db_name: str = Field("aigen", alias="AIGEN_DB_NAME")
    # near the bound of requests in flight, so an admitted request seldom waits for the pool
    # twice (a read, then its transaction): measured in docs/PERFORMANCE.md
    db_pool_size: int = Field(20, ge=1, le=200, alias="DB_POOL_SIZE")
    auto_migrate: bool | None = Field(None, alias="AUTO_MIGRATE")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return _asyncpg(self.database_url)
        if self.db_host:
            user = quote(self.db_user, safe="")
            password = f":{quote(self.db_password, safe='')}" if self.db_password else ""
            return f"postgresql+asyncpg://{user}{password}@{self.db_host}:{self.db_port}/{self.db_name}"
        return f"sqlite+aiosqlite:///{self.data_dir / 'aigen.db'}"

    @property
    def should_auto_migrate(self) -> bool:
        """The embedded SQLite file migrates itself; PostgreSQL waits for `aigen migrate`."""
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.effective_database_url.startswith("sqlite")


class BrokerSettings(_Group):
    """RabbitMQ, where jobs go to n8n (else the built-in simulator)."""

    rabbitmq_url: str | None = Field(None, alias="RABBITMQ_URL")
    rabbitmq_host: str | None = Field(None, alias="RABBITMQ_HOST")
    rabbitmq_port: int = Field(5672, alias="RABBITMQ_PORT")
    rabbitmq_user: str = Field("guest", alias="RABBITMQ_USER")
    rabbitmq_password: str = Field("guest", alias="RABBITMQ_PASSWORD")
    rabbitmq_vhost: str = Field("/", alias="RABBITMQ_VHOST")
    rabbitmq_generation_exchange: str = Field(
        "generation_jobs", alias="RABBITMQ_GENERATION_EXCHANGE"
    )
    rabbitmq_n8n_job_queue: str = Field("n8n_generation_jobs", alias="RABBITMQ_N8N_JOB_QUEUE")
    rabbitmq_n8n_job_routing_key: str = Field(
        "generation.job", alias="RABBITMQ_N8N_JOB_ROUTING_KEY"
    )
    rabbitmq_job_queue_type: str = Field(
        "quorum", pattern="^(quorum|classic)$", alias="RABBITMQ_JOB_QUEUE_TYPE"
    )
    rabbitmq_job_delivery_limit: int = Field(5, ge=1, le=1000, alias="RABBITMQ_JOB_DELIVERY_LIMIT")
    job_transport: JobTransport | None = Field(None, alias="JOB_TRANSPORT")

    @property
    def effective_rabbitmq_url(self) -> str | None:
        if self.rabbitmq_url:
            return self.rabbitmq_url
        if self.rabbitmq_host:
            user, password = (
                quote(v, safe="") for v in (self.rabbitmq_user, self.rabbitmq_password)
            )
            vhost = quote(self.rabbitmq_vhost, safe="")
            return f"amqp://{user}:{password}@{self.rabbitmq_host}:{self.rabbitmq_port}/{vhost}"
        return None

    @property
    def effective_job_transport(self) -> JobTransport:
        if self.job_transport is not None:
            return self.job_transport
        return JobTransport.RABBITMQ if self.effective_rabbitmq_url else JobTransport.IN_PROCESS


class CreditSettings(_Group):
    """Who keeps the credits: the credit service, Odoo, or the local ledger."""

    credit_service_api_url: str | None = Field(
        None, validation_alias=_env("CREDIT_SERVICE_API_URL", "CREDIT_SERVICE_URL")
    )
    credit_service_timeout_seconds: float = Field(
        5.0, gt=0, le=60, alias="CREDIT_SERVICE_TIMEOUT_SECONDS"
    )
    odoo_url: str | None = Field(None, alias="ODOO_URL")
    odoo_db: str | None = Field(None, alias="ODOO_DB")
    odoo_username: str | None = Field(None, alias="ODOO_USERNAME")
    odoo_password: str | None = Field(None, alias="ODOO_PASSWORD")
    odoo_credit_model: str = Field("creativeflow.credit.account", alias="ODOO_CREDIT_MODEL")
    odoo_balance_method: str = Field("get_balance", alias="ODOO_BALANCE_METHOD")
    odoo_debit_method: str = Field("debit_credits", alias="ODOO_DEBIT_METHOD")
    odoo_refund_method: str = Field("refund_credits", alias="ODOO_REFUND_METHOD")
    credit_backend: CreditBackend | None = Field(None, alias="CREDIT_BACKEND")
    local_ledger_starting_balance: Decimal = Field(
        Decimal(10), ge=0, alias="LOCAL_LEDGER_STARTING_BALANCE"
    )

    @property
    def effective_credit_backend(self) -> CreditBackend:
        if self.credit_backend is not None:
            return self.credit_backend
        if self.credit_service_api_url:
            return CreditBackend.HTTP
        return CreditBackend.ODOO if self.odoo_url else CreditBackend.LOCAL


class NotificationSettings(_Group):
    """The notification service (else notifications are logged)."""

    notification_service_api_url: str | None = Field(
        None, validation_alias=_env("NOTIFICATION_SERVICE_API_URL", "NOTIFICATION_SERVICE_URL")
    )
    notifier: NotifierKind | None = Field(None, alias="NOTIFIER")
    notification_service_timeout_seconds: float = Field(
        5.0, gt=0, le=60, alias="NOTIFICATION_SERVICE_TIMEOUT_SECONDS"
    )

    @property
    def effective_notifier(self) -> NotifierKind:
        if self.notifier is not None:
            return self.notifier
        return NotifierKind.HTTP if self.notification_service_api_url else NotifierKind.LOG


class StorageSettings(DataDirSettings):
    """Where images are kept (an S3-compatible bucket, else a folder under DATA_DIR), their
    links, their sizes and how long they are kept."""

    asset_storage: AssetStorageKind | None = Field(None, alias="ASSET_STORAGE")
    s3_bucket: str | None = Field(None, alias="S3_BUCKET")
    s3_endpoint_url: str | None = Field(
        None, validation_alias=_env("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
    )
    s3_region: str | None = Field(None, validation_alias=_env("S3_REGION", "AWS_REGION"))
    s3_access_key_id: str | None = Field(
        None, validation_alias=_env("S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
    )
    s3_secret_access_key: str | None = Field(
        None, validation_alias=_env("S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
    )
    s3_session_token: str | None = Field(None, alias="AWS_SESSION_TOKEN")
    s3_key_prefix: str = Field("", alias="S3_KEY_PREFIX")
    s3_force_path_style: bool | None = Field(None, alias="S3_FORCE_PATH_STYLE")
    asset_url_ttl_seconds: int = Field(900, ge=1, le=7 * 24 * 3600, alias="ASSET_URL_TTL_SECONDS")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, alias="MAX_UPLOAD_BYTES")
    max_asset_bytes: int = Field(64 * 1024 * 1024, ge=1024, alias="MAX_ASSET_BYTES")
    # images older than this are deleted by a sweep (none: kept for good); the owner is told
    # ASSET_RETENTION_NOTICE_DAYS ahead through the notification service (none: not told)
    asset_retention_days: int | None = Field(None, ge=1, le=36500, alias="ASSET_RETENTION_DAYS")
    asset_retention_notice_days: int | None = Field(
        None, ge=1, le=36500, alias="ASSET_RETENTION_NOTICE_DAYS"
    )

    @property
    def effective_asset_storage(self) -> AssetStorageKind:
        if self.asset_storage is not None:
            return self.asset_storage
        return AssetStorageKind.S3 if self.s3_bucket else AssetStorageKind.LOCAL

    @property
    def effective_s3_force_path_style(self) -> bool:
        if self.s3_force_path_style is not None:
            return self.s3_force_path_style
        return self.s3_endpoint_url is not None  # MinIO, R2, Ceph: path style by default

    @property
    def assets_dir(self) -> Path:
        return self.data_dir / "assets"


class WebhookSettings(_Group):
    """Webhooks to API users: where they may go, how they are signed and retried."""

    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="WEBHOOK_ALLOWED_HOSTS"
    )
    outbound_webhook_secret: str = Field(DEV_WEBHOOK_SECRET, alias="OUTBOUND_WEBHOOK_SECRET")
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60, alias="WEBHOOK_TIMEOUT_SECONDS")
    webhook_retry_base_seconds: float = Field(30.0, gt=0, alias="WEBHOOK_RETRY_BASE_SECONDS")
    webhook_retry_max_seconds: float = Field(3600.0, gt=0, alias="WEBHOOK_RETRY_MAX_SECONDS")
    webhook_max_attempts: int = Field(15, ge=10, alias="WEBHOOK_MAX_ATTEMPTS")


class PriceSettings(_Group):
    """What each step costs, by tier."""

    price_sample_round_free: Decimal = Field(Decimal("0.25"), ge=0, alias="PRICE_SAMPLE_ROUND_FREE")
    price_sample_round_paid: Decimal = Field(Decimal("0"), ge=0, alias="PRICE_SAMPLE_ROUND_PAID")
    price_final_standard_free: Decimal = Field(
        Decimal("1"), ge=0, alias="PRICE_FINAL_STANDARD_FREE"
    )
    price_final_standard_paid: Decimal = Field(
        Decimal("0"), ge=0, alias="PRICE_FINAL_STANDARD_PAID"
    )
    price_final_high_free: Decimal = Field(Decimal("2"), ge=0, alias="PRICE_FINAL_HIGH_FREE")
    price_final_high_paid: Decimal = Field(Decimal("2"), ge=0, alias="PRICE_FINAL_HIGH_PAID")


class OutboxSettings(_Group):
    """The outbox relay and the sweeps."""

    outbox_poll_interval_seconds: float = Field(1.0, gt=0, alias="OUTBOX_POLL_INTERVAL_SECONDS")
    outbox_batch_size: int = Field(500, ge=1, le=5000, alias="OUTBOX_BATCH_SIZE")
    outbox_max_backoff_seconds: float = Field(30.0, gt=0, alias="OUTBOX_MAX_BACKOFF_SECONDS")
    outbox_retention_hours: int = Field(168, ge=1, alias="OUTBOX_RETENTION_HOURS")
    run_outbox_relay: bool = Field(True, alias="RUN_OUTBOX_RELAY")
    run_sweeps: bool = Field(True, alias="RUN_SWEEPS")
    sweep_interval_seconds: float = Field(5.0, gt=0, alias="SWEEP_INTERVAL_SECONDS")
    recovery_grace_seconds: float = Field(60.0, gt=0, alias="RECOVERY_GRACE_SECONDS")
    idempotency_key_ttl_hours: int = Field(24, ge=24, alias="IDEMPOTENCY_KEY_TTL_HOURS")


class SimulatorSettings(_Group):
    """The built-in n8n simulator."""

    simulator_render_delay_seconds: float = Field(0.5, ge=0, alias="SIMULATOR_RENDER_DELAY_SECONDS")
    simulator_failure_rate: float = Field(0.0, ge=0, le=1, alias="SIMULATOR_FAILURE_RATE")
    simulator_concurrency: int = Field(2, ge=1, le=64, alias="SIMULATOR_CONCURRENCY")
    simulator_render_mode: Literal["picture", "plain"] = Field(
        "picture", alias="SIMULATOR_RENDER_MODE"
    )


class SecuritySettings(_Group):
    """Tokens, signatures and the limits on what callers send."""

    n8n_callback_secret: str = Field(DEV_CALLBACK_SECRET, alias="N8N_CALLBACK_SECRET")
    asset_url_signing_key: str | None = Field(None, min_length=32, alias="ASSET_URL_SIGNING_KEY")
    jwt_secret: str = Field(DEV_JWT_SECRET, alias="JWT_SECRET")
    jwt_public_key: str | None = Field(None, alias="JWT_PUBLIC_KEY")
    jwt_jwks_url: str | None = Field(None, alias="JWT_JWKS_URL")
    jwt_jwks_min_refresh_seconds: float = Field(30.0, ge=0, alias="JWT_JWKS_MIN_REFRESH_SECONDS")
    jwt_audience: str | None = Field(None, alias="JWT_AUDIENCE")
    jwt_issuer: str | None = Field(None, alias="JWT_ISSUER")
    jwt_leeway_seconds: int = Field(30, ge=0, le=300, alias="JWT_LEEWAY_SECONDS")
    # the claim that lists a token's roles; `admin` opens the /admin routes (contract §8)
    jwt_roles_claim: str = Field("roles", min_length=1, max_length=64, alias="JWT_ROLES_CLAIM")
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="CORS_ALLOW_ORIGINS"
    )
    max_request_body_bytes: int = Field(256 * 1024, ge=1024, alias="MAX_REQUEST_BODY_BYTES")
    max_header_bytes: int = Field(16 * 1024, ge=1024, alias="MAX_HEADER_BYTES")
    prompt_blocklist: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="PROMPT_BLOCKLIST"
    )

    @property
    def link_signing_key(self) -> bytes:
        """Signs asset links and status URLs: ASSET_URL_SIGNING_KEY, else a key derived from
        N8N_CALLBACK_SECRET (so 1.1 needs no new setting to start)."""
        if self.asset_url_signing_key:
            return self.asset_url_signing_key.encode()
        return hmac.new(self.n8n_callback_secret.encode(), b"asset-links", hashlib.sha256).digest()


class ModelSettings(_Group):
    """Which model renders which job."""

    enable_advanced_model_selector: bool = Field(False, alias="ENABLE_ADVANCED_MODEL_SELECTOR")
    default_ai_model: str = Field("creativeflow-diffusion-v1", alias="DEFAULT_AI_MODEL")
    default_ai_model_sizes: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="DEFAULT_AI_MODEL_SIZES"
    )
    model_routes: list[ModelRouteSetting] = Field(
        default_factory=lambda: list(DEFAULT_MODEL_ROUTES), alias="MODEL_ROUTES"
    )


def _asyncpg(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url

"""Settings from the environment or `.env` (contract §5). The seed's names are all honoured.

One validated class reads them (`Settings`), declared in groups: each group is a class of its
own (database, broker, credits with Odoo, notifications, storage, webhooks, prices, outbox and
sweeps, simulator, security, models), and `Settings` is all of them. The composition root hands
each adapter its group, typed as that group, so an adapter reads only its own settings; where a
choice spans groups (the local store signs its links with the security group's key and serves
them on the public URL), the composition root reads the groups and hands the adapter values."""

import hashlib
import hmac
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ..domain.text import normalized_http_url

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


class Settings(
    DatabaseSettings,
    BrokerSettings,
    CreditSettings,
    NotificationSettings,
    StorageSettings,
    WebhookSettings,
    PriceSettings,
    OutboxSettings,
    SimulatorSettings,
    SecuritySettings,
    ModelSettings,
    BaseSettings,
):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # an empty line in .env means "not set"
        extra="ignore",
        populate_by_name=True,
    )

    project_name: str = Field(
        "CreativeFlow AI Generation Orchestration Service", alias="PROJECT_NAME"
    )
    api_v1_str: str = Field("/api/v1", alias="API_V1_STR")
    environment: Environment = Field(Environment.DEVELOPMENT, alias="ENVIRONMENT")
    public_base_url: str = Field("http://127.0.0.1:8000", alias="PUBLIC_BASE_URL")
    n8n_callback_base_url: str | None = Field(
        None, validation_alias=_env("N8N_CALLBACK_BASE_URL", "N8N_CALLBACK_URL")
    )
    max_active_requests_per_user: int = Field(5, ge=1, alias="MAX_ACTIVE_REQUESTS_PER_USER")
    # requests one process serves at once; a user's request past it is `503 overloaded` at once
    # (a create already at three quarters of it), so admitted requests keep their latency
    max_requests_in_flight: int = Field(32, ge=4, le=10_000, alias="MAX_REQUESTS_IN_FLIGHT")
    overload_retry_after_seconds: int = Field(1, ge=1, le=60, alias="OVERLOAD_RETRY_AFTER_SECONDS")
    # a body waits at most this long for each next piece, and must all be in within this plus
    # its length at the rate below: a stalled or trickling client is answered 408 and let go
    request_body_timeout_seconds: float = Field(
        10.0, gt=0, le=600, alias="REQUEST_BODY_TIMEOUT_SECONDS"
    )
    request_body_min_bytes_per_second: int = Field(
        32 * 1024, ge=1, alias="REQUEST_BODY_MIN_BYTES_PER_SECOND"
    )
    # uploads (POST /assets) one user may send to one process at once; past it `429`
    max_uploads_per_user: int = Field(4, ge=1, le=1000, alias="MAX_UPLOADS_PER_USER")
    # longer than any load balancer's idle timeout (60 s is common): else a request the balancer
    # sends on a connection this server is just closing fails
    http_keep_alive_seconds: int = Field(75, ge=1, le=3600, alias="HTTP_KEEP_ALIVE_SECONDS")
    sse_heartbeat_seconds: float = Field(15.0, gt=0, alias="SSE_HEARTBEAT_SECONDS")
    sse_recheck_seconds: float = Field(10.0, gt=0, alias="SSE_RECHECK_SECONDS")
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_format: str = Field("console", pattern="^(json|console)$", alias="LOG_FORMAT")
    enable_detailed_n8n_error_logging: bool = Field(
        False, alias="ENABLE_DETAILED_N8N_ERROR_LOGGING"
    )
    enable_credit_refund_on_system_failure: bool = Field(
        True, alias="ENABLE_CREDIT_REFUND_ON_SYSTEM_FAILURE"
    )
    sample_job_deadline_seconds: int = Field(120, ge=1, alias="SAMPLE_JOB_DEADLINE_SECONDS")
    final_job_deadline_seconds: int = Field(600, ge=1, alias="FINAL_JOB_DEADLINE_SECONDS")

    @field_validator(
        "public_base_url",
        "n8n_callback_base_url",
        "credit_service_api_url",
        "notification_service_api_url",
        "odoo_url",
        "jwt_jwks_url",
        "s3_endpoint_url",
    )
    @classmethod
    def _clean_url(cls, value: str | None) -> str | None:
        """URLs the service calls or hands on (callback URLs go into every job) are parsed and
        written out again, never copied raw."""
        return None if value is None else normalized_http_url(value).rstrip("/")

    @field_validator(
        "cors_allow_origins",
        "prompt_blocklist",
        "webhook_allowed_hosts",
        "default_ai_model_sizes",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_development_secrets_outside_development(self) -> "Settings":
        if self.environment is not Environment.DEVELOPMENT:
            uses_secret = self.jwt_public_key is None and self.jwt_jwks_url is None
            if uses_secret and (self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32):
                raise ValueError("JWT_SECRET must be set to a secret of at least 32 characters")
            if self.n8n_callback_secret == DEV_CALLBACK_SECRET:
                raise ValueError("N8N_CALLBACK_SECRET must be set outside development")
            if self.outbound_webhook_secret == DEV_WEBHOOK_SECRET:
                raise ValueError("OUTBOUND_WEBHOOK_SECRET must be set outside development")
        return self

    @model_validator(mode="after")
    def _retention_notice_comes_before_the_deletion(self) -> "Settings":
        notice, days = self.asset_retention_notice_days, self.asset_retention_days
        if notice is not None and (days is None or notice >= days):
            raise ValueError(
                "ASSET_RETENTION_NOTICE_DAYS needs ASSET_RETENTION_DAYS, and must be fewer days"
            )
        return self

    @model_validator(mode="after")
    def _chosen_adapters_are_configured(self) -> "Settings":
        if (
            self.effective_job_transport is JobTransport.RABBITMQ
            and not self.effective_rabbitmq_url
        ):
            raise ValueError("JOB_TRANSPORT=rabbitmq needs RABBITMQ_URL or RABBITMQ_HOST")
        backend = self.effective_credit_backend
        if backend is CreditBackend.HTTP and not self.credit_service_api_url:
            raise ValueError("CREDIT_BACKEND=http needs CREDIT_SERVICE_API_URL")
        if backend is CreditBackend.ODOO:
            missing = [
                name
                for name, value in (
                    ("ODOO_URL", self.odoo_url),
                    ("ODOO_DB", self.odoo_db),
                    ("ODOO_USERNAME", self.odoo_username),
                    ("ODOO_PASSWORD", self.odoo_password),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"the Odoo credit backend needs {', '.join(missing)}")
        if self.effective_notifier is NotifierKind.HTTP and not self.notification_service_api_url:
            raise ValueError("NOTIFIER=http needs NOTIFICATION_SERVICE_API_URL")
        if self.effective_asset_storage is AssetStorageKind.S3 and not self.s3_bucket:
            raise ValueError("ASSET_STORAGE=s3 needs S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _no_embedded_part_by_accident_outside_development(self) -> "Settings":
        """A forgotten setting must never turn production into a free fake-image service:
        outside development each embedded part must be chosen explicitly (contract §5)."""
        if self.environment is Environment.DEVELOPMENT:
            return self
        if not (self.database_url or self.db_host):
            raise ValueError(
                "DATABASE_URL must be set outside development (DATABASE_URL=sqlite+aiosqlite:///… "
                "chooses the embedded database)"
            )
        if self.job_transport is None and not self.effective_rabbitmq_url:
            raise ValueError(
                "RABBITMQ_URL must be set outside development "
                "(JOB_TRANSPORT=in_process chooses the built-in simulator)"
            )
        if self.credit_backend is None and not (self.credit_service_api_url or self.odoo_url):
            raise ValueError(
                "CREDIT_SERVICE_API_URL or ODOO_URL must be set outside development "
                "(CREDIT_BACKEND=local chooses the local ledger)"
            )
        if self.asset_storage is None and not self.s3_bucket:
            raise ValueError(
                "S3_BUCKET must be set outside development "
                "(ASSET_STORAGE=local chooses a folder under DATA_DIR)"
            )
        return self

    @property
    def callback_base_url(self) -> str:
        base = (
            self.n8n_callback_base_url or f"{self.public_base_url}{self.api_v1_str}/n8n-callbacks"
        )
        return base.rstrip("/")


def _asyncpg(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class ConfigurationError(Exception):
    """A setting is missing or malformed: the message is one line that names it."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        raise ConfigurationError(f"configuration error: {name}: {error['msg']}") from None

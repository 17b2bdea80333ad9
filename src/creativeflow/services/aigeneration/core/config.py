"""Settings from the environment or `.env` (contract §5). The seed's names are all honoured.

One validated class reads them (`Settings`), declared in groups (settings_groups.py): each
group is a class of its own (database, broker, credits with Odoo, notifications, storage,
webhooks, prices, outbox and sweeps, simulator, security, models), and `Settings` is all of
them. The composition root hands each adapter its group, typed as that group, so an adapter
reads only its own settings; where a choice spans groups (the local store signs its links with
the security group's key and serves them on the public URL), the composition root reads the
groups and hands the adapter values."""

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..domain.text import normalized_http_url
from .settings_groups import (
    DEFAULT_MODEL_ROUTES,
    DEV_CALLBACK_SECRET,
    DEV_JWT_SECRET,
    DEV_WEBHOOK_SECRET,
    SDXL_SIZES,
    AssetStorageKind,
    BrokerSettings,
    CreditBackend,
    CreditSettings,
    DatabaseSettings,
    DataDirSettings,
    Environment,
    JobTransport,
    ModelRouteSetting,
    ModelSettings,
    NotificationSettings,
    NotifierKind,
    OutboxSettings,
    PriceSettings,
    SecuritySettings,
    SimulatorSettings,
    StorageSettings,
    WebhookSettings,
    _env,
)

__all__ = [
    "DEFAULT_MODEL_ROUTES",
    "DEV_CALLBACK_SECRET",
    "DEV_JWT_SECRET",
    "DEV_WEBHOOK_SECRET",
    "SDXL_SIZES",
    "AssetStorageKind",
    "BrokerSettings",
    "ConfigurationError",
    "CreditBackend",
    "CreditSettings",
    "DataDirSettings",
    "DatabaseSettings",
    "Environment",
    "JobTransport",
    "ModelRouteSetting",
    "ModelSettings",
    "NotificationSettings",
    "NotifierKind",
    "OutboxSettings",
    "PriceSettings",
    "SecuritySettings",
    "Settings",
    "SimulatorSettings",
    "StorageSettings",
    "WebhookSettings",
    "load_settings",
]


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


class ConfigurationError(Exception):
    """A setting is missing or malformed: the message is one line that names it."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        raise ConfigurationError(f"configuration error: {name}: {error['msg']}") from None

"""The tables. Plain SQLAlchemy Core: repositories map rows onto the domain's own classes."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from .types import CreditAmount, JsonDocument, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

AutoId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only

generation_requests = Table(
    "generation_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("input_prompt", Text, nullable=False),
    Column("style_guidance", Text),
    Column("input_parameters", JsonDocument, nullable=False),
    Column("sample_round", Integer, nullable=False),
    Column("final_round", Integer, nullable=False),
    Column("sample_asset_infos", JsonDocument, nullable=False),
    Column("selected_sample_id", String(128)),
    Column("final_asset_info", JsonDocument),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("retryable", Boolean),
    Column("credits_cost_sample", CreditAmount),
    Column("credits_cost_final", CreditAmount),
    Column("ai_model_used", String(128)),
    Column("jobs", JsonDocument, nullable=False),
    Column("current_job_id", String(36)),
    Column("deadline_at", UtcDateTime),  # of the job in flight, for the deadline sweep
    Column("correlation_id", String(128)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("assets_expired_at", UtcDateTime),  # its images deleted by the retention sweep
    Column("retention_notice_at", UtcDateTime),  # its owner told they would be
    # the caller's list, newest first, is a keyset walk over this index
    Index("ix_generation_requests_user_created", "user_id", "created_at", "id"),
    Index("ix_generation_requests_status_updated", "status", "updated_at"),
    Index(
        "ix_generation_requests_created_kept",
        "created_at",
        postgresql_where=text("assets_expired_at IS NULL"),
        sqlite_where=text("assets_expired_at IS NULL"),
    ),
    Index(
        "ix_generation_requests_deadline_at",
        "deadline_at",
        postgresql_where=text("deadline_at IS NOT NULL"),
        sqlite_where=text("deadline_at IS NOT NULL"),
    ),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("destination", String(32), nullable=False),
    Column("message_key", String(255), nullable=False),
    Column("payload", JsonDocument, nullable=False),
    Column("headers", JsonDocument, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("available_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("delivered_at", UtcDateTime),
    Column("dead_at", UtcDateTime),  # given up after its retry policy ran out
    # the relay's claim walks this in its own order and stops after a batch
    Index(
        "ix_outbox_due",
        "available_at",
        "id",
        postgresql_where=text("delivered_at IS NULL AND dead_at IS NULL"),
        sqlite_where=text("delivered_at IS NULL AND dead_at IS NULL"),
    ),
)

credit_accounts = Table(
    "credit_accounts",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("balance", CreditAmount, nullable=False),
    Column("subscription_tier", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

credit_ledger_entries = Table(
    "credit_ledger_entries",
    metadata,
    Column("idempotency_key", String(255), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # debit | refund
    Column("amount", CreditAmount, nullable=False),
    Column("reference", String(255), nullable=False),
    Column("reason", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_credit_ledger_entries_user_id", "user_id"),
)

callback_receipts = Table(
    "callback_receipts",
    metadata,
    Column("webhook_id", String(255), primary_key=True),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_callback_receipts_received_at", "received_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),  # NULL while the first request is in flight
    Column("response_body", JsonDocument),
    Column("location", String(255)),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

assets = Table(
    "assets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("request_id", String(36)),  # none for an upload
    Column("kind", String(16), nullable=False),  # sample | final | input | logo
    Column("storage_key", String(512), nullable=False),
    Column("format", String(8), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("seed", BigInteger),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_assets_user_created", "user_id", "created_at"),
    Index("ix_assets_request_id", "request_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("actor", String(128), nullable=False),  # the admin's token `sub`, or cli:<user>
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),  # a request, job or outbox id
    Column("reason", Text, nullable=False),
    Column("correlation_id", String(128)),  # the X-Request-ID of the call that did it
    Column("details", JsonDocument, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_audit_log_created_at", "created_at"),
    Index("ix_audit_log_target", "target"),
)

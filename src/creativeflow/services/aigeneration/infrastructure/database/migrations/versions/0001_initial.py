"""Generation requests, the outbox and the local credit ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creativeflow.services.aigeneration.infrastructure.database.types import (
    CreditAmount,
    JsonDocument,
    UtcDateTime,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "generation_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("input_prompt", sa.Text, nullable=False),
        sa.Column("style_guidance", sa.Text),
        sa.Column("input_parameters", JsonDocument, nullable=False),
        sa.Column("sample_round", sa.Integer, nullable=False),
        sa.Column("final_round", sa.Integer, nullable=False),
        sa.Column("sample_asset_infos", JsonDocument, nullable=False),
        sa.Column("selected_sample_id", sa.String(128)),
        sa.Column("final_asset_info", JsonDocument),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("retryable", sa.Boolean),
        sa.Column("credits_cost_sample", CreditAmount),
        sa.Column("credits_cost_final", CreditAmount),
        sa.Column("ai_model_used", sa.String(128)),
        sa.Column("jobs", JsonDocument, nullable=False),
        sa.Column("current_job_id", sa.String(36)),
        sa.Column("deadline_at", UtcDateTime),
        sa.Column("correlation_id", sa.String(128)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_generation_requests"),
    )
    op.create_index(
        "ix_generation_requests_user_created",
        "generation_requests",
        ["user_id", "created_at", "id"],
    )
    op.create_index(
        "ix_generation_requests_status_updated", "generation_requests", ["status", "updated_at"]
    )
    op.create_table(
        "outbox",
        sa.Column("id", AutoId, autoincrement=True),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("message_key", sa.String(255), nullable=False),
        sa.Column("payload", JsonDocument, nullable=False),
        sa.Column("headers", JsonDocument, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("available_at", UtcDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["available_at"],
        postgresql_where=sa.text("delivered_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL"),
    )
    op.create_table(
        "credit_accounts",
        sa.Column("user_id", sa.String(128)),
        sa.Column("balance", CreditAmount, nullable=False),
        sa.Column("subscription_tier", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_credit_accounts"),
    )
    op.create_table(
        "credit_ledger_entries",
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", CreditAmount, nullable=False),
        sa.Column("reference", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name="pk_credit_ledger_entries"),
    )
    op.create_index("ix_credit_ledger_entries_user_id", "credit_ledger_entries", ["user_id"])


def downgrade() -> None:
    op.drop_table("credit_ledger_entries")
    op.drop_table("credit_accounts")
    op.drop_table("outbox")
    op.drop_table("generation_requests")

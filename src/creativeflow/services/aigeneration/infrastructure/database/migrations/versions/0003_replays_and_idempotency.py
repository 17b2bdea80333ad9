"""Callback receipts (replayed webhook-ids) and Idempotency-Key records.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creativeflow.services.aigeneration.infrastructure.database.types import (
    JsonDocument,
    UtcDateTime,
)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callback_receipts",
        sa.Column("webhook_id", sa.String(255)),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name="pk_callback_receipts"),
    )
    op.create_index("ix_callback_receipts_received_at", "callback_receipts", ["received_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(128)),
        sa.Column("key", sa.String(255)),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response_body", JsonDocument),
        sa.Column("location", sa.String(255)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("callback_receipts")

"""Admin audit log; a request's image retention (when its images expired, when its owner was
told they would).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creativeflow.services.aigeneration.infrastructure.database.types import (
    JsonDocument,
    UtcDateTime,
)

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", AutoId, autoincrement=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("correlation_id", sa.String(128)),
        sa.Column("details", JsonDocument, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    with op.batch_alter_table("generation_requests") as table:
        table.add_column(sa.Column("assets_expired_at", UtcDateTime))
        table.add_column(sa.Column("retention_notice_at", UtcDateTime))
    # the retention sweep walks the requests whose images are kept, oldest first
    op.create_index(
        "ix_generation_requests_created_kept",
        "generation_requests",
        ["created_at"],
        postgresql_where=sa.text("assets_expired_at IS NULL"),
        sqlite_where=sa.text("assets_expired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_generation_requests_created_kept", table_name="generation_requests")
    with op.batch_alter_table("generation_requests") as table:
        table.drop_column("retention_notice_at")
        table.drop_column("assets_expired_at")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_created_at", table_name="audit_log")
    op.drop_table("audit_log")

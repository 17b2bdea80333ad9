"""The relay's claim walks an index in the order it takes rows (due first, then id) and stops
after a batch; the index on `available_at` alone made every claim read and sort the whole
backlog (docs/PERFORMANCE.md).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "delivered_at IS NULL AND dead_at IS NULL"


def upgrade() -> None:
    # A large outbox (delivered rows are kept for their retention) can have the index built
    # CONCURRENTLY before the upgrade, without pausing writes (docs/OPERATIONS.md); then the
    # migration finds it and only drops the old one.
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["available_at", "id"],
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
        if_not_exists=True,
    )
    op.drop_index("ix_outbox_pending", table_name="outbox", if_exists=True)


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["available_at"],
        postgresql_where=sa.text("delivered_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL"),
    )

"""Claiming and settling outbox rows. Claims are leases: several relays (replicas) take
disjoint rows with FOR UPDATE SKIP LOCKED, and a relay that dies mid-delivery loses its
lease, so its rows are delivered again by another (at least once; receivers dedupe)."""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ...application.ports import AuditEntry, Clock, GivenUpDelivery
from ..database.errors import one_statement
from ..database.tables import audit_log, outbox


@dataclass(frozen=True)
class OutboxRow:
    id: int
    destination: str
    key: str
    payload: dict[str, Any]
    headers: dict[str, str]
    attempts: int


class SqlaOutboxStore:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def claim(self, limit: int, lease: timedelta) -> list[OutboxRow]:
        """Lease up to `limit` due rows, the longest due first, in one statement. The index
        `ix_outbox_due` holds pending rows in this order, so a claim reads only its batch
        however long the backlog."""
        now = self._clock.now()
        due = (
            select(outbox.c.id)
            .where(
                outbox.c.delivered_at.is_(None),
                outbox.c.dead_at.is_(None),
                outbox.c.available_at <= now,
            )
            .order_by(outbox.c.available_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        lease_them = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()))
            .values(available_at=now + lease)
            .returning(
                outbox.c.id,
                outbox.c.destination,
                outbox.c.message_key,
                outbox.c.payload,
                outbox.c.headers,
                outbox.c.attempts,
            )
        )
        async with one_statement(self._engine) as connection:
            rows = (await connection.execute(lease_them)).all()
        # in the order they were written, so one request's messages leave in that order
        return sorted(
            (
                OutboxRow(r.id, r.destination, r.message_key, r.payload, r.headers, r.attempts)
                for r in rows
            ),
            key=lambda row: row.id,
        )

    async def mark_delivered(self, ids: list[int]) -> None:
        if not ids:
            return
        async with one_statement(self._engine) as connection:
            await connection.execute(
                update(outbox).where(outbox.c.id.in_(ids)).values(delivered_at=self._clock.now())
            )

    async def reschedule(self, row_id: int, error: str, available_at: datetime) -> None:
        await self._failed(row_id, error, available_at=available_at)

    async def give_up(self, row_id: int, error: str) -> None:
        await self._failed(row_id, error, dead_at=self._clock.now())

    async def _failed(self, row_id: int, error: str, **then: datetime) -> None:
        """Count a failed attempt, keep its error, and set when (or that no more) to try."""
        async with one_statement(self._engine) as connection:
            await connection.execute(
                update(outbox)
                .where(outbox.c.id == row_id)
                .values(attempts=outbox.c.attempts + 1, last_error=error[:2000], **then)
            )

    async def pending_count(self) -> int:
        query = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.delivered_at.is_(None), outbox.c.dead_at.is_(None))
        )
        async with self._engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    # --- what operators do (contract §8: GET /admin/outbox, POST /admin/outbox/{id}/redrive) --

    async def given_up(self, limit: int) -> list[GivenUpDelivery]:
        query = (
            select(
                outbox.c.id,
                outbox.c.destination,
                outbox.c.message_key,
                outbox.c.attempts,
                outbox.c.last_error,
                outbox.c.created_at,
                outbox.c.dead_at,
            )
            .where(outbox.c.dead_at.is_not(None), outbox.c.delivered_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [GivenUpDelivery(*row) for row in rows]

    async def redrive(self, row_id: int, entry: AuditEntry) -> bool:
        now = self._clock.now()
        again = (
            update(outbox)
            .where(
                outbox.c.id == row_id,
                outbox.c.dead_at.is_not(None),
                outbox.c.delivered_at.is_(None),
            )
            .values(dead_at=None, attempts=0, last_error=None, available_at=now)
        )
        async with self._engine.begin() as connection:
            if (await connection.execute(again)).rowcount != 1:
                return False
            await connection.execute(audit_log.insert(), {**asdict(entry), "created_at": now})
        return True

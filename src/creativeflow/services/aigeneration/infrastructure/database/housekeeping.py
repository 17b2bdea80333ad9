"""Forgets what no longer needs remembering: callback receipts past the replay window,
Idempotency-Keys past their time to live, and delivered outbox rows past their retention."""

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from ...application.ports import Clock
from .errors import transaction
from .tables import callback_receipts, idempotency_keys, outbox

# Standard Webhooks refuses timestamps more than 5 minutes off, so an older replay cannot pass
# the signature check anyway; twice that is kept to be safe.
RECEIPT_WINDOW = timedelta(minutes=10)


class Housekeeping:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        idempotency_ttl: timedelta,
        outbox_retention: timedelta,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._idempotency_ttl = idempotency_ttl
        self._outbox_retention = outbox_retention

    async def purge(self) -> int:
        now = self._clock.now()
        async with transaction(self._engine) as connection:
            removed = 0
            for statement in (
                delete(callback_receipts).where(
                    callback_receipts.c.received_at < now - RECEIPT_WINDOW
                ),
                delete(idempotency_keys).where(
                    idempotency_keys.c.created_at < now - self._idempotency_ttl
                ),
                delete(outbox).where(outbox.c.delivered_at < now - self._outbox_retention),
            ):
                removed += (await connection.execute(statement)).rowcount
        return removed

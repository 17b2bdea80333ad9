from sqlalchemy.ext.asyncio import AsyncConnection

from ...application.ports import Clock
from ..database.tables import callback_receipts
from ..database.upsert import insert_ignoring_duplicates


class SqlaCallbackReceipts:
    def __init__(self, connection: AsyncConnection, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock

    async def add(self, webhook_id: str) -> bool:
        """One statement for "seen?" and "note it": a concurrent first receipt of the same id
        makes this one wait for its transaction, then find it there."""
        dialect = self._connection.dialect.name
        added = await self._connection.execute(
            insert_ignoring_duplicates(callback_receipts, dialect),
            {"webhook_id": webhook_id, "received_at": self._clock.now()},
        )
        return added.rowcount == 1

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ...application.ports import Clock
from ..database.tables import callback_receipts


class SqlaCallbackReceipts:
    def __init__(self, connection: AsyncConnection, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock

    async def seen(self, webhook_id: str) -> bool:
        query = select(callback_receipts.c.webhook_id).where(
            callback_receipts.c.webhook_id == webhook_id
        )
        return (await self._connection.scalar(query)) is not None

    async def add(self, webhook_id: str) -> None:
        await self._connection.execute(
            callback_receipts.insert().values(webhook_id=webhook_id, received_at=self._clock.now())
        )

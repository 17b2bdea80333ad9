from ...application.ports import Clock
from ..database.runners import Runner
from ..database.tables import callback_receipts
from ..database.upsert import insert_ignoring_duplicates


class SqlaCallbackReceipts:
    def __init__(self, run: Runner, clock: Clock) -> None:
        self._run = run
        self._clock = clock

    async def add(self, webhook_id: str) -> bool:
        """One statement for "seen?" and "note it": a concurrent first receipt of the same id
        makes this one wait for its transaction, then find it there."""
        added = await self._run.execute(
            insert_ignoring_duplicates(callback_receipts, self._run.dialect_name),
            {"webhook_id": webhook_id, "received_at": self._clock.now()},
        )
        return added == 1

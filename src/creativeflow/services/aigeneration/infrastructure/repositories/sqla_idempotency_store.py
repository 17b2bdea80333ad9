"""Idempotency-Key records in the database, so every replica sees the same keys."""

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ...application.errors import DependencyUnavailable
from ...application.ports import Clock, StoredResponse
from ..database.errors import one_statement, transaction
from ..database.tables import idempotency_keys as t
from ..database.upsert import insert_ignoring_duplicates

# A first request still "in flight" after this long died with its process: let a retry take over.
ABANDONED_AFTER = timedelta(seconds=60)


class SqlaIdempotencyStore:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def begin(self, user_id: str, key: str, request_hash: str) -> StoredResponse | None:
        now = self._clock.now()
        values = {"user_id": user_id, "key": key, "request_hash": request_hash, "created_at": now}
        mine = (t.c.user_id == user_id, t.c.key == key)
        for _ in range(3):  # a key released between our insert and our read is free again
            async with one_statement(self._engine) as connection:  # a new key: the usual case
                inserted = await connection.execute(
                    insert_ignoring_duplicates(t, self._engine.dialect.name), values
                )
                if inserted.rowcount == 1:
                    return None
            async with transaction(self._engine) as connection:
                row = (await connection.execute(select(t).where(*mine).with_for_update())).first()
                if row is None:
                    continue
                if row.status_code is None and row.created_at < now - ABANDONED_AFTER:
                    await connection.execute(
                        update(t).where(*mine).values(request_hash=request_hash, created_at=now)
                    )
                    return None
                return StoredResponse(
                    row.request_hash, row.status_code, row.response_body, row.location
                )
        raise DependencyUnavailable("The Idempotency-Key could not be claimed; try again.")

    async def complete(self, user_id: str, key: str, response: StoredResponse) -> None:
        async with one_statement(self._engine) as connection:
            await connection.execute(
                update(t)
                .where(t.c.user_id == user_id, t.c.key == key)
                .values(
                    status_code=response.status_code,
                    response_body=response.body,
                    location=response.location,
                )
            )

    async def release(self, user_id: str, key: str) -> None:
        async with one_statement(self._engine) as connection:
            await connection.execute(delete(t).where(t.c.user_id == user_id, t.c.key == key))

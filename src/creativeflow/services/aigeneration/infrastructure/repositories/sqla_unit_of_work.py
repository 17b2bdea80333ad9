import contextlib
from collections.abc import Callable
from dataclasses import asdict
from types import TracebackType
from typing import Self

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...application.ports import AuditEntry, Clock, OutboxMessage, TransactionalCredits
from ...application.unit_of_work import CommitStaging, StagingUnitOfWork
from ..database.errors import unavailable
from ..database.tables import audit_log, outbox
from ..messaging.pg_listener import OUTBOX_CHANNEL
from ..messaging.status_feed import STATUS_CHANNEL
from .sqla_asset_repository import DELETE_ASSETS, INSERT_ASSETS, SqlaAssetRepository
from .sqla_generation_request_repository import SqlaGenerationRequestRepository
from .sqla_receipts import SqlaCallbackReceipts

_INSERT_OUTBOX = outbox.insert()
_INSERT_AUDIT = audit_log.insert()
_SENT = select(exists().where(outbox.c.message_key == bindparam("key")))


class PendingOutbox:
    """Collects the transaction's outbox rows; the unit of work inserts them at commit."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.messages: list[OutboxMessage] = []

    def add(self, message: OutboxMessage) -> None:
        self.messages.append(message)

    async def sent(self, key: str) -> bool:
        if any(message.key == key for message in self.messages):
            return True
        return bool(await self._connection.scalar(_SENT, {"key": key}))


class PendingAudit:
    """Collects the transaction's audit entries; the unit of work inserts them at commit."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def add(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class SqlaUnitOfWork(StagingUnitOfWork):
    requests: SqlaGenerationRequestRepository
    outbox: PendingOutbox
    audit: PendingAudit
    receipts: SqlaCallbackReceipts
    assets: SqlaAssetRepository
    ledger: TransactionalCredits | None

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        staging: CommitStaging | None = None,
        on_commit: Callable[[], None] | None = None,
        on_changed: Callable[[list[str]], None] | None = None,
        ledger: Callable[[AsyncConnection], TransactionalCredits] | None = None,
        read_only: bool = False,
    ) -> None:
        super().__init__(staging)
        self._engine = engine
        self._read_only = read_only
        self._ledger_on = ledger
        self._clock = clock
        self._on_commit = on_commit  # the outbox got rows
        self._on_changed = on_changed  # these requests changed
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        try:
            self._connection = await self._engine.connect()
            if self._read_only and self._engine.dialect.name == "postgresql":
                # one statement needs no BEGIN ... ROLLBACK around it: two round trips saved
                await self._connection.execution_options(isolation_level="AUTOCOMMIT")
            await self._connection.begin()
        except Exception as exc:
            await self._close()
            raise (unavailable(exc) or exc) from exc
        self.requests = SqlaGenerationRequestRepository(self._connection)
        self.outbox = PendingOutbox(self._connection)
        self.audit = PendingAudit()
        self.receipts = SqlaCallbackReceipts(self._connection, self._clock)
        self.assets = SqlaAssetRepository(self._connection)
        self.ledger = self._ledger_on(self._connection) if self._ledger_on else None
        return self

    async def _commit(self) -> None:
        assert self._connection is not None
        changed = list(self.requests.seen)
        postgres = self._connection.dialect.name == "postgresql"
        messages = self.outbox.messages
        if postgres and (changed or messages):
            # other replicas' streams and relays hear it once this commits: one round trip
            notify = [func.pg_notify(STATUS_CHANNEL, request_id) for request_id in changed]
            if messages:
                notify.append(func.pg_notify(OUTBOX_CHANNEL, ""))
            await self._connection.execute(select(*notify))
        if messages:
            now = self._clock.now()
            await self._connection.execute(
                _INSERT_OUTBOX,
                [
                    {
                        "destination": m.destination,
                        "message_key": m.key,
                        "payload": m.payload,
                        "headers": m.headers,
                        "created_at": now,
                        "available_at": now,
                    }
                    for m in messages
                ],
            )
        if asset_rows := self.assets.pending_rows():
            await self._connection.execute(INSERT_ASSETS, asset_rows)
        if self.assets.removed:
            await self._connection.execute(DELETE_ASSETS, {"ids": self.assets.removed})
        if self.audit.entries:
            now = self._clock.now()
            rows = [{**asdict(entry), "created_at": now} for entry in self.audit.entries]
            await self._connection.execute(_INSERT_AUDIT, rows)
        await self._connection.commit()
        self.outbox = PendingOutbox(self._connection)
        self.audit = PendingAudit()
        self.assets.pending, self.assets.removed = [], []
        if messages and self._on_commit is not None:
            self._on_commit()
        if changed and self._on_changed is not None:
            self._on_changed(changed)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()  # closing without commit rolls back
        if exc is not None:
            translated = unavailable(exc)
            if translated is not None:
                raise translated from exc

    async def _close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            # a connection that fails to close is gone already: there is nothing left to undo
            with contextlib.suppress(Exception):
                await connection.close()


def unit_of_work_factory(
    engine: AsyncEngine,
    clock: Clock,
    staging: CommitStaging | None = None,
    on_commit: Callable[[], None] | None = None,
    on_changed: Callable[[list[str]], None] | None = None,
    ledger: Callable[[AsyncConnection], TransactionalCredits] | None = None,
) -> Callable[..., SqlaUnitOfWork]:
    def unit_of_work(read_only: bool = False) -> SqlaUnitOfWork:
        return SqlaUnitOfWork(engine, clock, staging, on_commit, on_changed, ledger, read_only)

    return unit_of_work

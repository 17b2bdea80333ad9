import contextlib
from collections.abc import Callable
from dataclasses import asdict
from functools import cache
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Select, bindparam, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...application.errors import DependencyUnavailable
from ...application.ports import AuditEntry, Clock, OutboxMessage, TransactionalCredits
from ...application.unit_of_work import CommitStaging, StagingUnitOfWork
from ..database.errors import unavailable
from ..database.runners import AsyncpgRunner, RawStatement, Runner, SqlaRunner
from ..database.tables import audit_log, outbox
from ..messaging.pg_listener import OUTBOX_CHANNEL
from ..messaging.status_feed import STATUS_CHANNEL
from .sqla_asset_repository import DELETE_ASSETS, INSERT_ASSETS, SqlaAssetRepository
from .sqla_generation_request_repository import SqlaGenerationRequestRepository
from .sqla_receipts import SqlaCallbackReceipts

_INSERT_OUTBOX = outbox.insert()
_INSERT_AUDIT = audit_log.insert()
_SENT = select(exists().where(outbox.c.message_key == bindparam("key")))


@cache
def _notify(requests: int, outbox: bool) -> Select[Any]:
    """One SELECT of every notification a commit sends: the changed requests' ids on the status
    channel, and a wake-up on the outbox channel."""
    calls = [func.pg_notify(literal(STATUS_CHANNEL), bindparam(f"r{n}")) for n in range(requests)]
    if outbox:
        calls.append(func.pg_notify(literal(OUTBOX_CHANNEL), literal("")))
    return select(*calls)


class PendingOutbox:
    """Collects the transaction's outbox rows; the unit of work inserts them at commit."""

    def __init__(self, run: Runner) -> None:
        self._run = run
        self.messages: list[OutboxMessage] = []

    def add(self, message: OutboxMessage) -> None:
        self.messages.append(message)

    async def sent(self, key: str) -> bool:
        if any(message.key == key for message in self.messages):
            return True
        return bool(await self._run.scalar(_SENT, {"key": key}))


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
        ledger: Callable[[Runner], TransactionalCredits] | None = None,
        read_only: bool = False,
        compiled: dict[tuple[Any, ...], RawStatement | None] | None = None,
    ) -> None:
        super().__init__(staging)
        self._engine = engine
        self._read_only = read_only
        self._ledger_on = ledger
        self._clock = clock
        self._on_commit = on_commit  # the outbox got rows
        self._on_changed = on_changed  # these requests changed
        self._connection: AsyncConnection | None = None
        self._run: Runner | None = None
        self._compiled = compiled if compiled is not None else {}

    async def __aenter__(self) -> Self:
        try:
            self._run = await self._runner()
        except Exception as exc:
            await self._close()
            raise (unavailable(exc) or exc) from exc
        self.requests = SqlaGenerationRequestRepository(self._run)
        self.outbox = PendingOutbox(self._run)
        self.audit = PendingAudit()
        self.receipts = SqlaCallbackReceipts(self._run, self._clock)
        self.assets = SqlaAssetRepository(self._run)
        self.ledger = self._ledger_on(self._run) if self._ledger_on else None
        return self

    async def _runner(self) -> Runner:
        self._connection = connection = await self._engine.connect()
        if self._engine.dialect.name != "postgresql":
            await connection.begin()
            return SqlaRunner(connection)
        # PostgreSQL: the statements go to asyncpg directly (database/runners.py), which opens
        # the transaction with the first of them; SQLAlchemy's own BEGIN and COMMIT are off. A
        # read-only unit of work runs its one statement without BEGIN ... ROLLBACK around it.
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        driver = (await connection.get_raw_connection()).driver_connection
        return AsyncpgRunner(connection, driver, self._compiled, transactional=not self._read_only)

    async def _commit(self) -> None:
        run = self._run
        assert run is not None
        changed = list(self.requests.seen)
        messages = self.outbox.messages
        if run.dialect_name == "postgresql" and (changed or messages):
            # other replicas' streams and relays hear it once this commits: one round trip
            ids = {f"r{n}": request_id for n, request_id in enumerate(changed)}
            await run.execute(_notify(len(changed), bool(messages)), ids)
        if messages:
            now = self._clock.now()
            await run.execute_many(
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
            await run.execute_many(INSERT_ASSETS, asset_rows)
        if self.assets.removed:
            await run.execute(DELETE_ASSETS, {"ids": self.assets.removed})
        if self.audit.entries:
            now = self._clock.now()
            rows = [{**asdict(entry), "created_at": now} for entry in self.audit.entries]
            await run.execute_many(_INSERT_AUDIT, rows)
        await run.commit()
        self.outbox = PendingOutbox(run)
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
        translated = None
        if exc is not None:
            translated = unavailable(exc)
            if translated is None and isinstance(self._run, AsyncpgRunner) and self._run.closed:
                translated = DependencyUnavailable("The database connection was lost.")
        await self._close(lost=translated is not None)  # closing without commit rolls back
        if translated is not None:
            raise translated from exc

    async def _close(self, lost: bool = False) -> None:
        run, self._run = self._run, None
        if self._connection is None:
            return
        connection, self._connection = self._connection, None
        if isinstance(run, AsyncpgRunner) and not lost:
            try:
                await run.rollback()  # what was not committed (nothing, after a commit)
            except Exception:
                lost = True
        # a connection that fails to close is gone already: there is nothing left to undo
        with contextlib.suppress(Exception):
            if lost:  # not back into the pool: the next user would find it dead
                await connection.invalidate()
            await connection.close()


def unit_of_work_factory(
    engine: AsyncEngine,
    clock: Clock,
    staging: CommitStaging | None = None,
    on_commit: Callable[[], None] | None = None,
    on_changed: Callable[[list[str]], None] | None = None,
    ledger: Callable[[Runner], TransactionalCredits] | None = None,
) -> Callable[..., SqlaUnitOfWork]:
    compiled: dict[tuple[Any, ...], RawStatement | None] = {}  # each statement compiled once

    def unit_of_work(read_only: bool = False) -> SqlaUnitOfWork:
        return SqlaUnitOfWork(
            engine, clock, staging, on_commit, on_changed, ledger, read_only, compiled
        )

    return unit_of_work

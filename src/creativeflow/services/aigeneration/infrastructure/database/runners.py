"""How a unit of work's statements reach the database: SQLAlchemy Core statements, defined once
in the repositories, run by one of two runners with the same methods.

- `SqlaRunner` runs them through SQLAlchemy's connection (SQLite, and code outside the hot path).
- `AsyncpgRunner` runs them on the asyncpg connection underneath (PostgreSQL's units of work):
  each statement is compiled once to its SQL and the order of its parameters, then sent as an
  asyncpg prepared statement (cached per connection by asyncpg). Values pass through the same
  type processors SQLAlchemy would apply (exact credits, UTC times, JSON text), so both runners
  write and read the same rows; tests/integration/test_repository_contract.py holds them to it.
  Measured, SQLAlchemy's execution path (execution context, parameter and result processing
  per call, greenlet hops) was a third of a create's CPU (docs/PERFORMANCE.md).

A runner in a transaction begins it with its first statement, as SQLAlchemy does."""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import asyncpg
from sqlalchemy import Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Params = Mapping[str, Any]


class Runner(Protocol):
    dialect_name: str

    async def first(self, statement: Executable, params: Params | None = None) -> Any: ...

    async def all(self, statement: Executable, params: Params | None = None) -> list[Any]: ...

    async def scalar(self, statement: Executable, params: Params | None = None) -> Any: ...

    async def execute(self, statement: Executable, params: Params | None = None) -> int:
        """The number of rows the statement wrote."""
        ...

    async def execute_many(self, statement: Executable, rows: Sequence[Params]) -> None: ...

    async def commit(self) -> None: ...


class SqlaRunner:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.dialect_name = connection.dialect.name

    async def first(self, statement: Executable, params: Params | None = None) -> Any:
        return (await self.connection.execute(statement, params)).first()

    async def all(self, statement: Executable, params: Params | None = None) -> list[Any]:
        return list(await self.connection.execute(statement, params))

    async def scalar(self, statement: Executable, params: Params | None = None) -> Any:
        return await self.connection.scalar(statement, params)

    async def execute(self, statement: Executable, params: Params | None = None) -> int:
        return int((await self.connection.execute(statement, params)).rowcount)

    async def execute_many(self, statement: Executable, rows: Sequence[Params]) -> None:
        await self.connection.execute(statement, list(rows))

    async def commit(self) -> None:
        await self.connection.commit()


class RawRow:
    """A row read by asyncpg, its values processed: columns as attributes, like SQLAlchemy's.
    The values are the instance's own attributes, so reading one is a plain lookup (a
    `__getattr__` a column was a tenth of turning a row into a request)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values


class RawStatement:
    """A statement compiled for asyncpg: SQL with $n parameters, a processor per parameter
    (in order), and a processor per result column that has one."""

    def __init__(self, compiled: SQLCompiler, dialect: Dialect) -> None:
        self.sql = compiled.string
        names = compiled.positiontup or []
        binds = [compiled.binds[name] for name in names]
        self._names = names
        self._defaults = [bind.value for bind in binds]  # literals inside the statement
        self._in = [bind.type.bind_processor(dialect) for bind in binds]
        columns = getattr(compiled.statement, "selected_columns", ())
        self._out = [
            (column.key, process)
            for column in columns
            if (process := column.type.result_processor(dialect, None)) is not None
        ]

    def args(self, params: Params) -> list[Any]:
        values = []
        for name, default, process in zip(self._names, self._defaults, self._in, strict=True):
            value = params.get(name, default)
            values.append(process(value) if process is not None else value)
        return values

    def row(self, record: asyncpg.Record) -> RawRow:
        values = dict(record.items())
        for key, process in self._out:
            if key in values:
                values[key] = process(values[key])
        return RawRow(values)


class AsyncpgRunner:
    """Statements on the asyncpg connection under `sqla` (whose own transaction handling is off:
    this runner opens and ends the transaction). A statement with an `IN` list, whose SQL
    depends on the list's length, goes through `sqla` on the same connection and transaction."""

    def __init__(
        self,
        sqla: AsyncConnection,
        connection: asyncpg.Connection,
        compiled: dict[tuple[Any, ...], RawStatement | None],
        *,
        transactional: bool,
    ) -> None:
        self._sqla = SqlaRunner(sqla)
        self.dialect_name = "postgresql"
        self._connection = connection
        self._dialect = sqla.dialect
        self._compiled = compiled  # shared by the runners of one engine
        self._transactional = transactional
        self._transaction: Any = None  # asyncpg's Transaction while one is open

    async def first(self, statement: Executable, params: Params | None = None) -> Any:
        params = params or {}
        raw = await self._prepared(statement, params)
        if raw is None:
            return await self._sqla.first(statement, params)
        record = await self._connection.fetchrow(raw.sql, *raw.args(params))
        return raw.row(record) if record is not None else None

    async def all(self, statement: Executable, params: Params | None = None) -> list[Any]:
        params = params or {}
        raw = await self._prepared(statement, params)
        if raw is None:
            return await self._sqla.all(statement, params)
        return [raw.row(r) for r in await self._connection.fetch(raw.sql, *raw.args(params))]

    async def scalar(self, statement: Executable, params: Params | None = None) -> Any:
        params = params or {}
        raw = await self._prepared(statement, params)
        if raw is None:
            return await self._sqla.scalar(statement, params)
        record = await self._connection.fetchrow(raw.sql, *raw.args(params))
        return next(iter(vars(raw.row(record)).values())) if record is not None else None

    async def execute(self, statement: Executable, params: Params | None = None) -> int:
        params = params or {}
        raw = await self._prepared(statement, params)
        if raw is None:
            return await self._sqla.execute(statement, params)
        status = await self._connection.execute(raw.sql, *raw.args(params))
        count = status.rsplit(" ", 1)[-1]  # "UPDATE 1", "INSERT 0 1", "DELETE 3"
        return int(count) if count.isdigit() else 0

    async def execute_many(self, statement: Executable, rows: Sequence[Params]) -> None:
        if not rows:
            return
        raw = await self._prepared(statement, rows[0])
        if raw is None:
            await self._sqla.execute_many(statement, rows)
            return
        await self._connection.executemany(raw.sql, [raw.args(row) for row in rows])

    @property
    def closed(self) -> bool:
        """The connection is gone (the database restarted, or the network dropped it)."""
        return bool(self._connection.is_closed())

    async def commit(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            await transaction.commit()

    async def rollback(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            await transaction.rollback()

    async def _prepared(self, statement: Executable, params: Params) -> RawStatement | None:
        if self._transactional and self._transaction is None:
            self._transaction = self._connection.transaction()
            await self._transaction.start()
        # an INSERT or UPDATE without .values() writes the columns its parameters name
        key = (statement, *sorted(params))
        try:
            return self._compiled[key]
        except KeyError:
            pass
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=self._dialect, column_keys=sorted(params))
        assert isinstance(compiled, SQLCompiler)
        expanding = any(bind.expanding for bind in compiled.binds.values())
        raw = None if expanding else RawStatement(compiled, self._dialect)
        if len(self._compiled) >= _KEPT_STATEMENTS:
            self._compiled.clear()  # statements built per call (rare queries): start again
        self._compiled[key] = raw
        return raw


_KEPT_STATEMENTS = 512

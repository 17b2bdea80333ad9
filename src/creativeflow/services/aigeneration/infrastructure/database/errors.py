"""Database errors that mean "unreachable now" become the application's DependencyUnavailable."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...application.errors import DependencyUnavailable

# What a restarting or unreachable PostgreSQL raises through asyncpg (found by the fault
# suite: "the database system is starting up", "connection was closed in the middle of
# operation" arrive as plain DBAPIError and would otherwise be answered 500).
_UNREACHABLE = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08, and connection lost
    asyncpg.exceptions.OperatorInterventionError,  # 57P: shutting down, starting up
    OSError,
)


def unavailable(exc: BaseException) -> DependencyUnavailable | None:
    if isinstance(exc, OperationalError | InterfaceError | OSError):
        return DependencyUnavailable("The database cannot be reached.")
    if isinstance(exc, _UNREACHABLE):  # raised by asyncpg itself (database/runners.py)
        return DependencyUnavailable("The database connection was lost.")
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or _caused_by_outage(exc)):
        return DependencyUnavailable("The database connection was lost.")
    return None


def _caused_by_outage(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):  # DBAPIError → the adapter's Error → asyncpg's exception
        if seen is None:
            return False
        if isinstance(seen, _UNREACHABLE):
            return True
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return False


@asynccontextmanager
async def _unreachable_reported() -> AsyncIterator[None]:
    """An unreachable database raised inside is reported as DependencyUnavailable."""
    try:
        yield
    except Exception as exc:
        translated = unavailable(exc)
        if translated is None:
            raise
        raise translated from exc


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """engine.begin(), with an unreachable database reported as DependencyUnavailable."""
    async with _unreachable_reported(), engine.begin() as connection:
        yield connection


@asynccontextmanager
async def one_statement(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for one statement, which is atomic on its own. On PostgreSQL it runs without
    BEGIN and COMMIT around it: one round trip instead of three (the relay's claims and markings
    were 8 of a flow's 14 transactions). SQLite keeps its transaction, which takes the write
    lock up front (db_config.py)."""
    if engine.dialect.name != "postgresql":
        async with transaction(engine) as connection:
            yield connection
        return
    async with _unreachable_reported(), engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection

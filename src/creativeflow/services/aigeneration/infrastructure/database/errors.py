"""Database errors that mean "unreachable now" become the application's DependencyUnavailable."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...application.errors import DependencyUnavailable


def unavailable(exc: BaseException) -> DependencyUnavailable | None:
    if isinstance(exc, OperationalError | InterfaceError | OSError):
        return DependencyUnavailable("The database cannot be reached.")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DependencyUnavailable("The database connection was lost.")
    return None


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """engine.begin(), with an unreachable database reported as DependencyUnavailable."""
    try:
        async with engine.begin() as connection:
            yield connection
    except Exception as exc:
        translated = unavailable(exc)
        if translated is None:
            raise
        raise translated from exc

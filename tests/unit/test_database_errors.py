"""A restarting PostgreSQL is a 503 (dependency_unavailable), not a 500: the errors asyncpg
raises then, wrapped as SQLAlchemy wraps them (found by the fault suite)."""

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from creativeflow.services.aigeneration.application.errors import DependencyUnavailable
from creativeflow.services.aigeneration.infrastructure.database.errors import unavailable


def wrapped(cause: BaseException) -> DBAPIError:
    adapter_error = Exception(str(cause))
    adapter_error.__cause__ = cause
    return DBAPIError("SELECT 1", {}, adapter_error)


@pytest.mark.parametrize(
    "cause",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        ),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
def test_outage_errors_are_dependency_unavailable(cause: BaseException) -> None:
    assert isinstance(unavailable(wrapped(cause)), DependencyUnavailable)


def test_a_query_error_is_not_an_outage() -> None:
    error = wrapped(asyncpg.exceptions.UndefinedTableError('relation "nope" does not exist'))
    assert unavailable(error) is None

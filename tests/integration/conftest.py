from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from creativeflow.services.aigeneration.composition.root import build_container
from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.infrastructure.database.db_config import create_engine
from creativeflow.services.aigeneration.infrastructure.database.migrate import upgrade_to_head
from creativeflow.services.aigeneration.infrastructure.database.tables import metadata
from creativeflow.services.aigeneration.main import attach, create_app

from ..contracts import assert_job_message
from ..s3_server import S3Server
from .api_client import ApiDriver

_migrated: set[str] = set()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'aigen.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def prepare(database_url: str) -> str:
    """Migrated and empty: a new SQLite file, or the run's PostgreSQL database truncated."""
    engine = create_engine(database_url)
    if database_url not in _migrated:
        await upgrade_to_head(engine)
        _migrated.add(database_url)
    if engine.dialect.name == "postgresql":
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
    await engine.dispose()
    return database_url


@pytest.fixture
async def empty_database(database_url: str) -> str:
    return await prepare(database_url)


@pytest.fixture
async def pg(postgres_url: str) -> str:
    """The run's PostgreSQL database, migrated and emptied, for PostgreSQL-only tests."""
    return await prepare(postgres_url)


@pytest.fixture
async def api(empty_database: str, tmp_path: Path) -> AsyncIterator[ApiDriver]:
    async with api_driver(empty_database, tmp_path) as driver:
        yield driver


@pytest.fixture
async def s3_api(
    empty_database: str, tmp_path: Path, s3_server: S3Server
) -> AsyncIterator[ApiDriver]:
    """The app with its images in a real S3-compatible server, under a prefix of its own."""
    async with api_driver(
        empty_database, tmp_path, **s3_server.settings(f"{tmp_path.name}/")
    ) as api:
        yield api


@asynccontextmanager
async def api_driver(
    database_url: str, tmp_path: Path, **overrides: object
) -> AsyncIterator[ApiDriver]:
    """The app on `database_url`, with `overrides` over the tests' default settings."""
    settings = load_settings(
        DATABASE_URL=database_url,
        DATA_DIR=tmp_path / "data",
        AUTO_MIGRATE=False,
        LOG_LEVEL="WARNING",
        **overrides,
    )
    app = create_app(settings)
    # No background tasks: tests deliver the outbox themselves (api.deliver_outbox) and play
    # n8n by posting signed callbacks, so every step is explicit and nothing races the test.
    container = await build_container(settings, with_relay=False)
    attach(app, container)
    async with ApiDriver(app, container) as driver:
        yield driver
        for job in await driver.jobs():  # every job a test made the service publish
            assert_job_message(job)
    await container.aclose()

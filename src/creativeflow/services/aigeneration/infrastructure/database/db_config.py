"""Engine construction for SQLite (embedded default) and PostgreSQL (production)."""

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .fair_pool import FairAsyncQueuePool


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (a request's jobs, parameters and images) are read and written with orjson: the
# standard library's decoder was a sixth of a list page's CPU (docs/PERFORMANCE.md).
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # A fixed pool: overflow connections are opened and closed per burst, and each opening
    # (TLS negotiation, authentication) cost more than waiting for a pooled one (measured: the
    # GET benchmark spent its time in asyncpg's connect). No pre-ping round trip per checkout:
    # a connection a database restart killed fails once, and SQLAlchemy then recycles the
    # whole pool. Connections are handed out first come, first served (fair_pool.py).
    return create_async_engine(
        url,
        poolclass=FairAsyncQueuePool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=10,
        **JSON_CODEC,
    )


def _sqlite_engine(url: str) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **JSON_CODEC)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers run beside the single writer; we issue BEGIN ourselves (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # Take the write lock up front: a read-then-write transaction cannot deadlock on upgrade,
        # so two callbacks for one request serialize like SELECT ... FOR UPDATE on PostgreSQL.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine

"""The floor the service is measured against: bare FastAPI endpoints on asyncpg doing the
least work of each kind — one INSERT + commit; one SELECT ... FOR UPDATE + UPDATE in a
transaction; one row read by id, and a user's first page read by the same index. Same machine,
same database, same server settings as the service."""

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request

DSN = os.environ["FLOOR_DSN"]
POOL = int(os.environ.get("FLOOR_POOL", "10"))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DSN, min_size=POOL, max_size=POOL)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/insert", status_code=202)
async def insert(request: Request) -> dict[str, str]:
    body = await request.json()
    row_id = str(uuid.uuid4())
    async with request.app.state.pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO bench_floor (id, payload) VALUES ($1, $2)", row_id, json.dumps(body)
        )
    return {"id": row_id}


@app.post("/lock-update/{row}")
async def lock_update(row: int, request: Request) -> dict[str, int]:
    async with request.app.state.pool.acquire() as connection, connection.transaction():
        version = await connection.fetchval(
            "SELECT version FROM bench_floor_rows WHERE id = $1 FOR UPDATE", row
        )
        await connection.execute(
            "UPDATE bench_floor_rows SET version = $2, payload = $3 WHERE id = $1",
            row,
            (version or 0) + 1,
            json.dumps({"samples": 4}),
        )
    return {"version": (version or 0) + 1}


def _plain(row: asyncpg.Record) -> dict[str, object]:
    """The row as JSON would carry it: timestamps as text, everything else as read."""
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in row.items()
    }


@app.get("/requests/{request_id}")
async def get_request(request_id: str, user: str, request: Request) -> dict[str, object]:
    """GET by id's floor: the same row of the same table, by id and owner, as JSON."""
    async with request.app.state.pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT * FROM generation_requests WHERE id = $1 AND user_id = $2", request_id, user
        )
    return _plain(row) if row is not None else {}


@app.get("/requests")
async def list_requests(user: str, request: Request, limit: int = 20) -> list[dict[str, object]]:
    """The list's floor: a user's newest rows, by the same index, as JSON."""
    async with request.app.state.pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT * FROM generation_requests WHERE user_id = $1"
            " ORDER BY created_at DESC, id DESC LIMIT $2",
            user,
            limit,
        )
    return [_plain(row) for row in rows]

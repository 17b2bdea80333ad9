"""The floor the service is measured against: bare FastAPI endpoints on asyncpg doing the
least work of each kind — one INSERT + commit, and one SELECT ... FOR UPDATE + UPDATE in a
transaction. Same machine, same database, same server settings as the service."""

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

"""The floor the service is measured against: bare FastAPI endpoints on asyncpg doing the
least work of each kind — one INSERT + commit; one SELECT ... FOR UPDATE + UPDATE in a
transaction; one row read by id, and a user's first page read by the same index — and the
create's own statements, bare. Same machine, same database, same server settings as the
service."""

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

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


# The create's statements, bare: what our create sends to PostgreSQL (counted with a statement
# listener; docs/PERFORMANCE.md), in one transaction, from asyncpg with no service code around
# it: the account read, the user's advisory lock, the count of requests at work, the ledger
# entry and the balance, the request row (a real one's shape: ROW_TEMPLATE), the notifications
# and three outbox rows. Its throughput over the INSERT's is the most any create doing this work
# can reach. The outbox rows are written as delivered already, so no relay takes them.
ROW_TEMPLATE: dict[str, object] = json.loads(os.environ.get("FLOOR_ROW_TEMPLATE", "{}"))
AT_WORK = (
    "pending",
    "validating_credits",
    "publishing_to_queue",
    "processing_samples",
    "processing_final",
)
AT_WORK_SQL = ", ".join(f"'{status}'" for status in AT_WORK)
JSON_COLUMNS = ("input_parameters", "sample_asset_infos", "final_asset_info", "jobs")
TIME_COLUMNS = ("deadline_at", "created_at", "updated_at")


@app.post("/create-statements", status_code=202)
async def create_statements(user: str, request: Request) -> dict[str, str]:
    body = await request.json()
    now = datetime.now(UTC)
    row = {**ROW_TEMPLATE, "id": str(uuid.uuid4()), "user_id": user, "input_prompt": body["prompt"]}
    for column in JSON_COLUMNS:
        row[column] = json.dumps(row[column])
    for column in TIME_COLUMNS:
        row[column] = now
    columns = list(row)
    insert = (
        f"INSERT INTO generation_requests ({', '.join(columns)})"
        f" VALUES ({', '.join(f'${n}' for n in range(1, len(columns) + 1))})"
    )
    async with request.app.state.pool.acquire() as connection:
        await connection.fetchrow("SELECT * FROM credit_accounts WHERE user_id = $1", user)
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", user)
            await connection.fetchval(
                "SELECT count(*) FROM generation_requests"
                f" WHERE user_id = $1 AND status IN ({AT_WORK_SQL})",
                user,
            )
            await connection.execute(
                "INSERT INTO credit_ledger_entries"
                " (idempotency_key, user_id, kind, amount, reference, reason, created_at)"
                " VALUES ($1, $2, 'debit', 2500, $3, 'samples', $4) ON CONFLICT DO NOTHING",
                str(uuid.uuid4()),
                user,
                row["id"],
                now,
            )
            taken = await connection.execute(
                "UPDATE credit_accounts SET balance = balance - 2500"
                " WHERE user_id = $1 AND balance >= 2500",
                user,
            )
            if taken == "UPDATE 0":  # the user's first create opens the account
                await connection.execute(
                    "INSERT INTO credit_accounts VALUES ($1, 10000000000000, 'free', $2)"
                    " ON CONFLICT DO NOTHING",
                    user,
                    now,
                )
            await connection.execute(insert, *row.values())
            await connection.execute(
                "SELECT pg_notify('bench_floor_status', $1), pg_notify('bench_floor_outbox', '')",
                row["id"],
            )
            await connection.executemany(
                "INSERT INTO outbox (destination, message_key, payload, headers, created_at,"
                " available_at, delivered_at) VALUES ($1, $2, $3, '{}', $4, $4, $4)",
                [
                    (kind, f"{row['id']}:{kind}", json.dumps(body), now)
                    for kind in ("job", "event", "notification")
                ],
            )
    return {"id": str(row["id"])}

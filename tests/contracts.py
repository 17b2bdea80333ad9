"""The committed JSON Schemas of docs/contracts/, for checking what the service publishes and
what n8n sends back in tests."""

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from jsonschema import Draft202012Validator

from .conftest import asyncpg_dsn

CONTRACTS = Path(__file__).resolve().parents[1] / "docs" / "contracts"


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


JOB_MESSAGE = validator("job-message")


def contract_errors(validator: Draft202012Validator, body: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(body)
    ]


def assert_job_message(body: Any) -> None:
    errors = contract_errors(JOB_MESSAGE, body)
    assert not errors, f"job {body.get('job_id')} breaks docs/contracts/job-message: {errors}"


def assert_published_jobs(database_url: str, since: datetime) -> int:
    """Checks every job a service wrote to this database's outbox since `since` (tests share
    the run's PostgreSQL database, and some write rows of their own); returns how many."""
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        with sqlite3.connect(path) as connection:  # SQLite keeps naive UTC times
            rows = connection.execute(
                "SELECT payload FROM outbox WHERE destination = 'job' AND created_at >= ?",
                (since.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "),),
            ).fetchall()
        payloads = [payload for (payload,) in rows]
    else:
        payloads = asyncio.run(_postgres_jobs(database_url, since))
    for payload in payloads:
        assert_job_message(json.loads(payload) if isinstance(payload, str) else payload)
    return len(payloads)


async def _postgres_jobs(database_url: str, since: datetime) -> list[Any]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT payload FROM outbox WHERE destination = 'job' AND created_at >= $1", since
        )
    finally:
        await connection.close()
    return [row["payload"] for row in rows]

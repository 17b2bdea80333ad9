"""The committed JSON Schemas of docs/contracts/, for checking what the service publishes and
what n8n sends back in tests."""

import json
import sqlite3
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

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


def assert_jobs_in_sqlite(database: Path) -> int:
    """Every job a service on this SQLite file published; returns how many there were."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT payload FROM outbox WHERE destination = 'job'").fetchall()
    for (payload,) in rows:
        assert_job_message(json.loads(payload))
    return len(rows)

"""The distributed path on one machine: `aigen serve` on PostgreSQL + RabbitMQ and
`aigen simulate-n8n` as separate processes. 100 requests go from create to `completed` (and 10
more fail in the model and are refunded); every job is counted on both sides.

Run alone with `-s` to see the figures: pytest tests/e2e/test_distributed_flow.py -s"""

import asyncio
import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from ..contracts import assert_published_jobs
from .conftest import AIGEN
from .processes import ServiceProcess, delete_job_topology, service_env, token

pytestmark = pytest.mark.e2e
COMPLETING, FAILING, HIGH = 100, 10, 20
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def distributed(postgres_url: str, rabbitmq_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    suffix = uuid.uuid4().hex[:8]
    env = service_env(
        postgres_url,
        tmp_path,
        RABBITMQ_URL=rabbitmq_url,
        RABBITMQ_GENERATION_EXCHANGE=f"e2e_jobs_{suffix}",
        RABBITMQ_N8N_JOB_QUEUE=f"e2e_jobs_q_{suffix}",
        SIMULATOR_RENDER_DELAY_SECONDS="0",
        SIMULATOR_CONCURRENCY="4",
    )
    subprocess.run([AIGEN, "migrate"], cwd=tmp_path, env=env, check=True, capture_output=True)
    asyncio.run(_truncate(postgres_url))  # other tests of this session wrote to the database
    serve = ServiceProcess.serve("serve", env, tmp_path)
    # the simulator's images are served by the service: its links name the service's address
    simulator_env = {**env, "PUBLIC_BASE_URL": serve.base_url}
    simulator = ServiceProcess.command("simulate-n8n", ["simulate-n8n"], simulator_env, tmp_path)
    try:
        yield {"base_url": serve.base_url, "env": env, "folder": tmp_path, "simulator": simulator}
    finally:
        simulator.stop(timeout=20)
        serve.stop(timeout=20)
        asyncio.run(delete_job_topology(env))


async def _truncate(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text("TRUNCATE generation_requests, outbox, credit_accounts, credit_ledger_entries")
        )
    await engine.dispose()


async def _drive(base_url: str, tokens: dict[str, str]) -> dict[str, str]:
    limit = asyncio.Semaphore(20)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:

        async def call(method: str, path: str, user: str, body: Any = None) -> dict[str, Any]:
            auth = {"Authorization": f"Bearer {tokens[user]}"}
            for _ in range(10):
                async with limit:
                    response = await http.request(method, path, json=body, headers=auth)
                if response.status_code != 503:
                    break
                # shed at the door (contract: `overloaded`, nothing done): sent again after
                # Retry-After, as every client must
                assert response.json()["error"]["code"] == "overloaded", response.text
                await asyncio.sleep(float(response.headers["Retry-After"]))
            assert response.status_code < 300, response.text
            result: dict[str, Any] = response.json()
            return result

        async def wait(request_id: str, user: str, status: str) -> dict[str, Any]:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                body = await call("GET", f"/api/v1/generation-requests/{request_id}", user)
                if body["status"] == status:
                    return body
                await asyncio.sleep(0.2)
            raise AssertionError(f"{request_id} stuck in {body['status']}, wanted {status}")

        async def one(user: str, index: int) -> str:
            failing = index >= COMPLETING
            prompt = f"{'[simulate:error] ' if failing else ''}Poster {index} for a summer sale"
            created = await call(
                "POST",
                "/api/v1/generation-requests",
                user,
                {"project_id": "e2e", "prompt": prompt, "format": "instagram_post"},
            )
            if failing:
                await wait(created["id"], user, "failed")
                return "failed"
            waiting = await wait(created["id"], user, "awaiting_selection")
            resolution = "high" if index < HIGH else "standard"
            selection = {
                "selected_sample_id": waiting["sample_asset_infos"][index % 4]["asset_id"],
                "resolution": resolution,
            }
            await call(
                "POST",
                f"/api/v1/generation-requests/{created['id']}/select-sample",
                user,
                selection,
            )
            done = await wait(created["id"], user, "completed")
            return str(done["status"])

        results = await asyncio.gather(*(one(user, i) for i, user in enumerate(tokens)))
    return dict(zip(tokens, results, strict=True))


def test_one_hundred_requests_through_rabbitmq_and_a_separate_simulator(
    distributed: dict[str, Any],
) -> None:
    folder, env = distributed["folder"], distributed["env"]
    users = [f"e2e-user-{i:03d}" for i in range(COMPLETING + FAILING)]
    tokens = {user: token(user) for user in users}
    started, started_at = time.monotonic(), datetime.now(UTC)
    results = asyncio.run(_drive(distributed["base_url"], tokens))
    elapsed = time.monotonic() - started
    assert list(results.values()).count("completed") == COMPLETING
    assert list(results.values()).count("failed") == FAILING

    distributed["simulator"].stop(timeout=20)  # it prints what it consumed as it stops
    summary = (folder / "simulate-n8n.log").read_text()
    consumed = dict(re.findall(r"(consumed|distinct_jobs|redelivered|requeued)=(\d+)", summary))
    figures = asyncio.run(_database_figures(env["DATABASE_URL"]))
    figures.update(
        consumed=int(consumed["consumed"]),
        distinct_consumed=int(consumed["distinct_jobs"]),
        redelivered=int(consumed["redelivered"]),
        seconds=round(elapsed, 1),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "distributed_flow.json").write_text(json.dumps(figures, indent=2))
    print("\ndistributed flow:", json.dumps(figures))

    jobs_expected = 2 * COMPLETING + FAILING
    assert assert_published_jobs(env["DATABASE_URL"], started_at) == jobs_expected
    assert figures["jobs_published"] == figures["distinct_jobs_published"] == jobs_expected
    assert figures["distinct_consumed"] == jobs_expected
    assert figures["consumed"] - figures["distinct_consumed"] == figures["redelivered"]
    assert figures["undelivered_outbox_rows"] == 0
    sample_debits = Decimal("0.25") * (COMPLETING + FAILING)
    final_debits = Decimal(2) * HIGH + Decimal(1) * (COMPLETING - HIGH)
    assert Decimal(figures["debited"]) == sample_debits + final_debits
    assert Decimal(figures["refunded"]) == Decimal("0.25") * FAILING
    assert figures["debit_entries"] == COMPLETING + FAILING + COMPLETING


async def _database_figures(url: str) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT count(*) FILTER (WHERE published),"
                    " count(DISTINCT message_key) FILTER (WHERE published),"
                    " count(*) FILTER (WHERE delivered_at IS NULL)"
                    " FROM (SELECT *, destination = 'job' AND delivered_at IS NOT NULL AS published"
                    "       FROM outbox) AS rows"
                )
            )
        ).one()
        money = (
            await connection.execute(
                text(
                    "SELECT kind, count(*), coalesce(sum(amount), 0)"
                    " FROM credit_ledger_entries GROUP BY kind"
                )
            )
        ).all()
    await engine.dispose()
    by_kind = {kind: (count, Decimal(total) / 10_000) for kind, count, total in money}
    return {
        "jobs_published": row[0],
        "distinct_jobs_published": row[1],
        "undelivered_outbox_rows": row[2],
        "debit_entries": by_kind.get("debit", (0, 0))[0],
        "debited": str(by_kind.get("debit", (0, Decimal(0)))[1]),
        "refunded": str(by_kind.get("refund", (0, Decimal(0)))[1]),
    }

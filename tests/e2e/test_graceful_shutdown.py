"""SIGTERM in the middle of load loses nothing: every create answered 2xx has its request and
its job, and every job reaches the queue exactly once (the remaining outbox rows are
delivered by the next process to start)."""

import asyncio
import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.core.security import create_dev_token

from ..contracts import assert_published_jobs
from .conftest import AIGEN
from .processes import ServiceProcess, delete_job_topology, service_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def broker_names(rabbitmq_url: str) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "RABBITMQ_URL": rabbitmq_url,
        "RABBITMQ_GENERATION_EXCHANGE": f"sigterm_jobs_{suffix}",
        "RABBITMQ_N8N_JOB_QUEUE": f"sigterm_jobs_q_{suffix}",
    }
    yield names
    asyncio.run(delete_job_topology(names))


async def _load(base_url: str, seconds: float) -> list[str]:
    """Creates from 8 users at once for a while; returns the ids answered 202."""
    accepted: list[str] = []
    deadline = time.monotonic() + seconds
    settings = load_settings(_env_file=None)

    async def user(n: int) -> None:
        auth = {"Authorization": f"Bearer {create_dev_token(settings, f'load-{n}')}"}
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            while time.monotonic() < deadline:
                body = {"project_id": "p", "prompt": "shutdown", "format": "tiktok"}
                try:
                    response = await client.post(
                        "/api/v1/generation-requests", json=body, headers=auth
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)  # refused while shutting down: not accepted
                    continue
                if response.status_code == 202:
                    accepted.append(response.json()["id"])
                elif response.status_code == 429:
                    await asyncio.sleep(0.01)

    await asyncio.gather(*(user(n) for n in range(8)))
    return accepted


async def _queue_job_ids(names: dict[str, str]) -> list[str]:
    connection = await aio_pika.connect(names["RABBITMQ_URL"])
    ids: list[str] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(names["RABBITMQ_N8N_JOB_QUEUE"])
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            ids.append(json.loads(message.body)["request_id"])
    return ids


async def _pending(url: str) -> int:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL")
        )
    await engine.dispose()
    return int(count or 0)


def test_sigterm_under_load_loses_no_request_and_no_job(
    postgres_url: str, broker_names: dict[str, str], tmp_path: Path
) -> None:
    env = service_env(postgres_url, tmp_path, MAX_ACTIVE_REQUESTS_PER_USER="1000", **broker_names)
    subprocess.run([AIGEN, "migrate"], cwd=tmp_path, env=env, check=True, capture_output=True)
    started = datetime.now(UTC)
    service = ServiceProcess.serve("sigterm", env, tmp_path)

    async def scenario() -> tuple[list[str], int]:
        load = asyncio.create_task(_load(service.base_url, seconds=4))
        await asyncio.sleep(2)
        code = await asyncio.to_thread(service.stop)
        return await load, code

    accepted, exit_code = asyncio.run(scenario())
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught: exit by SIGTERM
    assert exit_code in (0, -signal.SIGTERM), service.log()
    assert "Traceback" not in service.log()
    assert len(accepted) > 20

    # the next process to start delivers whatever the stopped one had not yet sent
    worker = ServiceProcess.command("worker", ["worker"], env, tmp_path)
    deadline = time.monotonic() + 30
    while asyncio.run(_pending(env["DATABASE_URL"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.stop()
    published = asyncio.run(_queue_job_ids(broker_names))
    assert assert_published_jobs(postgres_url, started) == len(accepted)
    figures: dict[str, Any] = {
        "accepted": len(accepted),
        "published": len(published),
        "lost": len(set(accepted) - set(published)),
        "duplicated": len(published) - len(set(published)),
    }
    print("\nsigterm under load:", figures)
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0

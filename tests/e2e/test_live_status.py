"""Server-Sent Events across two service processes on one PostgreSQL: a change made through
one is seen on a stream served by the other; a stream resumes after Last-Event-ID and ends
after the terminal status."""

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.core.security import create_dev_token

from ..contracts import assert_published_jobs
from .processes import ServiceProcess, service_env

pytestmark = pytest.mark.e2e
TOKEN = create_dev_token(load_settings(_env_file=None), "sse-user")
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def two_replicas(
    postgres_url: str, tmp_path: Path
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    import subprocess

    from .conftest import AIGEN

    env = service_env(postgres_url, tmp_path)
    subprocess.run([AIGEN, "migrate"], cwd=tmp_path, env=env, check=True, capture_output=True)
    started = datetime.now(UTC)
    first = ServiceProcess.serve("replica-a", env, tmp_path)
    second = ServiceProcess.serve("replica-b", env, tmp_path)
    yield first, second
    for replica in (first, second):
        replica.stop()
    assert_published_jobs(postgres_url, started)


async def read_events(
    client: httpx.AsyncClient, url: str, on_event: Any, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Collects `status` events until the server ends the stream."""
    events: list[dict[str, Any]] = []
    current: dict[str, str] = {}
    async with client.stream("GET", url, headers={**AUTH, **(headers or {})}) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line == "":
                if current.get("event") == "status":
                    event = {**json.loads(current["data"]), "event_id": int(current["id"])}
                    events.append(event)
                    await on_event(event)
                current = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(":")
                current[field] = value.lstrip(" ")
    return events


def test_a_stream_on_one_replica_sees_changes_made_through_the_other(
    two_replicas: tuple[ServiceProcess, ServiceProcess],
) -> None:
    writer, reader = two_replicas

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=60) as client:
            created = await client.post(
                f"{writer.base_url}/api/v1/generation-requests",
                json={"project_id": "p", "prompt": "live", "format": "tiktok"},
                headers=AUTH,
            )
            request_id = created.json()["id"]
            url = f"{reader.base_url}/api/v1/generation-requests/{request_id}/events"

            async def select_when_ready(event: dict[str, Any]) -> None:
                if event["status"] == "awaiting_selection":
                    sample = event["sample_asset_infos"][1]["asset_id"]
                    await client.post(
                        f"{writer.base_url}/api/v1/generation-requests/{request_id}/select-sample",
                        json={"selected_sample_id": sample},
                        headers=AUTH,
                    )

            events = await asyncio.wait_for(read_events(client, url, select_when_ready), 60)
            waiting = next(e for e in events if e["status"] == "awaiting_selection")

            async def ignore(_: dict[str, Any]) -> None:
                return None

            resumed = await asyncio.wait_for(
                read_events(client, url, ignore, {"Last-Event-ID": str(waiting["event_id"])}), 30
            )
            return events, resumed

    events, resumed = asyncio.run(scenario())
    statuses = [e["status"] for e in events]
    for expected in ("awaiting_selection", "processing_final", "completed"):
        assert expected in statuses
    assert statuses[-1] == "completed"
    ids = [e["event_id"] for e in events]
    assert ids == sorted(set(ids))  # each change once, in order
    waiting_id = next(e["event_id"] for e in events if e["status"] == "awaiting_selection")
    assert [e["status"] for e in resumed] == ["completed"]  # only what came after the resume point
    assert resumed[0]["event_id"] > waiting_id


def test_another_users_stream_is_404(two_replicas: tuple[ServiceProcess, ServiceProcess]) -> None:
    writer, reader = two_replicas
    created = httpx.post(
        f"{writer.base_url}/api/v1/generation-requests",
        json={"project_id": "p", "prompt": "mine", "format": "tiktok"},
        headers=AUTH,
    ).json()
    stranger = create_dev_token(load_settings(_env_file=None), "stranger")
    response = httpx.get(
        f"{reader.base_url}/api/v1/generation-requests/{created['id']}/events",
        headers={"Authorization": f"Bearer {stranger}"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_waiting_answer_on_one_replica_is_woken_by_a_change_on_the_other(
    two_replicas: tuple[ServiceProcess, ServiceProcess],
) -> None:
    """Prefer: wait across replicas: created through one (whose callbacks then land there), the
    same Idempotency-Key replayed with a wait on the other answers once the samples are in."""
    writer, reader = two_replicas
    body = {"project_id": "p", "prompt": "waited for elsewhere", "format": "tiktok"}
    key = {"Idempotency-Key": "cross-replica-wait"}
    created = httpx.post(
        f"{writer.base_url}/api/v1/generation-requests", json=body, headers={**AUTH, **key}
    )
    assert created.status_code == 202
    started = time.monotonic()
    waited = httpx.post(
        f"{reader.base_url}/api/v1/generation-requests",
        json=body,
        headers={**AUTH, **key, "Prefer": "wait=30"},
        timeout=40,
    )
    assert waited.status_code == 200, waited.text
    assert waited.headers["preference-applied"] == "wait"
    assert waited.json()["id"] == created.json()["id"]
    assert waited.json()["status"] == "awaiting_selection"
    assert time.monotonic() - started < 3  # woken by NOTIFY, long before the 10 s recheck

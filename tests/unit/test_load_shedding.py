"""Past its bound a process answers a user's request `503 overloaded` with `Retry-After` at once;
n8n's work, probes and long-lived answers are never shed, and new work goes first."""

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from creativeflow.services.aigeneration.api.load_shedding import LoadSheddingMiddleware
from creativeflow.services.aigeneration.api.middleware import RequestIdMiddleware

pytestmark = pytest.mark.asyncio


class Held:
    """An app whose every request waits until released: the requests in flight are ours to count."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0
        self.changed = asyncio.Condition()

    async def handler(self, request: Request) -> JSONResponse:
        async with self.changed:
            self.entered += 1
            self.changed.notify_all()
        await self.release.wait()
        return JSONResponse({"ok": True})

    async def until_entered(self, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.entered >= count)

    def app(self, bound: int, shed: list[str]) -> Any:
        inner = Starlette(routes=[Route("/{path:path}", self.handler, methods=["GET", "POST"])])
        guarded = LoadSheddingMiddleware(
            inner,
            max_in_flight=bound,
            api_prefix="/api/v1",
            retry_after_seconds=2,
            on_shed=shed.append,
        )
        return RequestIdMiddleware(guarded)


async def _fill(client: httpx.AsyncClient, held: Held, count: int, path: str) -> list[Any]:
    tasks = [asyncio.create_task(client.get(path)) for _ in range(count)]
    await held.until_entered(count)
    return tasks


async def test_a_user_request_past_the_bound_is_shed_with_retry_after_and_the_error_body() -> None:
    held, shed = Held(), list[str]()
    transport = httpx.ASGITransport(app=held.app(4, shed))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        waiting = await _fill(client, held, 4, "/api/v1/generation-requests/abc")
        answer = await client.get("/api/v1/generation-requests/abc")
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "2"
        error = answer.json()["error"]
        assert error["code"] == "overloaded"
        assert error["request_id"] == answer.headers["x-request-id"]
        assert shed == ["user"]
        held.release.set()
        assert [(await task).status_code for task in waiting] == [200] * 4
        # the bound is per moment, not a quota: once they are answered, requests are admitted again
        assert (await client.get("/api/v1/generation-requests/abc")).status_code == 200


async def test_new_work_is_shed_first_at_three_quarters_of_the_bound() -> None:
    held, shed = Held(), list[str]()
    transport = httpx.ASGITransport(app=held.app(8, shed))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        waiting = await _fill(client, held, 6, "/api/v1/generation-requests/abc")
        create = await client.post("/api/v1/generation-requests", json={})
        batch = await client.post("/api/v1/generation-requests/batch", json={})
        assert (create.status_code, batch.status_code) == (503, 503)
        assert shed == ["new_work", "new_work"]
        waiting.append(asyncio.create_task(client.get("/api/v1/credits")))  # a read: still in
        await held.until_entered(7)
        held.release.set()
        assert [(await task).status_code for task in waiting] == [200] * 7


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/api/v1/n8n-callbacks/samples", {}),
        ("GET", "/api/v1/jobs/j1/status?expires=1&signature=s", {}),
        ("GET", "/api/v1/assets/a1/content?expires=1&signature=s", {}),  # a worker's fetch
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("GET", "/metrics", {}),
        ("GET", "/api/v1/generation-requests/abc/events", {}),
        ("POST", "/api/v1/generation-requests", {"Prefer": "wait=10"}),
    ],
)
async def test_workers_probes_and_long_lived_answers_are_never_shed(
    method: str, path: str, headers: dict[str, str]
) -> None:
    held, shed = Held(), list[str]()
    transport = httpx.ASGITransport(app=held.app(4, shed))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        waiting = await _fill(client, held, 4, "/api/v1/generation-requests/abc")
        task = asyncio.create_task(client.request(method, path, headers=headers))
        await held.until_entered(5)
        held.release.set()
        assert (await task).status_code == 200
        assert [(await t).status_code for t in waiting] == [200] * 4
        assert shed == []


async def test_long_lived_answers_do_not_take_places_from_the_others() -> None:
    held, shed = Held(), list[str]()
    transport = httpx.ASGITransport(app=held.app(4, shed))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        streams = await _fill(client, held, 10, "/api/v1/generation-requests/abc/events")
        task = asyncio.create_task(client.get("/api/v1/generation-requests/abc"))
        await held.until_entered(11)
        held.release.set()
        assert (await task).status_code == 200
        assert [(await t).status_code for t in streams] == [200] * 10
        assert shed == []

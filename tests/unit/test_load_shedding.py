"""Admission: past its bound a process answers a request `503 overloaded` with `Retry-After` at
once; a request counts only once it is authenticated and its body is in, so stalled or
unauthenticated bodies take no place; n8n's callbacks, validly signed links and probes are
never shed; long-lived answers are admitted or shed like any request and then give their
place back; uploads have a bound per user."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Scope

from creativeflow.services.aigeneration.api.load_shedding import (
    Gate,
    LoadSheddingMiddleware,
    release,
)
from creativeflow.services.aigeneration.api.middleware import RequestIdMiddleware

pytestmark = pytest.mark.asyncio
ALICE = {"Authorization": "Bearer good-alice"}
BOB = {"Authorization": "Bearer good-bob"}


async def _user_of(token: str) -> str:
    if not token.startswith("good-"):
        raise ValueError("not a token of ours")
    return token.removeprefix("good-")


def _link_verifies(scope: Scope) -> bool:
    return b"signature=good" in scope["query_string"]


class Held:
    """An app whose every request reads its body, then waits until released: the requests in
    flight are ours to count. Long-lived answers give their place back before they wait."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0
        self.bodies_read = 0
        self.changed = asyncio.Condition()

    async def handler(self, request: Request) -> JSONResponse:
        await request.body()
        self.bodies_read += 1
        if request.url.path.endswith("/events") or "prefer" in request.headers:
            release(request.scope)
        async with self.changed:
            self.entered += 1
            self.changed.notify_all()
        await self.release.wait()
        return JSONResponse({"ok": True})

    async def until_entered(self, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.entered >= count)

    def app(self, bound: int, shed: list[str], uploads_per_user: int = 4) -> Any:
        inner = Starlette(
            routes=[Route("/{path:path}", self.handler, methods=["GET", "POST", "PUT"])]
        )
        guarded = LoadSheddingMiddleware(
            inner,
            max_in_flight=bound,
            api_prefix="/api/v1",
            retry_after_seconds=2,
            gate=lambda: Gate(_user_of, _link_verifies),
            max_uploads_per_user=uploads_per_user,
            on_shed=shed.append,
        )
        return RequestIdMiddleware(guarded)


async def _fill(
    client: httpx.AsyncClient, held: Held, count: int, path: str, **kwargs: Any
) -> list[Any]:
    tasks = [asyncio.create_task(client.get(path, **kwargs)) for _ in range(count)]
    await held.until_entered(held.entered + count)
    return tasks


async def _stalled(first: bytes, release: asyncio.Event) -> AsyncIterator[bytes]:
    """A body whose first bytes arrive, then nothing until `release`."""
    yield first
    await release.wait()
    yield b"}"


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_a_user_request_past_the_bound_is_shed_with_retry_after_and_the_error_body() -> None:
    held, shed = Held(), list[str]()
    async with _client(held.app(4, shed)) as client:
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
    async with _client(held.app(8, shed)) as client:
        waiting = await _fill(client, held, 6, "/api/v1/generation-requests/abc")
        create = await client.post("/api/v1/generation-requests", json={}, headers=ALICE)
        batch = await client.post("/api/v1/generation-requests/batch", json={}, headers=ALICE)
        assert (create.status_code, batch.status_code) == (503, 503)
        assert shed == ["new_work", "new_work"]
        waiting.append(asyncio.create_task(client.get("/api/v1/credits")))  # a read: still in
        await held.until_entered(7)
        held.release.set()
        assert [(await task).status_code for task in waiting] == [200] * 7


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/n8n-callbacks/samples"),
        ("GET", "/api/v1/jobs/j1/status?request_id=r&expires=1&signature=good"),
        ("GET", "/api/v1/assets/a1/content?expires=1&signature=good"),  # a worker's fetch
        ("PUT", "/api/v1/assets/a1/content?expires=1&signature=good"),  # its upload target
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    ],
)
async def test_callbacks_valid_links_and_probes_are_never_shed(method: str, path: str) -> None:
    held, shed = Held(), list[str]()
    async with _client(held.app(4, shed)) as client:
        waiting = await _fill(client, held, 4, "/api/v1/generation-requests/abc")
        task = asyncio.create_task(client.request(method, path, content=b"{}"))
        await held.until_entered(5)
        held.release.set()
        assert (await task).status_code == 200
        assert [(await t).status_code for t in waiting] == [200] * 4
        assert shed == []


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/assets/a1/content?expires=1&signature=x", {}),  # a link that does not verify
        ("/api/v1/jobs/j1/status?signature=", {}),
        ("/api/v1/generation-requests/abc/events", ALICE),  # a stream is admitted, or shed
        ("/api/v1/generation-requests/abc", {**ALICE, "Prefer": "wait=1"}),
    ],
)
async def test_only_a_valid_link_skips_the_bound_and_a_long_wait_is_shed_before_it_waits(
    path: str, headers: dict[str, str]
) -> None:
    held, shed = Held(), list[str]()
    async with _client(held.app(4, shed)) as client:
        waiting = await _fill(client, held, 4, "/api/v1/generation-requests/abc")
        answer = await client.get(path, headers=headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (503, "overloaded")
        held.release.set()
        assert [(await t).status_code for t in waiting] == [200] * 4


async def test_long_lived_answers_give_their_place_back_while_they_wait() -> None:
    held, shed = Held(), list[str]()
    async with _client(held.app(4, shed)) as client:
        streams = await _fill(client, held, 10, "/api/v1/generation-requests/abc/events")
        waits = await _fill(
            client, held, 10, "/api/v1/generation-requests/abc", headers={"Prefer": "wait=5"}
        )
        task = asyncio.create_task(client.get("/api/v1/generation-requests/abc"))
        await held.until_entered(21)
        held.release.set()
        assert (await task).status_code == 200
        assert [(await t).status_code for t in streams + waits] == [200] * 20
        assert shed == []


async def test_a_body_without_a_valid_token_is_401_at_once_and_never_read() -> None:
    held, shed = Held(), list[str]()
    never = asyncio.Event()
    async with _client(held.app(4, shed)) as client:
        for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic x"}):
            answer = await asyncio.wait_for(
                client.post(
                    "/api/v1/assets",
                    content=_stalled(b"--boundary", never),
                    headers={**headers, "Content-Length": "100000"},
                ),
                timeout=2,
            )
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "unauthenticated"
            assert answer.headers["connection"] == "close"
    assert held.bodies_read == 0


async def test_stalled_bodies_take_no_place_and_a_body_that_completes_past_the_bound_is_shed() -> (
    None
):
    held, shed = Held(), list[str]()
    stall = asyncio.Event()
    async with _client(held.app(4, shed, uploads_per_user=100)) as client:
        stalled = [
            asyncio.create_task(
                client.post(
                    "/api/v1/generation-requests",
                    content=_stalled(b"{", stall),
                    headers={**ALICE, "Content-Type": "application/json"},
                )
            )
            for _ in range(10)
        ]
        await asyncio.sleep(0.05)
        # ten bodies on their way, and every place still free
        waiting = await _fill(client, held, 4, "/api/v1/generation-requests/abc")
        stall.set()  # their bodies arrive, with every place taken: shed once they are in
        assert {(await task).status_code for task in stalled} == {503}
        held.release.set()
        assert [(await t).status_code for t in waiting] == [200] * 4
        assert shed == ["new_work"] * 10


async def test_each_user_sends_a_bounded_number_of_uploads_at_once() -> None:
    held, shed = Held(), list[str]()
    stall = asyncio.Event()
    async with _client(held.app(32, shed, uploads_per_user=2)) as client:

        def upload(headers: dict[str, str]) -> Any:
            return asyncio.create_task(
                client.post("/api/v1/assets", content=_stalled(b"--b", stall), headers=headers)
            )

        first = [upload(ALICE), upload(ALICE)]
        await asyncio.sleep(0.05)
        third = await upload(ALICE)
        assert third.status_code == 429
        assert third.headers["retry-after"] == "2"
        error = third.json()["error"]
        assert error["code"] == "too_many_active_uploads"
        assert error["details"] == [{"limit": "active_uploads", "retry_after_s": 2}]
        others = upload(BOB)  # another user's upload is taken
        stall.set()
        await held.until_entered(3)
        held.release.set()
        assert [(await t).status_code for t in [*first, others]] == [200] * 3
        assert (await upload(ALICE)).status_code == 200  # the places are given back

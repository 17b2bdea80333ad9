"""Webhooks to API users through the outbox: a receiver that fails its first tries gets the
delivery once it recovers, signed, with the same webhook-id on every try; subscriptions
filter the events; a URL that turns private is given up, not retried."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..stub_servers import StubServer
from .test_security_api import configured_api

SECRET = "whsec_dGVzdC1vdXRib3VuZC13ZWJob29rLXNlY3JldA=="


class Receiver(StubServer):
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.tries: list[tuple[dict[str, str], bytes]] = []
        super().__init__([Route("/hooks", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        self.tries.append((dict(request.headers), await request.body()))
        if len(self.tries) <= self.failures:
            return JSONResponse({"error": "not yet"}, status_code=503)
        return JSONResponse({"ok": True})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    stub = Receiver(failures=2)
    await stub.start()
    yield stub
    await stub.stop()


def settings_for(receiver: Receiver) -> dict[str, Any]:
    return {
        "OUTBOUND_WEBHOOK_SECRET": SECRET,
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "WEBHOOK_RETRY_BASE_SECONDS": 0.05,
        "WEBHOOK_RETRY_MAX_SECONDS": 0.2,
    }


async def test_a_failing_receiver_gets_the_webhook_once_it_recovers(
    empty_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with configured_api(empty_database, tmp_path, **settings_for(receiver)) as api:
        url = f"{receiver.url}/hooks"
        request_id = (await api.created(webhook_url=url, webhook_events=["samples_ready"]))["id"]
        await api.callback("samples", await api.samples_payload(request_id))
        for _ in range(20):
            await api.container.relay.run_once()
            if len(receiver.tries) >= 3:
                break
            await asyncio.sleep(0.1)

    assert len(receiver.tries) == 3  # two failures, then delivered, then never again
    ids = {headers["webhook-id"] for headers, _ in receiver.tries}
    assert len(ids) == 1
    headers, body = receiver.tries[-1]
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["event"] == "samples_ready"
    assert payload["data"]["id"] == request_id
    assert payload["data"]["status"] == "awaiting_selection"
    assert len(payload["data"]["sample_asset_infos"]) == 4


async def test_only_subscribed_events_are_sent(
    empty_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.failures = 0
    async with configured_api(empty_database, tmp_path, **settings_for(receiver)) as api:
        url = f"{receiver.url}/hooks"
        subscribed = (
            await api.created(webhook_url=url, webhook_events=["completed", "cancelled"])
        )["id"]
        everything = (await api.created(webhook_url=url, user="bob"))["id"]
        for request_id, user in ((subscribed, "alice"), (everything, "bob")):
            await api.callback("samples", await api.samples_payload(request_id))
            await api.action(request_id, "cancel", user=user)
        await api.deliver_outbox()

    import json

    sent = [
        (json.loads(body)["data"]["id"], json.loads(body)["event"]) for _, body in receiver.tries
    ]
    assert sorted(sent) == sorted(
        [(subscribed, "cancelled"), (everything, "samples_ready"), (everything, "cancelled")]
    )


async def test_a_webhook_url_that_turns_private_is_given_up(
    empty_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with configured_api(empty_database, tmp_path, **settings_for(receiver)) as api:
        request_id = (await api.created(webhook_url=f"{receiver.url}/hooks"))["id"]
        await api.action(request_id, "cancel")
    # the same rows, delivered by a service that no longer allows 127.0.0.1
    async with configured_api(empty_database, tmp_path, OUTBOUND_WEBHOOK_SECRET=SECRET) as strict:
        await strict.deliver_outbox()
        rows = await strict.outbox_rows("webhook")
    assert receiver.tries == []
    assert [r["dead_at"] is not None for r in rows] == [True]
    assert "non-public" in rows[0]["last_error"]

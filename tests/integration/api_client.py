"""Drives the app over HTTP (httpx, in process) and reads its database to check outcomes."""

import io
import json
from decimal import Decimal
from typing import Any, Self

import httpx
from PIL import Image
from sqlalchemy import func, select

from creativeflow.services.aigeneration.composition.root import Container
from creativeflow.services.aigeneration.core.security import create_dev_token
from creativeflow.services.aigeneration.infrastructure.database.tables import (
    credit_accounts,
    credit_ledger_entries,
    generation_requests,
    outbox,
)
from creativeflow.services.aigeneration.infrastructure.simulator.signing import CallbackSigner

API = "/api/v1"
PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


def image_bytes(
    width: int, height: int, fmt: str = "png", colour: tuple[int, int, int] = (200, 40, 90)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, PIL_FORMATS[fmt])
    return buffer.getvalue()


VALID_CREATE: dict[str, Any] = {
    "project_id": "p1",
    "prompt": "A red fox in a neon city",
    "format": "instagram_post",
}


class ApiDriver:
    def __init__(self, app: Any, container: Container) -> None:
        self.container = container
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        )
        self.signer = CallbackSigner(container.settings.n8n_callback_secret)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def auth(self, user: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {create_dev_token(self.container.settings, user)}"}

    def admin_auth(self, user: str = "ops-ann") -> dict[str, str]:
        token = create_dev_token(self.container.settings, user, roles=["admin"])
        return {"Authorization": f"Bearer {token}"}

    async def create(self, user: str = "alice", **fields: Any) -> httpx.Response:
        return await self.http.post(
            f"{API}/generation-requests", json={**VALID_CREATE, **fields}, headers=self.auth(user)
        )

    async def created(self, user: str = "alice", **fields: Any) -> dict[str, Any]:
        response = await self.create(user, **fields)
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    async def get(self, request_id: str, user: str = "alice") -> httpx.Response:
        return await self.http.get(
            f"{API}/generation-requests/{request_id}", headers=self.auth(user)
        )

    async def action(
        self, request_id: str, name: str, body: dict[str, Any] | None = None, user: str = "alice"
    ) -> httpx.Response:
        return await self.http.post(
            f"{API}/generation-requests/{request_id}/{name}", json=body, headers=self.auth(user)
        )

    async def callback(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        sign: bool = True,
        message_id: str | None = None,
    ) -> httpx.Response:
        body = json.dumps(payload)
        headers = (
            self.signer.headers(body, message_id) if sign else {"content-type": "application/json"}
        )
        return await self.http.post(f"{API}/n8n-callbacks/{kind}", content=body, headers=headers)

    # --- what n8n would have received ---------------------------------------------------------

    async def deliver_outbox(self) -> None:
        await self.container.relay.drain()

    async def jobs(self) -> list[dict[str, Any]]:
        return [row["payload"] for row in await self.outbox_rows("job")]

    async def last_job(self, request_id: str) -> dict[str, Any]:
        return [j for j in await self.jobs() if j["request_id"] == request_id][-1]

    async def upload(
        self, target: dict[str, Any], data: bytes, content_type: str = "image/png"
    ) -> httpx.Response:
        """A worker's PUT to an upload target of the job: the service's own on the local store
        (in process), a presigned URL of the S3 server otherwise (over the network)."""
        return await self.fetch("PUT", target["upload_url"], data, content_type)

    async def fetch(
        self, method: str, url: str, data: bytes | None = None, content_type: str = "image/png"
    ) -> httpx.Response:
        """A link as a browser or a worker uses it: no token."""
        headers = {"Content-Type": content_type} if data is not None else {}
        if url.startswith(self.container.settings.public_base_url):
            return await self.http.request(method, url, content=data, headers=headers)
        async with httpx.AsyncClient() as network:
            return await network.request(method, url, content=data, headers=headers)

    async def upload_outputs(
        self, job: dict[str, Any], size: tuple[int, int] | None = None, count: int | None = None
    ) -> list[str]:
        """n8n's part: an image of the job's exact size (or `size`) at each upload target."""
        width, height = size or (job["width"], job["height"])
        targets = job["outputs"][: count or len(job["outputs"])]
        for index, target in enumerate(targets):
            data = image_bytes(width, height, job["output_format"], (index * 60 % 256, 80, 140))
            response = await self.upload(target, data, target["headers"]["Content-Type"])
            # a job no longer in flight refuses its uploads (409): the late callback that
            # follows is what such a test is about
            late = response.status_code == 409 and "no longer in flight" in response.text
            assert response.status_code in (200, 204) or late, response.text
        return [target["asset_id"] for target in targets]

    async def samples_payload(self, request_id: str, **upload: Any) -> dict[str, Any]:
        job = await self.last_job(request_id)
        ids = await self.upload_outputs(job, **upload)
        return {
            "request_id": request_id,
            "job_id": job["job_id"],
            "samples": [{"asset_id": asset_id, "seed": 7 + i} for i, asset_id in enumerate(ids)],
            "ai_model_used": "model-a",
            "processing_time_ms": 1200,
        }

    async def final_payload(self, request_id: str, **upload: Any) -> dict[str, Any]:
        job = await self.last_job(request_id)
        asset_id = (await self.upload_outputs(job, count=1, **upload))[0]
        return {
            "request_id": request_id,
            "job_id": job["job_id"],
            "asset": {"asset_id": asset_id},
            "ai_model_used": "model-b",
        }

    async def sample_id(self, request_id: str, index: int = 0, user: str = "alice") -> str:
        """The id of a sample the request shows (the newest round's), or else of an output of
        its newest job (a sample that has not arrived)."""
        body = (await self.get(request_id, user)).json()
        if body["sample_asset_infos"]:
            return str(body["sample_asset_infos"][index]["asset_id"])
        return str((await self.last_job(request_id))["outputs"][index]["asset_id"])

    async def until_awaiting_selection(self, user: str = "alice") -> str:
        request_id: str = (await self.created(user))["id"]
        response = await self.callback("samples", await self.samples_payload(request_id))
        assert response.json() == {"result": "applied"}
        return request_id

    # --- the database, for "nothing changed" and money checks -----------------------------

    async def outbox_rows(self, destination: str | None = None) -> list[Any]:
        query = select(outbox).order_by(outbox.c.id)
        if destination:
            query = query.where(outbox.c.destination == destination)
        async with self.container.engine.connect() as connection:
            return [row._asdict() for row in await connection.execute(query)]

    async def balance(self, user: str = "alice") -> Decimal:
        async with self.container.engine.connect() as connection:
            value = await connection.scalar(
                select(credit_accounts.c.balance).where(credit_accounts.c.user_id == user)
            )
        return value if value is not None else self.container.settings.local_ledger_starting_balance

    async def snapshot(self) -> dict[str, Any]:
        """Everything a bad input must leave untouched."""
        async with self.container.engine.connect() as connection:
            requests = (
                await connection.execute(
                    select(
                        generation_requests.c.id,
                        generation_requests.c.status,
                        generation_requests.c.version,
                    ).order_by(generation_requests.c.id)
                )
            ).all()
            return {
                "requests": [tuple(r) for r in requests],
                "outbox": await connection.scalar(select(func.count()).select_from(outbox)),
                "ledger": await connection.scalar(
                    select(func.count()).select_from(credit_ledger_entries)
                ),
                "balances": sorted(
                    tuple(r)
                    for r in await connection.execute(
                        select(credit_accounts.c.user_id, credit_accounts.c.balance)
                    )
                ),
            }

"""Drives the app over HTTP (httpx, in process) and reads its database to check outcomes."""

import json
import uuid
from decimal import Decimal
from typing import Any, Self

import httpx
from sqlalchemy import func, select

from creativeflow.services.aigeneration.core.dependencies import Container
from creativeflow.services.aigeneration.core.security import create_dev_token
from creativeflow.services.aigeneration.infrastructure.database.tables import (
    credit_accounts,
    credit_ledger_entries,
    generation_requests,
    outbox,
)
from creativeflow.services.aigeneration.infrastructure.simulator.signing import CallbackSigner

API = "/api/v1"
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

    async def samples_payload(self, request_id: str) -> dict[str, Any]:
        job = await self.last_job(request_id)
        return {
            "request_id": request_id,
            "job_id": job["job_id"],
            "samples": [
                {
                    "asset_id": f"r{job['round']}-s{i}",
                    "url": f"https://cdn.example/{request_id}/r{job['round']}-s{i}.png",
                    "resolution": f"{job['width']}x{job['height']}",
                    "format": "png",
                }
                for i in range(4)
            ],
            "ai_model_used": "model-a",
            "processing_time_ms": 1200,
        }

    async def final_payload(self, request_id: str) -> dict[str, Any]:
        job = await self.last_job(request_id)
        return {
            "request_id": request_id,
            "job_id": job["job_id"],
            "asset": {
                "asset_id": f"final-{uuid.uuid4().hex[:6]}",
                "url": f"https://cdn.example/{request_id}/final.png",
                "resolution": f"{job['width']}x{job['height']}",
                "format": job["output_format"],
            },
            "ai_model_used": "model-b",
        }

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

import asyncio
from collections.abc import AsyncGenerator, Collection
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from ._common import (
    TERMINAL,
    Call,
    backoff,
    batch_call,
    create_call,
    prefer,
    raise_for_error,
    selection,
    should_retry,
)
from .models import (
    BatchRead,
    CreditsRead,
    FormatsRead,
    GenerationRequestPage,
    GenerationRequestRead,
    ModelsRead,
)


class AsyncGenerationClient:
    """The service's API with asyncio. `create` retries network errors and 5xx with the same
    Idempotency-Key, so a retry never charges twice."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        token: str = "",
        *,
        api_prefix: str = "/api/v1",
        timeout: float = 30.0,
        retries: int = 3,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._base = base_url.rstrip("/") + api_prefix
        self._headers = {"Authorization": f"Bearer {token}"}
        self._retries = retries

    async def __aenter__(self) -> "AsyncGenerationClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create(
        self,
        prompt: str,
        format: str,
        project_id: str = "default",
        *,
        idempotency_key: str | None = None,
        wait: int | None = None,
        **fields: Any,
    ) -> GenerationRequestRead:
        """`wait`: seconds to let the service hold the answer until the samples are ready
        (`Prefer: wait`); the answer is the request as it then is."""
        call = create_call(prompt, format, project_id, idempotency_key, fields, wait)
        return GenerationRequestRead.model_validate(await self._send(call, retry=True))

    async def create_batch(
        self, requests: list[dict[str, Any]], *, idempotency_key: str | None = None
    ) -> list[GenerationRequestRead]:
        """Several requests (bodies as for create), all or nothing, charged as one."""
        body = await self._send(batch_call(requests, idempotency_key), retry=True)
        return BatchRead.model_validate(body).items

    async def get(self, request_id: str) -> GenerationRequestRead:
        body = await self._send(Call("GET", f"/generation-requests/{request_id}"))
        return GenerationRequestRead.model_validate(body)

    async def list(
        self, project_id: str | None = None, status: str | None = None, page_size: int = 20
    ) -> AsyncGenerator[GenerationRequestRead, None]:
        params: dict[str, Any] = {"limit": page_size, "project_id": project_id, "status": status}
        while True:
            query = {k: v for k, v in params.items() if v is not None}
            page = GenerationRequestPage.model_validate(
                await self._send(Call("GET", "/generation-requests", params=query))
            )
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            params["cursor"] = page.next_cursor

    async def select_sample(
        self,
        request_id: str,
        sample_id: str,
        resolution: str = "standard",
        output_format: str = "png",
        *,
        wait: int | None = None,
    ) -> GenerationRequestRead:
        """A final from any sample of any round; one request may have several finals."""
        path = f"/generation-requests/{request_id}/select-sample"
        body = await self._send(
            Call(
                "POST",
                path,
                json=selection(sample_id, resolution, output_format),
                headers=prefer(wait),
            )
        )
        return GenerationRequestRead.model_validate(body)

    async def regenerate(
        self, request_id: str, *, wait: int | None = None
    ) -> GenerationRequestRead:
        path = f"/generation-requests/{request_id}/regenerate-samples"
        call = Call("POST", path, headers=prefer(wait))
        return GenerationRequestRead.model_validate(await self._send(call))

    async def vary(
        self,
        request_id: str,
        sample_id: str,
        strength: str = "subtle",
        prompt: str | None = None,
        *,
        wait: int | None = None,
    ) -> GenerationRequestRead:
        """A new round of samples made from one sample (`subtle` or `strong`)."""
        body: dict[str, Any] = {"sample_id": sample_id, "strength": strength}
        if prompt is not None:
            body["prompt"] = prompt
        path = f"/generation-requests/{request_id}/vary"
        call = Call("POST", path, json=body, headers=prefer(wait))
        return GenerationRequestRead.model_validate(await self._send(call))

    async def cancel(self, request_id: str) -> GenerationRequestRead:
        path = f"/generation-requests/{request_id}/cancel"
        return GenerationRequestRead.model_validate(await self._send(Call("POST", path)))

    async def formats(self) -> FormatsRead:
        return FormatsRead.model_validate(await self._send(Call("GET", "/formats")))

    async def models(self) -> ModelsRead:
        return ModelsRead.model_validate(await self._send(Call("GET", "/models")))

    async def credits(self) -> CreditsRead:
        return CreditsRead.model_validate(await self._send(Call("GET", "/credits")))

    async def events(
        self, request_id: str, last_event_id: str | None = None
    ) -> AsyncGenerator[GenerationRequestRead, None]:
        """Each change of the request, live, until it ends (Server-Sent Events)."""
        headers = {**self._headers, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        url = f"{self._base}/generation-requests/{request_id}/events"
        async with aconnect_sse(self._http, "GET", url, headers=headers, timeout=None) as source:
            if not source.response.is_success:
                await source.response.aread()
                raise_for_error(source.response)
            async for event in source.aiter_sse():
                if event.event == "status":
                    yield GenerationRequestRead.model_validate_json(event.data)

    async def wait_for(self, request_id: str, statuses: Collection[str]) -> GenerationRequestRead:
        """The request as soon as it reaches one of `statuses` (or ends)."""
        last: GenerationRequestRead | None = None
        async for last in self.events(request_id):
            if last.status in statuses or last.status in TERMINAL:
                return last
        return last if last is not None else await self.get(request_id)

    async def download(self, url: str, path: Path) -> Path:
        """An asset link carries its own signature: no token goes with it (a presigned S3 URL
        refuses a second way of authenticating)."""
        response = await self._http.get(url, follow_redirects=True)
        raise_for_error(response)
        await asyncio.to_thread(path.write_bytes, response.content)
        return path

    async def _send(self, call: Call, retry: bool = False) -> Any:
        attempts = self._retries + 1 if retry else 1
        for attempt in range(attempts):
            response: httpx.Response | None = None
            try:
                response = await self._http.request(
                    call.method,
                    self._base + call.path,
                    json=call.json,
                    params=call.params,
                    headers={**self._headers, **(call.headers or {})},
                )
            except httpx.TransportError:
                if attempt + 1 == attempts:
                    raise
            if attempt + 1 < attempts and should_retry(response):
                await asyncio.sleep(backoff(attempt, response))
                continue
            assert response is not None
            raise_for_error(response)
            return response.json()

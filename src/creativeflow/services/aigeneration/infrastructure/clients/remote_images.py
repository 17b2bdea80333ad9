"""Downloads an image a v1 callback names by URL (contract §6): through the same SSRF policy as
webhooks (checked before the call, no redirects followed), at most 30 s and MAX_ASSET_BYTES."""

import asyncio

import httpx

from ...application.errors import Unfetchable
from ...domain.errors import InvalidValue
from .webhook_url_policy import PublicWebhookUrlPolicy

FETCH_SECONDS = 30.0


class HttpRemoteImages:
    def __init__(self, http: httpx.AsyncClient, policy: PublicWebhookUrlPolicy) -> None:
        self._http = http
        self._policy = policy

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        try:
            await self._policy.check(url)
        except InvalidValue as refused:
            raise Unfetchable(refused.message.replace("webhook_url", "url")) from None
        try:
            async with asyncio.timeout(FETCH_SECONDS):
                return await self._download(url, max_bytes)
        except TimeoutError:
            raise Unfetchable(f"took longer than {FETCH_SECONDS:.0f} s") from None
        except httpx.HTTPError as exc:
            raise Unfetchable(exc.__class__.__name__) from None

    async def _download(self, url: str, max_bytes: int) -> bytes:
        async with self._http.stream("GET", url, follow_redirects=False) as response:
            if response.status_code != 200:
                raise Unfetchable(f"answered {response.status_code}")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise Unfetchable(f"is larger than {max_bytes} bytes")
            return bytes(data)

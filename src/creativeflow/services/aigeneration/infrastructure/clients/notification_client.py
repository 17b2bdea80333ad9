"""The notification service over HTTP (contract §4). Called by the outbox relay only, so an
outage delays notifications and never fails a request or a callback."""

from typing import Any

import httpx

from ...application.errors import DeliveryFailed
from .http_errors import translate_http_errors

SERVICE = "notification service"


class HttpNotificationClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/notifications"

    async def notify(self, notification: dict[str, Any]) -> None:
        async with translate_http_errors(SERVICE):
            response = await self._http.post(self._url, json=notification)
        if not response.is_success:
            raise DeliveryFailed(f"{SERVICE} answered {response.status_code}")

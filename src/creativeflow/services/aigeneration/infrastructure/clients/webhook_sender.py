"""Webhooks to API users (REQ-017, contract "Webhooks to the API user"): the outbox row's
payload POSTed to the request's webhook_url, signed per Standard Webhooks with
OUTBOUND_WEBHOOK_SECRET. The row key is the `webhook-id`, so every retry of one delivery
carries the same id and receivers can dedupe. The URL is checked again before each try: a name
that now resolves to an inside address is given up, not retried."""

import json
import logging
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from ...application.errors import DeliveryFailed, Undeliverable
from ...application.ports import OutboxMessage
from ...domain.errors import InvalidValue
from .webhook_url_policy import PublicWebhookUrlPolicy

log = logging.getLogger(__name__)


class WebhookSender:
    def __init__(
        self, http: httpx.AsyncClient, secret: str, url_policy: PublicWebhookUrlPolicy
    ) -> None:
        self._http = http
        self._signer = Webhook(secret)
        self._url_policy = url_policy

    async def deliver(self, message: OutboxMessage) -> None:
        url = message.headers["url"]
        try:
            await self._url_policy.check(url)
        except InvalidValue as refused:
            raise Undeliverable(refused.message) from None
        body = json.dumps(message.payload, separators=(",", ":"))
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "CreativeFlow-AIGeneration-Webhooks/1",
            "webhook-id": message.key,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(message.key, now, body),
        }
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{url}: {exc.__class__.__name__}") from None
        if not response.is_success:
            raise DeliveryFailed(f"{url} answered {response.status_code}")

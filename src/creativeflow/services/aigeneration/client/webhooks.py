from collections.abc import Mapping

from standardwebhooks import Webhook

from ._common import WebhookEvent


def verify_webhook(body: bytes | str, headers: Mapping[str, str], secret: str) -> WebhookEvent:
    """For API users receiving our webhooks: check the Standard Webhooks signature (and its
    5-minute timestamp window) and parse the event. Raises on a bad signature. Dedupe on the
    `webhook-id` header: a retried delivery carries the same one."""
    payload = Webhook(secret).verify(body, dict(headers))
    return WebhookEvent.model_validate(payload)

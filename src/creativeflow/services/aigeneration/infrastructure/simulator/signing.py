"""Standard Webhooks signing of the callbacks the simulator (or a test) sends."""

import uuid
from datetime import UTC, datetime

from standardwebhooks import Webhook


class CallbackSigner:
    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def headers(self, body: str, message_id: str | None = None) -> dict[str, str]:
        message_id = message_id or f"msg_{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(message_id, now, body),
            "content-type": "application/json",
        }

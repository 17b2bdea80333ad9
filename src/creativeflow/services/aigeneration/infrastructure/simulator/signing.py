"""Standard Webhooks signing of the callbacks the simulator (or a test) sends, and the secret
that makes n8n's own signing agree with the service."""

import base64
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


def n8n_callback_secret(printable_key: str) -> str:
    """The N8N_CALLBACK_SECRET that verifies what n8n's Crypto node signs with `printable_key`.
    The node keys its HMAC with the UTF-8 bytes of its secret, while a Standard Webhooks secret
    is `whsec_` + the base64 of the key bytes: the same key, base64-encoded."""
    return "whsec_" + base64.b64encode(printable_key.encode()).decode()

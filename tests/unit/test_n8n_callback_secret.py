"""n8n's Crypto node keys its HMAC with the UTF-8 text of its secret; the service verifies
Standard Webhooks signatures with a `whsec_` secret. `n8n_callback_secret` makes them agree."""

import base64
import hashlib
import hmac
import json
import subprocess
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from creativeflow.services.aigeneration.infrastructure.simulator.signing import (
    n8n_callback_secret,
)

from ..e2e.conftest import AIGEN

BODY = json.dumps({"request_id": "r", "job_id": "j", "error_code": "model_error"})


def signed_like_the_workflow(key: str, body: str) -> dict[str, str]:
    """What the shipped workflow's Crypto node and HTTP Request node send."""
    message_id, timestamp = "msg_j_error", str(int(time.time()))
    digest = hmac.new(key.encode(), f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    signature = base64.b64encode(digest.digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
    }


def test_the_service_verifies_what_n8n_signs_with_the_printable_key() -> None:
    key = "k3y-printable_0123456789abcdefXYZ"

    verified = Webhook(n8n_callback_secret(key)).verify(BODY, signed_like_the_workflow(key, BODY))

    assert verified["job_id"] == "j"


def test_the_printable_key_itself_used_as_whsec_does_not_verify() -> None:
    """The mistake the conversion prevents: pasting the n8n key after `whsec_`."""
    key = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()

    with pytest.raises(WebhookVerificationError):
        Webhook(f"whsec_{key}").verify(BODY, signed_like_the_workflow(key, BODY))


def test_aigen_callback_secret_prints_a_matching_pair() -> None:
    printed = subprocess.run(
        [AIGEN, "callback-secret"], capture_output=True, text=True, check=True
    ).stdout
    key = printed.splitlines()[0].rsplit(": ", 1)[1]
    secret = printed.splitlines()[1].split("N8N_CALLBACK_SECRET=", 1)[1]

    assert key.isprintable() and len(key) >= 32
    Webhook(secret).verify(BODY, signed_like_the_workflow(key, BODY))

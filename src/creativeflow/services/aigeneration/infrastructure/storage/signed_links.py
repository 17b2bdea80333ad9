"""Links of the service itself that carry their own permission (contract §6): the local
store's asset links and upload targets, and (later) job status URLs. HMAC-SHA256 over the
method, the asset id, what else the link is bound to, and the expiry in Unix seconds."""

import base64
import hashlib
import hmac
from datetime import datetime

from ...application.ports import Clock


class HmacSignedLinks:
    def __init__(self, key: bytes, clock: Clock) -> None:
        self._key = key
        self._clock = clock

    def sign(self, method: str, asset_id: str, expires_at: datetime, extra: str = "") -> str:
        expires = str(int(expires_at.timestamp()))
        return f"expires={expires}&signature={self._signature(method, asset_id, expires, extra)}"

    def valid(
        self, method: str, asset_id: str, expires: str, signature: str, extra: str = ""
    ) -> bool:
        # ASCII digits only: str.isdigit() takes "²" too, which int() then refuses
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
            return False
        if int(expires) < self._clock.now().timestamp():
            return False
        expected = self._signature(method, asset_id, expires, extra)
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    def _signature(self, method: str, asset_id: str, expires: str, extra: str) -> str:
        message = "\n".join((method, asset_id, extra, expires)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

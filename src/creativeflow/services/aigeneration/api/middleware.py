"""Pure ASGI middleware (no per-request task as with BaseHTTPMiddleware): the request id,
security headers and the header size limit."""

import json
import re
import time
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..application.correlation import request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


# Sent on every response. The API serves JSON only, so it may load nothing and be framed by
# nobody; the interactive docs page needs its scripts, so it gets none of the CSP.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# the console loads its own script and style, and images from wherever assets are served
CONSOLE_CSP = (
    b"content-security-policy",
    b"default-src 'self'; img-src 'self' https: http: data:; connect-src 'self'; "
    b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)


class _BodyTooLarge(Exception):
    pass


class SecurityMiddleware:
    """Security headers on every response; oversized headers (431) and bodies (413) refused
    with the contract's error body. (Starlette's own body limit answers in plain text.)"""

    def __init__(
        self, app: ASGIApp, max_header_bytes: int, max_body_bytes: int, docs_prefix: str
    ) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.docs_prefix = docs_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if sum(len(k) + len(v) for k, v in headers) > self.max_header_bytes:
            await _refuse(
                send, 431, "request_header_fields_too_large", "The request headers are too large."
            )
            return
        declared = next((v for k, v in headers if k == b"content-length"), b"0")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(send, 413, "payload_too_large", "The request body is too large.")
            return
        path = scope["path"]
        csp = None if path.startswith(self.docs_prefix) else API_CSP
        if path.startswith("/console"):
            csp = CONSOLE_CSP
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:  # a chunked body that lied by omission
                raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                extra = [*SECURITY_HEADERS, csp] if csp else SECURITY_HEADERS
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except _BodyTooLarge:
            if not started:
                await _refuse(send, 413, "payload_too_large", "The request body is too large.")


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    error: dict[str, object] = {
        "code": code,
        "message": message,
        "details": [],
        "request_id": request_id_var.get(),
    }
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *SECURITY_HEADERS, API_CSP],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps({"error": error}).encode()})


class HttpMetricsMiddleware:
    """Latency by route template (not raw path: ids would explode the label set) and status."""

    def __init__(self, app: ASGIApp, observe: Callable[[str, str, int, float], None]) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            elapsed = time.perf_counter() - started
            self.observe(scope["method"], _route_template(scope), status, elapsed)


def _route_template(scope: Scope) -> str:
    """`/api/v1/generation-requests/{request_id}` for any id. The route FastAPI leaves in the
    scope knows only its path inside its router, so the router's prefix (which has no
    parameters) is taken from the front of the real path."""
    template = getattr(scope.get("route"), "path", None)
    if not template:
        return "unmatched"
    real = scope["path"].rstrip("/").split("/")
    own = template.rstrip("/").split("/")
    prefix = "/".join(real[: max(1, len(real) - len(own) + 1)])
    return f"{prefix}{template}" if not scope["path"].startswith(template) else template

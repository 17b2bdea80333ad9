"""Pure ASGI middleware (no per-request task as with BaseHTTPMiddleware): the request id,
security headers and the header size limit."""

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..application.asset_service import LINK_REFUSED
from ..application.correlation import request_id_var
from ..domain.errors import ErrorCode
from ..domain.text import text_problem

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_ASCII_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # all but tab


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

        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception:
            # Here, not in Starlette's outermost error middleware: that one runs after this
            # context is gone, and its 500 would carry neither the id nor its header.
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await refuse(
                send_with_id, 500, ErrorCode.INTERNAL_ERROR, "Something went wrong on our side."
            )
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


class _BodyRefused(Exception):
    """A body that cannot be taken: too large (413), or not arriving in time (408)."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class BodyLimits:
    """How large a body may be, and how fast it must arrive. A body waits at most
    `timeout_s` for each next piece, and all of it must be in within `timeout_s` plus its
    length (declared, or received so far) at `min_bytes_per_second`: a client that stalls or
    trickles holds a connection for seconds, not for ever (uvicorn bounds neither)."""

    max_bytes: int  # JSON bodies
    max_upload_bytes: int  # POST /assets, its form included
    max_asset_bytes: int  # an upload target of the local store
    timeout_s: float
    min_bytes_per_second: int


class SecurityMiddleware:
    """Security headers on every response; oversized headers (431) and bodies (413, declared or
    not), bodies that do not arrive in time (408, the connection closed) and text no parameter
    may hold (422; 403 in a signed link) refused with the contract's error body. (Starlette's
    own body limit answers in plain text.)"""

    def __init__(
        self,
        app: ASGIApp,
        max_header_bytes: int,
        body: BodyLimits,
        api_prefix: str,
        docs_prefix: str,
    ) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.body = body
        self.uploads = f"{api_prefix}/assets"
        self.link_paths = signed_link_paths(api_prefix)
        self.docs_prefix = docs_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        body_limit = self._body_limit(path)
        if refusal := self._refusal(scope, body_limit):
            await refuse(send, *refusal)
            return
        csp = CONSOLE_CSP if path.startswith("/console") else API_CSP
        extra = SECURITY_HEADERS if path.startswith(self.docs_prefix) else [*SECURITY_HEADERS, csp]
        body = _GuardedBody(scope, receive, self.body, body_limit)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if body.refused is not None:
                return  # the app's answer to a body it could not read (FastAPI's 400): ours wins
            if message["type"] == "http.response.start":
                started = True
                headers = extra
                if not body.complete and has_body(scope):
                    # answered before its body was in (a refusal): the rest is never read, so
                    # the connection cannot carry another request; closing it also lets go of
                    # a client that would otherwise stall on a keep-alive connection for ever
                    headers = [*extra, (b"connection", b"close")]
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        with contextlib.suppress(_BodyRefused):
            await self.app(scope, body.receive, send_with_headers)
        if (refused := body.refused) is not None and not started:
            close = [(b"connection", b"close")]
            await refuse(send, refused.status, refused.code, refused.message, headers=close)

    def _refusal(
        self, scope: Scope, body_limit: int
    ) -> tuple[int, ErrorCode, str, list[dict[str, Any]]] | None:
        """What is refused from the headers alone: too large, or text no parameter may hold."""
        if sum(len(k) + len(v) for k, v in scope["headers"]) > self.max_header_bytes:
            message = "The request headers are too large."
            return 431, ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE, message, []
        declared = declared_length(scope)
        if declared is not None and declared > body_limit:
            return 413, ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large.", []
        if problems := _text_problems(scope):
            if self.link_paths.match(scope["path"]) and any(p["field"] != "path" for p in problems):
                # a link parameter that is not even text is a tampered link: the same 403
                return 403, ErrorCode.FORBIDDEN, LINK_REFUSED, []
            fields = ", ".join(problem["field"] for problem in problems)
            return 422, ErrorCode.VALIDATION_ERROR, f"Invalid input: {fields}.", problems
        return None

    def _body_limit(self, path: str) -> int:
        if path.rstrip("/") == self.uploads:
            return self.body.max_upload_bytes
        if path.startswith(self.uploads):
            return self.body.max_asset_bytes
        return self.body.max_bytes


class _GuardedBody:
    """A request's `receive`, bounded: each next piece within `timeout_s`, all of it within
    `timeout_s` plus its length at `min_bytes_per_second` (408), at most `limit` bytes (413,
    chunked or not). After the body, a wait for the client to go away is not bounded."""

    def __init__(self, scope: Scope, receive: Receive, limits: BodyLimits, limit: int) -> None:
        self._receive = receive
        self._limits = limits
        self._limit = limit
        self._declared = declared_length(scope) or 0
        self._loop = asyncio.get_running_loop()
        self._started_at = self._loop.time()
        self._received = 0
        self.complete = False
        self.refused: _BodyRefused | None = None

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()
        length = max(self._declared, self._received)
        allowed = self._limits.timeout_s + length / self._limits.min_bytes_per_second
        wait = min(self._limits.timeout_s, self._started_at + allowed - self._loop.time())
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                message = await self._receive()
        except TimeoutError:
            message_text = "The request body did not arrive in time."
            self.refused = _BodyRefused(408, ErrorCode.REQUEST_TIMEOUT, message_text)
            raise self.refused from None
        self._received += len(message.get("body", b""))
        self.complete = not message.get("more_body", False)
        if self._received > self._limit:  # a chunked body that lied by omission
            message_text = "The request body is too large."
            self.refused = _BodyRefused(413, ErrorCode.PAYLOAD_TOO_LARGE, message_text)
            raise self.refused
        return message


def signed_link_paths(api_prefix: str) -> re.Pattern[str]:
    """The routes that take a signed link: an image's content (and upload target) and a
    job's status URL; the groups `asset_id` and `job_id` say which."""
    prefix = re.escape(api_prefix)
    return re.compile(
        rf"^{prefix}/(?:assets/(?P<asset_id>[^/]+)/content|jobs/(?P<job_id>[^/]+)/status)/?$"
    )


def has_body(scope: Scope) -> bool:
    """Whether the request announces a body: a length above 0, or chunks."""
    if any(name == b"transfer-encoding" for name, _ in scope["headers"]):
        return True
    return (declared_length(scope) or 0) > 0


def declared_length(scope: Scope) -> int | None:
    """The body length a request declares (`Content-Length`), or None."""
    value = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    return int(value) if value is not None and value.isdigit() else None  # bytes: ASCII only


def _text_problems(scope: Scope) -> list[dict[str, str]]:
    """Every string that arrives outside a JSON body, checked once for what no parameter may
    hold: bytes that are not UTF-8 (a percent-encoded lone surrogate, say), NUL and control
    characters, in the path, each query name and value and each header value. Lengths are
    the parameters' own business (their declarations in the routes)."""
    found = []
    raw_path = scope.get("raw_path") or scope["path"].encode()
    if problem := _decoded_problem(raw_path.split(b"?", 1)[0]):
        found.append({"field": "path", "message": problem})
    for pair in scope.get("query_string", b"").split(b"&"):
        name, _, value = pair.partition(b"=")
        if problem := _decoded_problem(name) or _decoded_problem(value):
            label = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
            found.append({"field": f"query.{_printable(label)}", "message": problem})
    for name, raw in scope["headers"]:
        if problem := _header_problem(raw):
            found.append(
                {"field": f"header.{_printable(name.decode('latin-1'))}", "message": problem}
            )
    return found


def _header_problem(raw: bytes) -> str | None:
    """A header value may hold a tab (RFC 9110 field-value) and UTF-8 text some clients send;
    never bytes that are not UTF-8, NUL or another control character."""
    if raw.isascii():  # nearly every header: one C-level scan
        return "must not contain control characters" if _ASCII_CONTROL.search(raw) else None
    try:
        return text_problem(raw.decode("utf-8").replace("\t", " "))
    except UnicodeDecodeError:
        return "must be valid UTF-8 text"


def _decoded_problem(encoded: bytes) -> str | None:
    """What is wrong with a percent-encoded piece of the URL once decoded, if anything."""
    try:
        text = unquote_to_bytes(encoded.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return "must be valid UTF-8 text"
    return text_problem(text)


def _printable(name: str) -> str:
    return "".join(char if char.isprintable() else "?" for char in name)[:64]


async def refuse(
    send: Send,
    status: int,
    code: ErrorCode,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    error: dict[str, object] = {
        "code": code,
        "message": message,
        "details": details or [],
        "request_id": request_id_var.get(),
    }
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                *(headers or []),
                *SECURITY_HEADERS,
                API_CSP,
            ],
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

"""Who may start work in this process, and how much at once.

A request is let in only once it can do work for someone: a request that will carry a body to
a user's route shows a valid bearer token first (checked from its headers, before one byte of
the body is read: `401` at once, the connection closed), and it counts toward the process's
bound only once its body is in. So connections that stall, or callers without a token, hold
a socket for at most the body's time limit (api/middleware.py) and never a place of work.

Past the bound a request is answered `503 overloaded` with `Retry-After` at once, for a few
microseconds, so the requests already admitted keep their latency; the client and the console
retry those. New work (a create, a batch) is shed first, at three quarters of the bound, so
flows already under way finish before new ones start. Each user may send at most
`max_uploads_per_user` uploads at once (`429`): uploads are the large bodies.

What is never shed: n8n's callbacks (finishing accepted work is what frees capacity, and n8n's
own concurrency bounds it), a validly signed link (a worker's upload target, its status
question, an image fetched by link; a link that does not verify counts like any request),
probes and metrics. A long-lived answer (an event stream, `Prefer: wait`) is admitted or shed
like any request and gives its place back when it starts waiting (`release`), since it then
holds no CPU."""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import ErrorCode
from .middleware import has_body, refuse, signed_link_paths

NEVER_SHED = ("/healthz", "/readyz", "/metrics", "/console")
NEW_WORK = ("/generation-requests", "/generation-requests/batch")
BODY_METHODS = (b"POST", b"PUT", b"PATCH")
_PLACE = "aigen.release_place"  # the scope key of a request's `release`


@dataclass(frozen=True)
class Gate:
    """What admission asks the service: who a bearer token is (raising when it is not valid),
    and whether a request's signed link verifies. Given by the composition root's services."""

    user_of: Callable[[str], Awaitable[str]]
    link_verifies: Callable[[Scope], bool]


class LoadSheddingMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_in_flight: int,
        api_prefix: str,
        retry_after_seconds: int,
        gate: Callable[[], Gate | None],
        max_uploads_per_user: int = 4,
        on_shed: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.new_work_limit = max(1, max_in_flight * 3 // 4)
        self.api_prefix = api_prefix
        self.callbacks = f"{api_prefix}/n8n-callbacks"
        self.link_paths = signed_link_paths(api_prefix)
        self.uploads = f"{api_prefix}/assets"
        self.new_work = {f"{api_prefix}{path}" for path in NEW_WORK}
        self.retry_after = str(retry_after_seconds).encode()
        self.gate = gate  # None until the lifespan has built the services (e.g. in a probe)
        self.max_uploads_per_user = max_uploads_per_user
        self.on_shed = on_shed
        self.in_flight = 0
        self.uploads_by_user: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(NEVER_SHED):
            await self.app(scope, receive, send)
            return
        gate = self.gate()
        if self._signed_link(scope) and gate is not None and gate.link_verifies(scope):
            await self.app(scope, receive, send)
            return
        user = None
        if self._needs_token_first(scope):
            user = await self._user(gate, scope)
            if user is None:
                await refuse(
                    send,
                    401,
                    ErrorCode.UNAUTHENTICATED,
                    "A valid bearer token is required.",
                    headers=[(b"www-authenticate", b"Bearer"), (b"connection", b"close")],
                )
                return
        uploader = user if scope["method"] == "POST" and path == self.uploads else None
        if uploader is None:
            await self._admitted(scope, receive, send)
            return
        if self.uploads_by_user.get(uploader, 0) >= self.max_uploads_per_user:
            await self._too_many_uploads(send)
            return
        self.uploads_by_user[uploader] = self.uploads_by_user.get(uploader, 0) + 1
        try:
            await self._admitted(scope, receive, send)
        finally:
            if left := self.uploads_by_user[uploader] - 1:
                self.uploads_by_user[uploader] = left
            else:
                del self.uploads_by_user[uploader]

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request takes a place once its body is in (at once when it has none), or is
        shed then; n8n's callbacks take one and are never shed."""
        kind = self._kind(scope)
        holding = False

        def take() -> bool:
            nonlocal holding
            if kind is not None and self.in_flight >= self._limit(kind):
                return False
            self.in_flight += 1
            holding = True
            return True

        def release() -> None:
            nonlocal holding
            if holding:
                self.in_flight -= 1
                holding = False

        scope[_PLACE] = release
        try:
            if not _has_body(scope):
                if not take():
                    await self._shed(send, kind)
                    return
                await self.app(scope, receive, send)
                return
            shed = False

            async def receive_then_take() -> Message:
                nonlocal shed
                message = await receive()
                last = message["type"] == "http.request" and not message.get("more_body")
                if last and not holding and not take():
                    shed = True
                    raise _Shed
                return message

            answered = False

            async def send_unless_shed(message: Message) -> None:
                nonlocal answered
                if shed:
                    return  # the app's answer to the body it could not read: the 503 wins
                answered = answered or message["type"] == "http.response.start"
                await send(message)

            with contextlib.suppress(_Shed):
                await self.app(scope, receive_then_take, send_unless_shed)
            if shed and not answered:
                await self._shed(send, kind)
        finally:
            release()

    def _signed_link(self, scope: Scope) -> bool:
        return b"signature=" in scope.get("query_string", b"") and bool(
            self.link_paths.match(scope["path"])
        )

    def _needs_token_first(self, scope: Scope) -> bool:
        """A request that may carry a body to a user's route: everything with a body under
        the API but n8n's callbacks (signed over their body) and signed upload targets."""
        path: str = scope["path"]
        return (
            scope["method"].encode() in BODY_METHODS
            and path.startswith(f"{self.api_prefix}/")
            and not path.startswith(self.callbacks)
            and not self._signed_link(scope)
        )

    async def _user(self, gate: Gate | None, scope: Scope) -> str | None:
        if gate is None:
            return None
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return await gate.user_of(token.strip())
        except Exception:  # any token that does not verify is no user
            return None

    def _kind(self, scope: Scope) -> str | None:
        """`new_work`, `user` (may be shed), or None (never shed)."""
        path: str = scope["path"]
        if path.startswith(self.callbacks):
            return None
        if scope["method"] == "POST" and path.rstrip("/") in self.new_work:
            return "new_work"
        return "user"

    def _limit(self, kind: str) -> int:
        return self.new_work_limit if kind == "new_work" else self.max_in_flight

    async def _shed(self, send: Send, kind: str | None) -> None:
        self.on_shed(kind or "user")
        await refuse(
            send,
            503,
            ErrorCode.OVERLOADED,
            "The service is busy; try again after the Retry-After delay.",
            headers=[(b"retry-after", self.retry_after)],
        )

    async def _too_many_uploads(self, send: Send) -> None:
        seconds = int(self.retry_after)
        await refuse(
            send,
            429,
            ErrorCode.TOO_MANY_ACTIVE_UPLOADS,
            f"At most {self.max_uploads_per_user} uploads of one user are received at once.",
            [{"limit": "active_uploads", "retry_after_s": seconds}],
            headers=[(b"retry-after", self.retry_after), (b"connection", b"close")],
        )


class _Shed(Exception):
    """Raised from `receive` when a request's body is in but no place is free."""


def release(scope: Scope) -> None:
    """Gives the request's place back: it now waits (a stream, `Prefer: wait`), holding no CPU."""
    give_back = scope.get(_PLACE)
    if give_back is not None:
        give_back()


def _has_body(scope: Scope) -> bool:
    return scope["method"].encode() in BODY_METHODS and has_body(scope)

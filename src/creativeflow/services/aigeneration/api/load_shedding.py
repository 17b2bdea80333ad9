"""Overload sheds early instead of queueing without bound. Each process admits a bounded number
of requests at once; a user's request past that bound is answered `503 overloaded` with
`Retry-After` at once, for a few microseconds, so the requests already admitted keep their
latency. The client and the console retry those.

What is never shed: the work n8n does for requests already accepted (callbacks, upload targets,
its status questions, the images it fetches by signed link) — finishing accepted work is what
frees capacity, and n8n's own concurrency bounds it; probes and metrics; and the long-lived
answers (event streams, `Prefer: wait`), which hold no CPU while they wait and are not counted.
New work (a create, a batch) is shed first, at three quarters of the bound, so flows already
under way finish before new ones start."""

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from .middleware import refuse

NEVER_SHED = ("/healthz", "/readyz", "/metrics", "/console")
NEW_WORK = ("/generation-requests", "/generation-requests/batch")


class LoadSheddingMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_in_flight: int,
        api_prefix: str,
        retry_after_seconds: int,
        on_shed: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.new_work_limit = max(1, max_in_flight * 3 // 4)
        self.workers_prefixes = (f"{api_prefix}/n8n-callbacks", f"{api_prefix}/jobs/")
        self.new_work = {f"{api_prefix}{path}" for path in NEW_WORK}
        self.retry_after = str(retry_after_seconds).encode()
        self.on_shed = on_shed
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _long_lived(scope):
            await self.app(scope, receive, send)
            return
        kind = self._kind(scope)
        if kind is not None and self.in_flight >= self._limit(kind):
            self.on_shed(kind)
            await refuse(
                send,
                503,
                "overloaded",
                "The service is busy; try again after the Retry-After delay.",
                headers=[(b"retry-after", self.retry_after)],
            )
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _kind(self, scope: Scope) -> str | None:
        """`new_work`, `user` (may be shed), or None (never shed)."""
        path: str = scope["path"]
        if path.startswith(NEVER_SHED) or path.startswith(self.workers_prefixes):
            return None
        if b"signature=" in scope.get("query_string", b""):  # a signed link: a worker's fetch
            return None
        if scope["method"] == "POST" and path.rstrip("/") in self.new_work:
            return "new_work"
        return "user"

    def _limit(self, kind: str) -> int:
        return self.new_work_limit if kind == "new_work" else self.max_in_flight


def _long_lived(scope: Scope) -> bool:
    """An event stream, or an answer that waits for its step (`Prefer: wait`)."""
    if scope["path"].endswith("/events"):
        return True
    prefer = next((v for k, v in scope["headers"] if k == b"prefer"), b"")
    return b"wait" in prefer.lower()

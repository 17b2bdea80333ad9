"""Tells live streams that a request changed. Commits publish in-process at once; on
PostgreSQL they also NOTIFY `aigen_status`, so streams on every other replica hear it."""

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

STATUS_CHANNEL = "aigen_status"


class StatusFeed:
    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Event]] = defaultdict(set)

    @contextmanager
    def subscribe(self, request_id: str) -> Iterator[asyncio.Event]:
        """An event that is set whenever the request may have changed; clear it after reading."""
        changed = asyncio.Event()
        self._listeners[request_id].add(changed)
        try:
            yield changed
        finally:
            self._listeners[request_id].discard(changed)
            if not self._listeners[request_id]:
                del self._listeners[request_id]

    def publish(self, request_ids: Iterable[str]) -> None:
        for request_id in request_ids:
            for changed in self._listeners.get(request_id, ()):
                changed.set()

    def publish_everything(self) -> None:
        """After a lost LISTEN connection: notifications may have been missed."""
        self.publish(list(self._listeners))

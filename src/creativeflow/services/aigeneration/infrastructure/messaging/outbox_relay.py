"""Delivers committed outbox rows: one deliverer per destination, retries with backoff."""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from ...application.ports import Clock
from .outbox_store import OutboxRow, SqlaOutboxStore

log = logging.getLogger(__name__)

Deliverer = Callable[[OutboxRow], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        store: SqlaOutboxStore,
        deliverers: Mapping[str, Deliverer],
        clock: Clock,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        lease: timedelta = timedelta(seconds=60),
        max_backoff: timedelta = timedelta(minutes=5),
    ) -> None:
        self._store = store
        self._deliverers = deliverers
        self._clock = clock
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._lease = lease
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: deliver now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                claimed = 0
            if claimed < self._batch_size:  # drained: sleep until woken or the next poll
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                self._wake.clear()

    async def run_once(self) -> int:
        rows = await self._store.claim(self._batch_size, self._lease)
        if rows:
            results = await asyncio.gather(*(self._deliver(row) for row in rows))
            await self._store.mark_delivered(
                [row.id for row, ok in zip(rows, results, strict=True) if ok]
            )
        return len(rows)

    async def drain(self, max_passes: int = 100) -> None:
        """Deliver everything due now (tests and shutdown)."""
        for _ in range(max_passes):
            if await self.run_once() == 0:
                return

    async def _deliver(self, row: OutboxRow) -> bool:
        deliverer = self._deliverers.get(row.destination)
        try:
            if deliverer is None:
                raise LookupError(f"no deliverer for destination {row.destination!r}")
            await deliverer(row)
            return True
        except Exception as exc:
            delay = self._backoff(row.attempts)
            log.warning(
                "outbox row %s (%s %s) failed on attempt %d, retry in %.1fs: %s",
                row.id,
                row.destination,
                row.key,
                row.attempts + 1,
                delay.total_seconds(),
                exc,
            )
            await self._store.reschedule(row.id, repr(exc), self._clock.now() + delay)
            return False

    def _backoff(self, attempts: int) -> timedelta:
        base = min(self._max_backoff.total_seconds(), 2.0 ** min(attempts, 20))
        return timedelta(seconds=base * random.uniform(0.5, 1.0))  # noqa: S311 - jitter only

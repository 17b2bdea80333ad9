"""Delivers committed outbox rows: one handler per destination (application/deliveries.py),
retries with backoff."""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from ...application.correlation import request_id_var
from ...application.deliveries import OutboxHandler
from ...application.errors import Undeliverable
from ...application.ports import Clock, Destination, OutboxMessage
from .outbox_store import OutboxRow, SqlaOutboxStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: base, 2 x base, 4 x base, ... capped; then give up
    after max_attempts (None: never, for what must arrive, like refunds)."""

    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int | None = None

    def delay(self, attempts: int) -> timedelta:
        seconds = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** min(attempts, 30))
        return timedelta(seconds=seconds * random.uniform(0.5, 1.0))  # noqa: S311 - jitter only

    def exhausted(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts


class OutboxRelay:
    def __init__(
        self,
        store: SqlaOutboxStore,
        handlers: Mapping[Destination, OutboxHandler],
        clock: Clock,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        lease: timedelta = timedelta(seconds=60),
        max_backoff: timedelta = timedelta(minutes=5),
        policies: Mapping[Destination, RetryPolicy] | None = None,
    ) -> None:
        self._store = store
        # by the destination as a row holds it (text)
        self._handlers = {str(name): handler for name, handler in handlers.items()}
        self._clock = clock
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._lease = lease
        self._default_policy = RetryPolicy(cap=max_backoff)
        self._policies = {str(name): policy for name, policy in (policies or {}).items()}
        self._wake = asyncio.Event()
        self.running = False
        self._stopping = False
        self._last_pass = time.monotonic()

    def stalled(self) -> bool:
        """No pass finished for much longer than the poll interval (a hung delivery or loop)."""
        limit = max(30.0, 10 * self._poll_interval) + self._lease.total_seconds()
        return time.monotonic() - self._last_pass > limit

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: deliver now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Deliver the batches already claimed, then leave run(): nothing is left half-sent."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped. While a batch is published the next one is already being
        claimed and the one before is being marked delivered: the relay would otherwise sit
        idle through each database round trip. Batches still go out one after another, so
        rows leave in the order they were written."""
        self.running = True
        ahead: asyncio.Task[list[OutboxRow]] | None = None  # the next batch, claimed early
        settling: asyncio.Task[None] | None = None  # the last batch, being marked delivered
        while not self._stopping or ahead is not None:  # a batch claimed is a batch delivered
            claim, ahead = ahead, None
            try:
                rows = await (claim or self._claim())
                if len(rows) == self._batch_size and not self._stopping:  # more is waiting
                    ahead = asyncio.create_task(self._claim())
                delivered = await self._publish(rows)
                if delivered:
                    previous, settling = settling, self._settle(delivered)
                    if previous is not None:
                        await previous
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                rows = []
            self._last_pass = time.monotonic()
            if len(rows) < self._batch_size and not self._stopping:  # drained: wait for work
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                self._wake.clear()
        if settling is not None:
            await settling

    def _settle(self, delivered: list[int]) -> "asyncio.Task[None]":
        """Mark a batch delivered in the background. Should it fail, its rows go out again
        when their lease ends (at least once; receivers dedupe)."""

        async def mark() -> None:
            try:
                await self._store.mark_delivered(delivered)
            except Exception:
                log.exception("marking %d outbox rows delivered failed", len(delivered))

        return asyncio.create_task(mark())

    async def run_once(self) -> int:
        """One batch, claimed, published and marked delivered before it returns."""
        rows = await self._claim()
        await self._store.mark_delivered(await self._publish(rows))
        return len(rows)

    async def _claim(self) -> list[OutboxRow]:
        return await self._store.claim(self._batch_size, self._lease)

    async def _publish(self, rows: list[OutboxRow]) -> list[int]:
        """Deliver a batch at once; the ids of the rows that arrived."""
        if not rows:
            return []
        # One deadline for the whole batch, well inside the lease: a receiver that never
        # answers leaves its rows undelivered, and they come back when the lease ends. What
        # did arrive by then is kept: on a starved machine (the soak beside three busy
        # processes) whole batches ran past the deadline and went out again, twice the work.
        sending = {asyncio.create_task(self._deliver(row)): row for row in rows}
        done, late = await asyncio.wait(sending, timeout=self._lease.total_seconds() / 2)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            log.warning(
                "%d of %d outbox rows not delivered in time: they go again when their lease ends",
                len(late),
                len(rows),
            )
        return [row.id for task, row in sending.items() if task in done and task.result()]

    async def drain(self, max_passes: int = 100) -> None:
        """Deliver everything due now (tests and shutdown)."""
        for _ in range(max_passes):
            if await self.run_once() == 0:
                return

    async def _deliver(self, row: OutboxRow) -> bool:
        handler = self._handlers.get(row.destination)
        request_id_var.set(
            row.headers.get("correlation_id")
        )  # each gather task has its own context
        try:
            if handler is None:
                raise LookupError(f"no handler for destination {row.destination!r}")
            message = OutboxMessage(Destination(row.destination), row.key, row.payload, row.headers)
            await handler(message)
            return True
        except Exception as exc:
            policy = self._policies.get(row.destination, self._default_policy)
            attempts = row.attempts + 1
            if isinstance(exc, Undeliverable) or policy.exhausted(attempts):
                log.error(
                    "outbox row %s (%s %s) given up after %d attempts: %s",
                    row.id,
                    row.destination,
                    row.key,
                    attempts,
                    exc,
                )
                await self._store.give_up(row.id, repr(exc))
                return False
            delay = policy.delay(row.attempts)
            log.warning(
                "outbox row %s (%s %s) failed on attempt %d, retry in %.1fs: %s",
                row.id,
                row.destination,
                row.key,
                attempts,
                delay.total_seconds(),
                exc,
            )
            await self._store.reschedule(row.id, repr(exc), self._clock.now() + delay)
            return False

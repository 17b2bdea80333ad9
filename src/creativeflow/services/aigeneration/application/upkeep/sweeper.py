"""Runs the sweeps every few seconds in each replica: recovery of interrupted sagas, and the
deadline of jobs in flight. Safe to run everywhere at once (see sweeps.py)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from .sweeps import Sweeps

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(
        self,
        sweeps: Sweeps,
        interval_seconds: float,
        grace: timedelta,
        chores: Sequence[Callable[[], Awaitable[int]]] = (),
    ) -> None:
        self.sweeps = sweeps
        self._interval = interval_seconds
        self._grace = grace
        self._chores = chores  # e.g. purging expired records

    async def run(self) -> None:
        while True:
            await self.sweep_once()
            await asyncio.sleep(self._interval)

    async def sweep_once(self) -> None:
        try:
            recovered = await self.sweeps.recover_stalled_requests(self._grace)
            timed_out = await self.sweeps.fail_overdue_requests()
            for chore in self._chores:
                await chore()
        except Exception:
            log.exception("sweep failed; trying again next round")
            return
        if recovered or timed_out:
            log.info("sweep: %d interrupted steps re-driven, %d timed out", recovered, timed_out)

"""Runs the sweeps every few seconds in each replica: recovery of interrupted sagas, and the
deadline of jobs in flight. Safe to run everywhere at once (see OrchestrationService)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from .orchestration_service import OrchestrationService

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(
        self,
        service: OrchestrationService,
        interval_seconds: float,
        grace: timedelta,
        chores: Sequence[Callable[[], Awaitable[int]]] = (),
    ) -> None:
        self._service = service
        self._interval = interval_seconds
        self._grace = grace
        self._chores = chores  # e.g. purging expired records

    async def run(self) -> None:
        while True:
            await self.sweep_once()
            await asyncio.sleep(self._interval)

    async def sweep_once(self) -> None:
        try:
            recovered = await self._service.recover_stalled_requests(self._grace)
            timed_out = await self._service.fail_overdue_requests()
            for chore in self._chores:
                await chore()
        except Exception:
            log.exception("sweep failed; trying again next round")
            return
        if recovered or timed_out:
            log.info("sweep: %d interrupted steps re-driven, %d timed out", recovered, timed_out)

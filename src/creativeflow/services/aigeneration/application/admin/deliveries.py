"""Deliveries put right by hand (contract §8): outbox rows the relay gave up on, and jobs the
broker dead-lettered, sent again. A dead-lettered job that no longer matters is dropped."""

from typing import Literal

from ..errors import NotFound
from ..ports import (
    DeadLetter,
    DeadLetters,
    GivenUpDelivery,
    Metrics,
    OutboxOperations,
    UnitOfWorkFactory,
)
from .actions import AdminAction


class AdminDeliveries:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        metrics: Metrics,
        outbox: OutboxOperations,
        dead_letters: DeadLetters | None = None,  # none without RabbitMQ (in-process jobs)
    ) -> None:
        self._uow = uow
        self._metrics = metrics
        self._outbox = outbox
        self._dead_letters = dead_letters

    async def given_up(self, limit: int = 100) -> list[GivenUpDelivery]:
        return await self._outbox.given_up(limit)

    async def redrive_delivery(self, action: AdminAction, row_id: int) -> None:
        """Deliver a given-up outbox row again (its receiver dedupes on the row's key)."""
        if not await self._outbox.redrive(row_id, action.entry("redrive_outbox", str(row_id))):
            raise NotFound("No given-up delivery with this id.")
        self._metrics.admin_action("redrive_outbox")

    async def dead_letter_depth(self) -> int | None:
        """None without a broker (jobs go in process: nothing is ever dead-lettered)."""
        return None if self._dead_letters is None else await self._dead_letters.depth()

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return [] if self._dead_letters is None else await self._dead_letters.peek(limit)

    async def redrive_dead_letter(
        self, action: AdminAction, job_id: str
    ) -> Literal["redriven", "dropped"]:
        """Publish a dead-lettered job again, if it is still its request's job in flight;
        a job no longer current is dropped, never rendered. Returns what was done."""
        if self._dead_letters is None:
            raise NotFound("No dead-lettered job with this id.")
        redriven = False

        async def still_current(letter: DeadLetter) -> bool:
            nonlocal redriven
            redriven = await self._is_current(letter.request_id, job_id)
            return redriven

        letter = await self._dead_letters.settle(job_id, still_current)
        if letter is None:
            raise NotFound("No dead-lettered job with this id.")
        outcome: Literal["redriven", "dropped"] = "redriven" if redriven else "dropped"
        async with self._uow() as uow:
            target = letter.request_id or job_id
            uow.audit.add(
                action.entry("redrive_dead_letter", target, job_id=job_id, outcome=outcome)
            )
            await uow.commit()
        self._metrics.admin_action(f"dead_letter_{outcome}")
        return outcome

    async def _is_current(self, request_id: str | None, job_id: str) -> bool:
        if request_id is None:
            return False
        async with self._uow(read_only=True) as uow:
            request = await uow.requests.get(request_id)
        return request is not None and request.renders(job_id)

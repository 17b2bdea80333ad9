"""One transaction around one request: load it with a lock, let the aggregate move, stage the
outbox rows its events call for, save, commit. Every use case that changes a request goes
through here, so the rules live in one place: a refused move rolls back, a replayed callback
changes nothing, a concurrent change is retried."""

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..domain.models import CallbackOutcome, GenerationRequest
from ..domain.repositories import ConcurrentUpdate
from .assets import AssetLinks, new_asset_records, removed_asset_ids
from .dtos import OrchestrationConfig
from .errors import DependencyUnavailable, NotFound
from .ports import Clock, Metrics, UnitOfWork, UnitOfWorkFactory
from .side_effects import outbox_messages

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_OPTIMISTIC_RETRIES = 5
Within = Callable[[UnitOfWork, GenerationRequest], Awaitable[None]]


class RequestTransactions:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        config: OrchestrationConfig,
        metrics: Metrics,
        links: AssetLinks,
        clock: Clock,
    ) -> None:
        self.uow = uow
        self._config = config
        self._metrics = metrics
        self._links = links
        self._clock = clock

    async def change(
        self,
        request_id: str,
        change: Callable[[GenerationRequest], None],
        user_id: str | None = None,
        within: Within | None = None,
    ) -> GenerationRequest:
        """Apply `change` and commit. `within` runs in the same transaction after it (the
        credit saga charges a step there when the ledger is local)."""

        def changed(request: GenerationRequest) -> GenerationRequest:
            change(request)
            return request

        return await self._run(request_id, changed, user_id, _always, within=within)

    async def change_if(
        self,
        request_id: str,
        change: Callable[[GenerationRequest], bool],
        user_id: str | None = None,
    ) -> bool:
        """Apply `change`; commit only when it reports that it moved the request."""
        return await self._run(request_id, change, user_id, bool)

    async def apply(
        self,
        request_id: str,
        job_id: str,
        webhook_id: str | None,
        apply: Callable[[GenerationRequest], CallbackOutcome],
    ) -> CallbackOutcome:
        """A callback, once: a replayed webhook-id, or a job already settled, changes nothing."""
        applied: list[GenerationRequest] = []

        def apply_and_keep(request: GenerationRequest) -> CallbackOutcome:
            outcome = apply(request)
            applied.append(request)
            return outcome

        receipt = (webhook_id, CallbackOutcome.DUPLICATE) if webhook_id is not None else None
        outcome = await self._run(request_id, apply_and_keep, None, _applied, receipt=receipt)
        job = applied[-1].find_job(job_id) if outcome is CallbackOutcome.APPLIED else None
        if job is not None and job.duration_ms is not None:
            self._metrics.job_round_trip(job.job_type, job.duration_ms / 1000)
        return outcome

    def stage(self, uow: UnitOfWork, request: GenerationRequest) -> None:
        """What the request's new events call for, written with it: outbox rows, and the rows
        of the images it was just given."""
        events = request.pull_events()
        for message in outbox_messages(request, events, self._config, self._links):
            uow.outbox.add(message)
        for record in new_asset_records(request, events, self._clock.now()):
            uow.assets.add(record)
        if removed := removed_asset_ids(events):
            uow.assets.remove(removed)

    async def _run(
        self,
        request_id: str,
        work: Callable[[GenerationRequest], T],
        user_id: str | None,
        commit_if: Callable[[T], bool],
        *,
        receipt: tuple[str, T] | None = None,  # a webhook-id, and what a replay of it returns
        within: Within | None = None,
    ) -> T:
        for attempt in range(MAX_OPTIMISTIC_RETRIES):
            try:
                async with self.uow() as uow:
                    request = await uow.requests.get_for_update(request_id)
                    if request is None or (user_id is not None and request.user_id != user_id):
                        raise NotFound("No generation request with this id.")
                    # noted now, kept only if this commits: a replay finds it and changes nothing
                    if receipt is not None and not await uow.receipts.add(receipt[0]):
                        return receipt[1]
                    before = request.status
                    result = work(request)
                    if within is not None:
                        await within(uow, request)
                    if commit_if(result):
                        self.stage(uow, request)
                        await uow.requests.save(request)
                        await uow.commit()
                        if request.status != before:
                            self._metrics.status_changed(before, request.status)
                    return result
            except ConcurrentUpdate:
                log.info("request %s changed concurrently, retry %d", request_id, attempt + 1)
        raise DependencyUnavailable("The request is busy; try again.", retry_after_seconds=1)


def _always(_: object) -> bool:
    return True


def _applied(outcome: CallbackOutcome) -> bool:
    return outcome is CallbackOutcome.APPLIED

"""What every unit of work does at commit, and the retry around a use case's transaction.

A use case shows its transaction in plain sight (cosmic python's idiom):

    async with self._uow() as uow:
        request = await uow.requests.get_for_update(request_id)
        request.cancel(now)          # the aggregate moves and records events
        await uow.commit()           # written, with the outbox rows its events call for

At commit the unit of work writes the requests its repository handed out (or was given), and
stages what their new events call for in the same transaction: outbox rows (jobs, events,
notifications, refunds, webhooks, deletions) and the rows of the images they were given. The
database adapter and the test fake share this base, so both stage alike."""

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from ..domain.models import GenerationRequest, GenerationStatus
from ..domain.repositories import ConcurrentUpdate, GenerationRequestRepository
from .assets import AssetLinks, new_asset_records, removed_asset_ids
from .dtos import OrchestrationConfig
from .errors import DependencyUnavailable, NotFound
from .ports import (
    AssetRepository,
    AuditLog,
    CallbackReceipts,
    Clock,
    Metrics,
    NoMetrics,
    Outbox,
    TransactionalCredits,
    UnitOfWork,
)
from .side_effects import outbox_messages

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
MAX_OPTIMISTIC_RETRIES = 5


class CommitStaging:
    """A request's new events → the rows written with it; its status move → the metrics."""

    def __init__(
        self,
        config: OrchestrationConfig,
        links: AssetLinks,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self._config = config
        self._links = links
        self._clock = clock
        self._metrics = metrics or NoMetrics()

    def stage(self, uow: "StagingUnitOfWork", request: GenerationRequest) -> None:
        events = request.pull_events()
        for message in outbox_messages(request, events, self._config, self._links):
            uow.outbox.add(message)
        for record in new_asset_records(request, events, self._clock.now()):
            uow.assets.add(record)
        if removed := removed_asset_ids(events):
            uow.assets.remove(removed)

    def committed(self, before: GenerationStatus | None, request: GenerationRequest) -> None:
        if request.status != before:
            self._metrics.status_changed(before, request.status)


class StagingUnitOfWork(ABC):
    """One transaction. Leaving the block without commit() rolls everything back."""

    requests: GenerationRequestRepository
    outbox: Outbox
    receipts: CallbackReceipts
    assets: AssetRepository
    audit: AuditLog
    # set when credits live in this database: the in-transaction charger debits through it
    ledger: TransactionalCredits | None

    def __init__(self, staging: CommitStaging | None) -> None:
        self._staging = staging

    async def commit(self) -> None:
        seen = self.requests.seen
        if seen:
            if self._staging is None:
                raise RuntimeError("a unit of work that changes requests needs its CommitStaging")
            for request in seen.values():
                self._staging.stage(self, request)
        await self.requests.write_seen()
        await self._commit()
        if self._staging is not None:
            for request_id, request in seen.items():
                self._staging.committed(self.requests.status_at_load[request_id], request)
        self.requests.forget_seen()

    @abstractmethod
    async def _commit(self) -> None:
        """Write the staged rows and commit the transaction."""


def retry_on_concurrent_update(use_case: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run a use case again when a request it wrote changed since it was loaded (the
    optimistic version check; rare, as changes take the row lock). The whole transaction is
    retried, from the load."""

    @functools.wraps(use_case)
    async def retrying(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(MAX_OPTIMISTIC_RETRIES):
            try:
                return await use_case(*args, **kwargs)
            except ConcurrentUpdate as exc:
                log.info("request %s changed concurrently, retry %d", exc, attempt + 1)
        raise DependencyUnavailable("The request is busy; try again.", retry_after_seconds=1)

    return retrying


async def locked(uow: UnitOfWork, request_id: str, user_id: str | None = None) -> GenerationRequest:
    """The request, loaded for change under its row lock; NotFound when there is none (or it
    is another user's: nobody learns which ids exist)."""
    request = await uow.requests.get_for_update(request_id)
    if request is None or (user_id is not None and request.user_id != user_id):
        raise NotFound("No generation request with this id.")
    return request

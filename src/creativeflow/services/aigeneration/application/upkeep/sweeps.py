"""The sweeps. Each finds its requests with a read, then moves each in a transaction of its own
under the row lock (a request another replica just moved is found unchanged, or changed, and
left alone)."""

import logging
from datetime import timedelta

from ...domain.errors import DomainError
from ...domain.models import GenerationStatus
from ..chargers import CreditCharger
from ..errors import ApplicationError
from ..ports import Clock, UnitOfWorkFactory
from ..unit_of_work import retry_on_concurrent_update

log = logging.getLogger(__name__)
# a step charged but not dispatched yet: a crash between the two leaves it here
STALLED = frozenset({GenerationStatus.VALIDATING_CREDITS, GenerationStatus.PUBLISHING_TO_QUEUE})


class Sweeps:
    def __init__(self, uow: UnitOfWorkFactory, charger: CreditCharger, clock: Clock) -> None:
        self._uow = uow
        self._charger = charger
        self._clock = clock

    async def recover_stalled_requests(self, grace: timedelta, limit: int = 100) -> int:
        """Complete steps a crash left between commit and debit: the same idempotency key
        means the debit happens at most once, whether or not it reached the credit service."""
        before = self._clock.now() - grace
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_stalled(STALLED, before, limit)
        recovered = 0
        for request_id in ids:
            async with self._uow(read_only=True) as uow:
                request = await uow.requests.get(request_id)
            if request is None or request.status not in STALLED:
                continue
            try:
                (request,) = await self._charger.complete([request])
                recovered += int(request.status not in STALLED)
            except (ApplicationError, DomainError) as exc:
                log.warning("recovery of request %s deferred: %s", request_id, exc)
        return recovered

    async def fail_overdue_requests(self, limit: int = 100) -> int:
        """Fail (and refund) every job in flight past its deadline."""
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_overdue(self._clock.now(), limit)
        return sum([await self._time_out(request_id) for request_id in ids])

    async def expire_old_assets(self, retention: timedelta, limit: int = 100) -> int:
        """ASSET_RETENTION_DAYS: the images of requests older than `retention` are deleted
        (through the outbox), each request keeping its texts and showing `assets_expired_at`."""
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_created_before(now - retention, limit)
        return sum([await self._expire(request_id) for request_id in ids])

    async def notify_retention(
        self, retention: timedelta, notice: timedelta, limit: int = 100
    ) -> int:
        """ASSET_RETENTION_NOTICE_DAYS: tell each owner once, `notice` ahead of the deletion."""
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_created_before(
                now - retention + notice, limit, noticed=False
            )
        return sum([await self._notify(request_id, retention) for request_id in ids])

    @retry_on_concurrent_update
    async def _time_out(self, request_id: str) -> bool:
        async with self._uow() as uow:
            request = await uow.requests.get_for_update(request_id)
            if request is None or not request.time_out(self._clock.now()):
                return False
            await uow.commit()
        return True

    @retry_on_concurrent_update
    async def _expire(self, request_id: str) -> bool:
        async with self._uow() as uow:
            request = await uow.requests.get_for_update(request_id)
            if request is None or not request.expire_assets(self._clock.now()):
                return False
            await uow.commit()
        return True

    @retry_on_concurrent_update
    async def _notify(self, request_id: str, retention: timedelta) -> bool:
        async with self._uow() as uow:
            request = await uow.requests.get_for_update(request_id)
            if request is None:
                return False
            if not request.notice_retention(self._clock.now(), request.created_at + retention):
                return False
            await uow.commit()
        return True

"""Requests put right by hand (contract §8): refund a step, fail a stuck request, erase a user.
Those on a request take its row lock, so two operators racing on one step do it once."""

from dataclasses import dataclass

from ...domain.errors import DomainError, InvalidStateTransition, InvalidValue
from ...domain.models import GenerationRequest, GenerationStatus, Job
from ...domain.repositories import ListQuery
from ..credit_moves import refund_for, to_payload
from ..ports import Clock, Destination, Metrics, OutboxMessage, UnitOfWorkFactory
from ..unit_of_work import locked, retry_on_concurrent_update
from .actions import AdminAction

ADMIN_REFUND = "admin_refund"
ADMIN_FAILED = "admin_failed"


@dataclass(frozen=True)
class Erasure:
    erased: list[str]  # requests now tombstones (cancelled first where a job was in flight)
    uploads: int  # the user's own uploads deleted
    skipped: list[str]  # requests between two steps (a debit in progress): erase again later


class AdminRequests:
    def __init__(self, uow: UnitOfWorkFactory, metrics: Metrics, clock: Clock) -> None:
        self._uow = uow
        self._metrics = metrics
        self._clock = clock

    async def refund_step(
        self, action: AdminAction, request_id: str, job_id: str | None = None
    ) -> GenerationRequest:
        """Refund one charged step (the newest when `job_id` is not given), once: its refund
        key is the step's own, so a second refund, by hand or by the service, is 409."""
        request = await self._refund_step(action, request_id, job_id)
        self._metrics.admin_action("refund")
        return request

    @retry_on_concurrent_update
    async def _refund_step(
        self, action: AdminAction, request_id: str, job_id: str | None
    ) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, request_id)  # the lock: two operators refund once
            job = _charged_step(request, job_id)
            move = refund_for(request, job, ADMIN_REFUND)
            if await uow.outbox.sent(move.idempotency_key):
                raise InvalidStateTransition("refund a step of", "refunded for that step already")
            uow.outbox.add(
                OutboxMessage(Destination.REFUND, move.idempotency_key, to_payload(move))
            )
            uow.audit.add(
                action.entry("refund", request.id, job_id=job.job_id, amount=str(job.price))
            )
            await uow.commit()
        return request

    async def fail(self, action: AdminAction, request_id: str) -> GenerationRequest:
        """Fail the step in flight of a stuck request, refunded as a system failure."""
        request = await self._fail(action, request_id)
        self._metrics.admin_action("fail")
        return request

    @retry_on_concurrent_update
    async def _fail(self, action: AdminAction, request_id: str) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, request_id)
            request.fail_step(ADMIN_FAILED, action.reason, True, self._clock.now())
            uow.audit.add(action.entry("fail", request.id))
            await uow.commit()
        return request

    async def erase_user(self, action: AdminAction, user_id: str) -> Erasure:
        """A right-to-erasure request: every request of the user becomes a tombstone (a job in
        flight is cancelled and refunded first), and the user's uploads are deleted."""
        erased, skipped = [], []
        for request in await self._all_requests(user_id):
            if request.status is GenerationStatus.DELETED:
                continue
            try:
                if request.status in _BETWEEN_STEPS:
                    raise InvalidStateTransition("erase", request.status)
                await self._erase(action, request.id)
                erased.append(request.id)
            except DomainError:  # between two steps now: the next erasure takes it
                skipped.append(request.id)
        uploads = await self._delete_uploads(action, user_id)
        self._metrics.admin_action("erase_user")
        return Erasure(erased, uploads, skipped)

    async def _all_requests(self, user_id: str) -> list[GenerationRequest]:
        found: list[GenerationRequest] = []
        after = None
        while True:
            async with self._uow(read_only=True) as uow:
                page = await uow.requests.list_for_user(ListQuery(user_id, 100, after=after))
            found += page
            if len(page) < 100:
                return found
            after = (page[-1].created_at, page[-1].id)

    async def _delete_uploads(self, action: AdminAction, user_id: str) -> int:
        async with self._uow() as uow:
            uploads = await uow.assets.uploads_of(user_id)
            if not uploads:
                return 0
            uow.assets.remove([record.info.asset_id for record in uploads])
            keys = [record.key for record in uploads]
            uow.outbox.add(
                OutboxMessage(
                    Destination.DELETE_ASSETS, f"uploads:{user_id}:{len(keys)}", {"keys": keys}
                )
            )
            uow.audit.add(action.entry("erase_uploads", user_id, count=str(len(keys))))
            await uow.commit()
        return len(uploads)

    @retry_on_concurrent_update
    async def _erase(self, action: AdminAction, request_id: str) -> None:
        async with self._uow() as uow:
            request = await locked(uow, request_id)
            now = self._clock.now()
            if request.status.is_processing:  # a job in flight: stop it (refunded), then erase
                request.cancel(now)
            request.delete(now)
            uow.audit.add(action.entry("erase", request.id, user_id=request.user_id))
            await uow.commit()


# a debit is in progress: the saga (or its recovery) moves it on within seconds
_BETWEEN_STEPS = frozenset(
    {
        GenerationStatus.PENDING,
        GenerationStatus.VALIDATING_CREDITS,
        GenerationStatus.PUBLISHING_TO_QUEUE,
    }
)


def _charged_step(request: GenerationRequest, job_id: str | None) -> Job:
    """A step whose price was debited: it was dispatched (a step is charged before it is)."""
    charged = [job for job in request.jobs if job.dispatched_at is not None and job.price > 0]
    if job_id is None:
        if not charged:
            raise InvalidStateTransition("refund a step of", "without a charged step")
        return charged[-1]
    job = next((job for job in charged if job.job_id == job_id), None)
    if job is None:
        raise InvalidValue("job_id", "is not a charged step of this request")
    return job

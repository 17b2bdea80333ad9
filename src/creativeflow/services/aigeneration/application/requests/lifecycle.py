"""A request's end by its owner: cancel (the step in flight refunded) and delete (a tombstone)."""

from ...domain.models import GenerationRequest
from ..ports import Clock, UnitOfWorkFactory
from ..unit_of_work import locked, retry_on_concurrent_update


class RequestLifecycle:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    @retry_on_concurrent_update
    async def cancel(self, request_id: str, user_id: str) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, request_id, user_id)
            request.cancel(self._clock.now())
            await uow.commit()
        return request

    @retry_on_concurrent_update
    async def delete(self, request_id: str, user_id: str) -> None:
        """A tombstone: texts erased, images deleted from storage through the outbox (an
        outage delays a deletion, never loses it). Deleting a deleted request changes nothing."""
        async with self._uow() as uow:
            request = await locked(uow, request_id, user_id)
            if request.delete(self._clock.now()):
                await uow.commit()

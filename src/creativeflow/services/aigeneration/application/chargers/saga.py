"""Credits elsewhere (the credit service, Odoo): commit the step, debit, then dispatch.

The step is committed as `validating_credits` and debited with its key
`{request_id}:{step}:{round}` outside any transaction, then dispatched in a second one. A
declined debit fails the step uncharged; an unreachable credit service fails it as
retryable, and a debit whose answer was lost is settled (replayed, then refunded) through the
outbox (`Charge.UNKNOWN`)."""

from collections.abc import Callable, Sequence

from ...domain.models import Charge, GenerationRequest, GenerationStatus
from ..dtos import OrchestrationConfig
from ..errors import CreditsDeclined, DependencyUnavailable, InsufficientCredits
from ..ports import Clock, CreditAccount, CreditGateway, UnitOfWork, UnitOfWorkFactory
from ..unit_of_work import locked, retry_on_concurrent_update
from . import dispatch, one_debit

UNREACHABLE = "The credit service could not be reached; nothing was charged."


class SagaCharger:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        credits: CreditGateway,
        clock: Clock,
        config: OrchestrationConfig,
    ) -> None:
        self._uow = uow
        self._credits = credits
        self._clock = clock
        self._config = config

    async def account(self, user_id: str) -> CreditAccount:
        return await self._credits.get_account(user_id)

    async def charge(self, uow: UnitOfWork, requests: Sequence[GenerationRequest]) -> None:
        pass  # committed as validating_credits; complete() charges once that commit holds

    async def complete(self, requests: list[GenerationRequest]) -> list[GenerationRequest]:
        if requests[0].status is not GenerationStatus.VALIDATING_CREDITS:
            return requests  # charged and dispatched already
        debit = one_debit(requests)  # a batch's item replays the batch's: its key moves once
        if debit.amount > 0:
            try:
                await self._credits.debit(debit)
            except CreditsDeclined:
                for request in requests:
                    await self._move(request.id, lambda r: r.credits_declined(self._clock.now()))
                raise InsufficientCredits("Not enough credits for this step.") from None
            except DependencyUnavailable as exc:
                charge = Charge.UNKNOWN if exc.maybe_applied else Charge.NOT_TAKEN
                for request in requests:
                    await self._move(
                        request.id,
                        lambda r: r.fail_step(
                            "dependency_unavailable",
                            UNREACHABLE,
                            True,
                            self._clock.now(),
                            charge=charge,
                        ),
                    )
                raise
        return [
            await self._move(r.id, lambda r: dispatch(r, self._clock, self._config))
            for r in requests
        ]

    @retry_on_concurrent_update
    async def _move(
        self, request_id: str, move: Callable[[GenerationRequest], None]
    ) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, request_id)
            move(request)
            await uow.commit()
        return request

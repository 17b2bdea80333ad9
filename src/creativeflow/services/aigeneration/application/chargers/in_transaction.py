"""Credits in the service's own database: debited inside the step's own transaction."""

from collections.abc import Sequence

from ...domain.models import GenerationRequest, GenerationStatus
from ..dtos import OrchestrationConfig
from ..errors import CreditsDeclined, InsufficientCredits
from ..ports import Clock, CreditAccount, TransactionalCredits, UnitOfWork, UnitOfWorkFactory
from ..unit_of_work import locked, retry_on_concurrent_update
from . import dispatch, one_debit


class InTransactionCharger:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, config: OrchestrationConfig) -> None:
        self._uow = uow
        self._clock = clock
        self._config = config

    async def account(self, user_id: str) -> CreditAccount:
        async with self._uow(read_only=True) as uow:
            return await _ledger(uow).get_account(user_id)

    async def charge(self, uow: UnitOfWork, requests: Sequence[GenerationRequest]) -> None:
        debit = one_debit(requests)
        if debit.amount > 0:
            try:
                await _ledger(uow).debit(debit)  # rolled back with the step if it fails
            except CreditsDeclined:
                raise InsufficientCredits("Not enough credits for this step.") from None
        for request in requests:
            dispatch(request, self._clock, self._config)

    async def complete(self, requests: list[GenerationRequest]) -> list[GenerationRequest]:
        # charged with their step; only a step left by the saga before a switch of credit
        # backend (or a crash of one) is still to charge: in a transaction of its own
        return [await self._charge_stalled(r) for r in requests]

    @retry_on_concurrent_update
    async def _charge_stalled(self, request: GenerationRequest) -> GenerationRequest:
        if request.status is not GenerationStatus.VALIDATING_CREDITS:
            return request
        async with self._uow() as uow:
            current = await locked(uow, request.id)
            if current.status is GenerationStatus.VALIDATING_CREDITS:
                await self.charge(uow, [current])
                await uow.commit()
        return current


def _ledger(uow: UnitOfWork) -> TransactionalCredits:
    assert uow.ledger is not None, "the composition root gives this charger a ledger"
    return uow.ledger

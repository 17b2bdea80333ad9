"""Charging a step before its job leaves (DESIGN.md, "Credit saga").

Credits in our own database (the local ledger) are debited inside the step's transaction:
one commit, and a short balance rolls everything back. Credits elsewhere (the credit service,
Odoo) follow the saga: the step is committed as `validating_credits`, debited with the key
`{request_id}:{step}:{round}`, then dispatched in a second transaction. A crash between the
two leaves a row the recovery sweep re-drives with the same key, so a debit never happens
twice; a debit whose answer was lost is settled (replayed, then refunded) through the outbox."""

from collections.abc import Sequence

from ..domain.models import Charge, GenerationRequest, GenerationStatus, JobType
from .credit_moves import debit_for
from .dtos import OrchestrationConfig
from .errors import CreditsDeclined, DependencyUnavailable, InsufficientCredits
from .ports import Clock, CreditGateway, Debit, UnitOfWork
from .transactions import RequestTransactions


class CreditSaga:
    def __init__(
        self,
        transactions: RequestTransactions,
        credits: CreditGateway,
        clock: Clock,
        config: OrchestrationConfig,
    ) -> None:
        self._transactions = transactions
        self._credits = credits
        self._clock = clock
        self._config = config

    async def charge_within(self, uow: UnitOfWork, request: GenerationRequest) -> None:
        await self.charge_all_within(uow, [request])

    async def charge_all_within(
        self, uow: UnitOfWork, requests: Sequence[GenerationRequest]
    ) -> None:
        """Local credits: debit (once, for a batch) and dispatch inside this transaction."""
        if uow.ledger is None:
            return
        debit = _one_debit(requests)
        if debit.amount > 0:
            try:
                await uow.ledger.debit(debit)
            except CreditsDeclined:
                raise InsufficientCredits("Not enough credits for this step.") from None
        for request in requests:
            self.dispatch(request)

    async def finish(self, request: GenerationRequest) -> GenerationRequest:
        (finished,) = await self.finish_all([request])
        return finished

    async def finish_all(self, requests: list[GenerationRequest]) -> list[GenerationRequest]:
        """Credits elsewhere: the steps are committed as validating_credits; charge, dispatch."""
        if requests[0].status is not GenerationStatus.VALIDATING_CREDITS:
            return requests  # charged and dispatched in their own transaction already
        return await self._charge_and_dispatch_all(requests)

    def dispatch(self, request: GenerationRequest) -> None:
        job = request.current_job
        assert job is not None, "a step is open"
        now = self._clock.now()
        request.credits_charged(now)
        samples = job.job_type is JobType.SAMPLES
        deadline = self._config.sample_deadline if samples else self._config.final_deadline
        request.job_dispatched(now, now + deadline)

    async def charge_and_dispatch(self, request: GenerationRequest) -> GenerationRequest:
        """One request's step (a batch's item replays the batch's debit: its key moves the
        money once)."""
        (dispatched,) = await self._charge_and_dispatch_all([request])
        return dispatched

    async def _charge_and_dispatch_all(
        self, requests: list[GenerationRequest]
    ) -> list[GenerationRequest]:
        debit = _one_debit(requests)
        if debit.amount > 0:
            try:
                await self._credits.debit(debit)
            except CreditsDeclined:
                for request in requests:
                    await self._transactions.change(
                        request.id, lambda r: r.credits_declined(self._clock.now())
                    )
                raise InsufficientCredits("Not enough credits for this step.") from None
            except DependencyUnavailable as exc:
                charge = Charge.UNKNOWN if exc.maybe_applied else Charge.NOT_TAKEN
                for request in requests:
                    await self._transactions.change(
                        request.id,
                        lambda r: r.fail_step(
                            "dependency_unavailable",
                            "The credit service could not be reached; nothing was charged.",
                            True,
                            self._clock.now(),
                            charge=charge,
                        ),
                    )
                raise
        return [await self._transactions.change(r.id, self.dispatch) for r in requests]


def _one_debit(requests: Sequence[GenerationRequest]) -> Debit:
    """The debit that pays for these steps: a step's own, or its batch's for the sum."""
    job = requests[0].current_job
    assert job is not None, "a step is open"
    return debit_for(requests[0], job)

"""Charging a step before its job leaves (DESIGN.md, "Credit saga").

Credits in our own database (the local ledger) are debited inside the step's transaction:
one commit, and a short balance rolls everything back. Credits elsewhere (the credit service,
Odoo) follow the saga: the step is committed as `validating_credits`, debited with the key
`{request_id}:{step}:{round}`, then dispatched in a second transaction. A crash between the
two leaves a row the recovery sweep re-drives with the same key, so a debit never happens
twice; a debit whose answer was lost is settled (replayed, then refunded) through the outbox."""

from ..domain.models import Charge, GenerationRequest, GenerationStatus, JobType
from .credit_moves import debit_for
from .dtos import OrchestrationConfig
from .errors import CreditsDeclined, DependencyUnavailable, InsufficientCredits
from .ports import Clock, CreditGateway, UnitOfWork
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
        """Local credits: debit and dispatch inside this transaction (nothing else to do)."""
        job = request.current_job
        if uow.ledger is None or job is None:
            return
        if job.price > 0:
            try:
                await uow.ledger.debit(debit_for(request, job))
            except CreditsDeclined:
                raise InsufficientCredits("Not enough credits for this step.") from None
        self.dispatch(request)

    async def finish(self, request: GenerationRequest) -> GenerationRequest:
        """Credits elsewhere: the step is committed as validating_credits; charge, dispatch."""
        if request.status is not GenerationStatus.VALIDATING_CREDITS:
            return request  # charged and dispatched in its own transaction already
        return await self.charge_and_dispatch(request)

    def dispatch(self, request: GenerationRequest) -> None:
        job = request.current_job
        assert job is not None, "a step is open"
        now = self._clock.now()
        request.credits_charged(now)
        samples = job.job_type is JobType.SAMPLES
        deadline = self._config.sample_deadline if samples else self._config.final_deadline
        request.job_dispatched(now, now + deadline)

    async def charge_and_dispatch(self, request: GenerationRequest) -> GenerationRequest:
        job = request.current_job
        assert job is not None, "a step is open"
        if job.price > 0:
            try:
                await self._credits.debit(debit_for(request, job))
            except CreditsDeclined:
                await self._transactions.change(
                    request.id, lambda r: r.credits_declined(self._clock.now())
                )
                raise InsufficientCredits("Not enough credits for this step.") from None
            except DependencyUnavailable as exc:
                charge = Charge.UNKNOWN if exc.maybe_applied else Charge.NOT_TAKEN
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
        return await self._transactions.change(request.id, self.dispatch)

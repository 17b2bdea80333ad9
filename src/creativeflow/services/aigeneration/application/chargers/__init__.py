"""How a step that costs credits is paid for, chosen once at start-up (docs/ARCHITECTURE.md, "A
request's life"). The use cases call the same three methods whichever runs:

    account = await charger.account(user_id)      # before the transaction: tier and balance
    async with uow:
        ... the aggregate opens the step ...
        await charger.charge(uow, [request])      # in the step's transaction
        await uow.commit()
    request, = await charger.complete([request])  # after it

- InTransactionCharger (in_transaction.py): credits in our own database (the local ledger).
  `charge` debits and dispatches inside the step's transaction: one commit, and a short
  balance rolls everything back; `complete` has nothing left to do.
- SagaCharger (saga.py): credits elsewhere (the credit service, Odoo). `charge` leaves the
  step committed as `validating_credits`; `complete` debits with the step's key, then
  dispatches in a second transaction. A crash between the two leaves a row the recovery sweep
  completes with the same key, so a debit never happens twice."""

from collections.abc import Sequence
from typing import Protocol

from ...domain.models import GenerationRequest, JobType
from ..credit_moves import debit_for
from ..dtos import OrchestrationConfig
from ..ports import Clock, CreditAccount, Debit, UnitOfWork


class CreditCharger(Protocol):
    async def account(self, user_id: str) -> CreditAccount:
        """The balance and tier that price a step (read before its transaction opens)."""

    async def charge(self, uow: UnitOfWork, requests: Sequence[GenerationRequest]) -> None:
        """Inside the transaction that opens the steps of `requests` (several: a batch, paid
        by one debit); raises InsufficientCredits when the debit is declined."""

    async def complete(self, requests: list[GenerationRequest]) -> list[GenerationRequest]:
        """After that commit: whatever is left to charge and dispatch (the saga's part; the
        recovery sweep calls it for steps a crash left in `validating_credits`)."""


def one_debit(requests: Sequence[GenerationRequest]) -> Debit:
    """The debit that pays for these steps: a step's own, or its batch's for the sum."""
    job = requests[0].current_job
    assert job is not None, "a step is open"
    return debit_for(requests[0], job)


def dispatch(request: GenerationRequest, clock: Clock, config: OrchestrationConfig) -> None:
    """The step is paid for: its job leaves (through the outbox) with its deadline."""
    job = request.current_job
    assert job is not None, "a step is open"
    now = clock.now()
    request.credits_charged(now)
    samples = job.job_type is JobType.SAMPLES
    deadline = config.sample_deadline if samples else config.final_deadline
    request.job_dispatched(now, now + deadline)

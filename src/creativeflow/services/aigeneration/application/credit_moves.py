"""The money moves of a step, with the idempotency keys that make each happen at most once:
debit `{request_id}:{step}:{round}`, its refund `…:refund`. The first round of a batch's
requests is charged by the batch's one debit `batch:{batch_id}` for the sum (replayed alike by
each of them: the key moves the money once); a refund always names its own request's step."""

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from ..domain.models import GenerationRequest, Job
from .ports import Debit, Refund


def debit_for(request: GenerationRequest, job: Job) -> Debit:
    if job.batch_id is not None and job.batch_total is not None:
        return Debit(
            user_id=request.user_id,
            amount=job.batch_total,
            reference=f"batch:{job.batch_id}",
            action_type="generation.batch",
            idempotency_key=f"batch:{job.batch_id}",
        )
    return Debit(
        user_id=request.user_id,
        amount=job.price,
        reference=request.id,
        action_type=f"generation.{job.job_type}",
        idempotency_key=f"{request.id}:{job.charge_key}",
    )


def refund_for(request: GenerationRequest, job: Job, reason: str) -> Refund:
    return Refund(
        user_id=request.user_id,
        amount=job.price,
        reference=request.id,
        reason=reason,
        idempotency_key=f"{request.id}:{job.charge_key}:refund",
    )


def to_payload(move: Debit | Refund) -> dict[str, Any]:
    return {**asdict(move), "amount": str(move.amount)}


def debit_from_payload(payload: dict[str, Any]) -> Debit:
    return Debit(**{**payload, "amount": Decimal(payload["amount"])})


def refund_from_payload(payload: dict[str, Any]) -> Refund:
    return Refund(**{**payload, "amount": Decimal(payload["amount"])})

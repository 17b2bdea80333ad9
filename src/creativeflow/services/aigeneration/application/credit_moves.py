"""The money moves of a step, with the idempotency keys that make each happen at most once:
debit `{request_id}:{step}:{round}`, its refund `…:refund`."""

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from ..domain.models import GenerationRequest, Job
from .ports import Debit, Refund


def debit_for(request: GenerationRequest, job: Job) -> Debit:
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

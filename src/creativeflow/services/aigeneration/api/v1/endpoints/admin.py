"""Admin routes (contract §8), for tokens whose roles claim holds `admin` (else `403`): the
jobs the broker dead-lettered and the deliveries the relay gave up on, re-driven; a step
refunded by hand, once; a stuck request failed; a user's data erased. Every action is written
to the audit log with who, what, when and why. `aigen admin …` does the same from a shell."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from ....application.admin.actions import AdminAction
from ....application.correlation import request_id_var
from ....application.read_side import request_view
from ...dependencies import AdminDeliveriesDep, AdminRequestsDep, AdminUser, LinksDep
from ..params import RequestIdPath
from ..read_schemas import GenerationRequestRead
from ..responses import as_json, errors
from ..schemas import StrictModel, visible_text

router = APIRouter(prefix="/admin", tags=["admin"])
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, oldest first")]
Reason = Annotated[str, visible_text(500)]


class ReasonBody(StrictModel):
    reason: Reason = Field(description="Why, for the audit log", examples=["support ticket 4711"])


class RefundBody(ReasonBody):
    job_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="The step to refund; default: the newest charged step"
    )


class DeadLetterRead(BaseModel):
    job_id: str = Field(description="The job's id (its message id)")
    request_id: str | None = Field(description="Its request")
    job_type: str | None = Field(description="`generation.samples` or `generation.final`")
    reason: str | None = Field(description="Why the broker dead-lettered it")
    deaths: int = Field(description="How often it was dead-lettered")


class DeadLettersRead(BaseModel):
    items: list[DeadLetterRead] = Field(description="Read without taking them off the queue")


class RedriveRead(BaseModel):
    outcome: Literal["redriven", "dropped", "queued"] = Field(
        description="`redriven`: published to the job queue again; `dropped`: no longer its "
        "request's job, so never rendered; `queued`: to be delivered again"
    )


class GivenUpRead(BaseModel):
    id: int = Field(description="The outbox row")
    destination: str = Field(description="job, event, notification, refund, settle, webhook, …")
    key: str = Field(description="What its receiver dedupes on")
    attempts: int = Field(description="Tries made")
    last_error: str | None = Field(description="The last try's failure")
    created_at: datetime = Field(description="When it was written")
    dead_at: datetime = Field(description="When the relay gave up")


class GivenUpPage(BaseModel):
    items: list[GivenUpRead] = Field(description="Given-up deliveries, oldest first")


class ErasureRead(BaseModel):
    erased: list[str] = Field(description="Requests now tombstones")
    uploads: int = Field(description="The user's uploads deleted")
    skipped: list[str] = Field(description="Requests between two steps: erase again later")


def _action(admin: str, reason: str) -> AdminAction:
    return AdminAction(admin, reason, request_id_var.get())


@router.get(
    "/dead-letters",
    operation_id="listDeadLetters",
    response_model=DeadLettersRead,
    responses=errors(401, 403, 503),
)
async def list_dead_letters(
    admin: AdminUser, deliveries: AdminDeliveriesDep, limit: Limit = 100
) -> DeadLettersRead:
    letters = await deliveries.dead_letters(limit)
    return DeadLettersRead(items=[DeadLetterRead(**vars(letter)) for letter in letters])


@router.post(
    "/dead-letters/{job_id}/redrive",
    operation_id="redriveDeadLetter",
    status_code=202,
    response_model=RedriveRead,
    responses=errors(401, 403, 404, 503),
)
async def redrive_dead_letter(
    job_id: Annotated[str, Path(max_length=64, description="The dead-lettered job")],
    body: ReasonBody,
    admin: AdminUser,
    deliveries: AdminDeliveriesDep,
) -> RedriveRead:
    outcome = await deliveries.redrive_dead_letter(_action(admin, body.reason), job_id)
    return RedriveRead(outcome=outcome)


@router.get(
    "/outbox",
    operation_id="listGivenUpDeliveries",
    response_model=GivenUpPage,
    responses=errors(401, 403, 503),
)
async def list_given_up(
    admin: AdminUser,
    deliveries: AdminDeliveriesDep,
    state: Annotated[
        Literal["given_up"], Query(description="Only `given_up`: what the relay gave up on")
    ] = "given_up",
    limit: Limit = 100,
) -> GivenUpPage:
    rows = await deliveries.given_up(limit)
    return GivenUpPage(items=[GivenUpRead(**vars(row)) for row in rows])


@router.post(
    "/outbox/{row_id}/redrive",
    operation_id="redriveDelivery",
    status_code=202,
    response_model=RedriveRead,
    responses=errors(401, 403, 404, 503),
)
async def redrive_delivery(
    row_id: Annotated[int, Path(ge=1, le=2**62, description="The given-up outbox row")],
    body: ReasonBody,
    admin: AdminUser,
    deliveries: AdminDeliveriesDep,
) -> RedriveRead:
    await deliveries.redrive_delivery(_action(admin, body.reason), row_id)
    return RedriveRead(outcome="queued")


@router.post(
    "/generation-requests/{request_id}/refund",
    operation_id="refundStep",
    status_code=202,
    response_model=GenerationRequestRead,
    responses=errors(401, 403, 404, 409, 503),
)
async def refund_step(
    request_id: RequestIdPath,
    body: RefundBody,
    admin: AdminUser,
    requests: AdminRequestsDep,
    links: LinksDep,
) -> Response:
    """Refund one charged step's price, once (`409` for a step refunded already)."""
    action = _action(admin, body.reason)
    request = await requests.refund_step(action, request_id, body.job_id)
    return as_json(request_view(request, links), 202)


@router.post(
    "/generation-requests/{request_id}/fail",
    operation_id="failRequest",
    status_code=202,
    response_model=GenerationRequestRead,
    responses=errors(401, 403, 404, 409, 503),
)
async def fail_request(
    request_id: RequestIdPath,
    body: ReasonBody,
    admin: AdminUser,
    requests: AdminRequestsDep,
    links: LinksDep,
) -> Response:
    """Fail a stuck step (refunded as a system failure); `409` when nothing is in flight."""
    request = await requests.fail(_action(admin, body.reason), request_id)
    return as_json(request_view(request, links), 202)


@router.post(
    "/users/{user_id}/erase",
    operation_id="eraseUser",
    status_code=202,
    response_model=ErasureRead,
    responses=errors(401, 403, 503),
)
async def erase_user(
    user_id: Annotated[str, Path(min_length=1, max_length=128, description="The user's id")],
    body: ReasonBody,
    admin: AdminUser,
    requests: AdminRequestsDep,
) -> ErasureRead:
    """A right-to-erasure request: every request of the user a tombstone, their uploads gone."""
    erasure = await requests.erase_user(_action(admin, body.reason), user_id)
    return ErasureRead(erased=erasure.erased, uploads=erasure.uploads, skipped=erasure.skipped)

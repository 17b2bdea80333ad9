"""n8n → service callbacks (contract §3): signed per Standard Webhooks, applied atomically."""

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from standardwebhooks import Webhook

from ....application.assets import ReportedImage
from ....application.dtos import FinalResult, JobError, SamplesResult
from ....core.errors import ApiError
from ....domain.errors import ErrorCode
from ....domain.models import CallbackOutcome
from ....domain.text import text_problem
from ...dependencies import ResultsDep, ServicesDep
from ..callback_schemas import (
    CallbackResult,
    N8NErrorPayload,
    N8NFinalResultPayload,
    N8NSampleResultPayload,
    ReportedImageModel,
    UrlAssetModel,
)
from ..responses import errors

log = logging.getLogger(__name__)
router = APIRouter(prefix="/n8n-callbacks", tags=["n8n callbacks"])
M = TypeVar("M", bound=BaseModel)
RESPONSES = errors(401, 404, 422, 503)  # 422 also invalid_output (the images are not the job's)
MAX_WEBHOOK_ID = 255  # the receipts table's column


@dataclass(frozen=True)
class SignedCallback:
    body: bytes
    webhook_id: str


async def verified_callback(request: Request, services: ServicesDep) -> SignedCallback:
    """Standard Webhooks: HMAC over `{id}.{timestamp}.{body}`, timestamp within 5 minutes."""
    body = await request.body()
    webhook: Webhook = services.callback_webhook
    try:
        webhook.verify(body, dict(request.headers), json_parse=False)
    except Exception:  # the library raises several kinds for malformed headers; all mean "no"
        raise ApiError(
            401, ErrorCode.UNAUTHENTICATED, "The callback signature is missing or wrong."
        ) from None
    webhook_id = request.headers["webhook-id"]
    if len(webhook_id) > MAX_WEBHOOK_ID or text_problem(webhook_id):
        raise ApiError(
            422,
            ErrorCode.VALIDATION_ERROR,
            "Invalid input: webhook-id.",
            [
                {
                    "field": "webhook-id",
                    "message": f"must be 1..{MAX_WEBHOOK_ID} printable characters",
                }
            ],
        )
    return SignedCallback(body, webhook_id)


VerifiedBody = Annotated[SignedCallback, Depends(verified_callback)]


async def callback_counter(
    request: Request, services: ServicesDep
) -> AsyncIterator[Callable[[CallbackOutcome], CallbackResult]]:
    """Counts every callback by kind and outcome; one refused before it applied (bad
    signature, malformed, unknown request) counts as `rejected`."""
    kind = request.url.path.rsplit("/", 1)[-1]
    answered = False

    def answer(outcome: CallbackOutcome) -> CallbackResult:
        nonlocal answered
        answered = True
        services.metrics.callback(kind, outcome.value)
        return CallbackResult(result=outcome.value)

    try:
        yield answer
    finally:
        if not answered:
            services.metrics.callback(kind, "rejected")


# resolved before VerifiedBody (parameter order), so it sees the signature refusals too
Answer = Annotated[Callable[[CallbackOutcome], CallbackResult], Depends(callback_counter)]


def _parse(model: type[M], body: bytes) -> M:
    """The body is read raw (its signature covers the bytes), then validated here; errors
    are rendered by the same handler as every other validation error."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def signed_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI description of a callback, whose body is read raw (its signature covers the
    bytes) rather than declared as a parameter: the body's schema and the signature headers."""
    schema = _inlined(model.model_json_schema())
    headers = [
        ("webhook-id", "the message id, the same on every retry of one callback (1..255)"),
        ("webhook-timestamp", "Unix seconds; more than 5 minutes off is refused"),
        ("webhook-signature", "`v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`"),
    ]
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in headers
        ],
    }


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its `$defs` written in place: the document's components know none of
    these models (the route reads its body raw), and the models do not refer to themselves."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


def _reported(model: ReportedImageModel) -> ReportedImage:
    if isinstance(model, UrlAssetModel):  # v1: downloaded and stored under an output id
        return ReportedImage(url=model.url, seed=model.seed)
    return ReportedImage(asset_id=model.asset_id, seed=model.seed)


@router.post(
    "/samples",
    operation_id="reportSamples",
    response_model=CallbackResult,
    responses=RESPONSES,
    openapi_extra=signed_body(N8NSampleResultPayload),
)
async def samples_ready(answer: Answer, body: VerifiedBody, results: ResultsDep) -> CallbackResult:
    payload = _parse(N8NSampleResultPayload, body.body)
    outcome = await results.process_n8n_sample_callback(
        SamplesResult(
            payload.request_id,
            payload.job_id,
            tuple(_reported(s) for s in payload.samples),
            payload.ai_model_used,
            payload.processing_time_ms,
            body.webhook_id,
        )
    )
    return answer(outcome)


@router.post(
    "/final",
    operation_id="reportFinal",
    response_model=CallbackResult,
    responses=RESPONSES,
    openapi_extra=signed_body(N8NFinalResultPayload),
)
async def final_asset_ready(
    answer: Answer, body: VerifiedBody, results: ResultsDep
) -> CallbackResult:
    payload = _parse(N8NFinalResultPayload, body.body)
    outcome = await results.process_n8n_final_asset_callback(
        FinalResult(
            payload.request_id,
            payload.job_id,
            _reported(payload.asset),
            payload.ai_model_used,
            payload.processing_time_ms,
            body.webhook_id,
        )
    )
    return answer(outcome)


@router.post(
    "/error",
    operation_id="reportJobError",
    response_model=CallbackResult,
    responses=RESPONSES,
    openapi_extra=signed_body(N8NErrorPayload),
)
async def generation_error(
    answer: Answer, body: VerifiedBody, results: ResultsDep, services: ServicesDep
) -> CallbackResult:
    payload = _parse(N8NErrorPayload, body.body)
    if services.settings.enable_detailed_n8n_error_logging:
        log.warning(
            "n8n error for request %s job %s: %r",
            payload.request_id,
            payload.job_id,
            payload.model_dump(),
        )
    else:
        log.warning(  # %r: the message is n8n's text, and may hold line breaks
            "n8n error for request %s: %s %r",
            payload.request_id,
            payload.error_code,
            payload.error_message[:200],
        )
    outcome = await results.handle_n8n_error(
        JobError(
            payload.request_id,
            payload.job_id,
            payload.error_code,
            payload.error_message,
            payload.retryable,
            payload.details,
            body.webhook_id,
        )
    )
    return answer(outcome)

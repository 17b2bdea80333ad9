import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from ....application.correlation import request_id_var
from ....application.dtos import CreateGeneration, ListRequests, SelectSample, VarySample
from ....application.read_side import request_view
from ....core.errors import ApiError
from ....domain.errors import ErrorCode
from ....domain.formats import Dimensions, native_size
from ....domain.models import (
    BrandElements,
    GenerationParameters,
    GenerationStatus,
)
from ...dependencies import (
    CurrentUser,
    IdempotencyDep,
    InitiateDep,
    LifecycleDep,
    LinksDep,
    MovesDep,
    ReadsDep,
)
from ..idempotency import idempotent
from ..params import RequestIdPath
from ..read_schemas import BatchRead, GenerationRequestPage, GenerationRequestRead
from ..responses import Answer, as_json, errors
from ..schemas import BatchCreate, GenerationRequestCreate, SampleSelection, VariationRequest
from ..waiting import PreferWait, settled_answer

router = APIRouter(prefix="/generation-requests", tags=["generation requests"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Makes a retry safe: the same key and body answer as the first time and "
        "charge once (kept 24 h, per user)",
    ),
]
CREATE_RESPONSES = errors(401, 402, 409, 429, 503)
READ_RESPONSES = errors(401, 404, 503)
LIST_RESPONSES = errors(401, 503)
CANCEL_RESPONSES = errors(401, 404, 409, 503)
# a move that costs credits; with `Prefer: wait`, 200 once its step has settled
SETTLED: dict[int | str, dict[str, Any]] = {
    200: {
        "model": GenerationRequestRead,
        "description": "`Prefer: wait` was honoured: the step has settled "
        "(header `Preference-Applied: wait`)",
    }
}
MOVE_RESPONSES = {**SETTLED, **errors(401, 402, 404, 409, 503)}


@router.post(
    "",
    operation_id="createGenerationRequest",
    status_code=202,
    response_model=GenerationRequestRead,
    responses={**SETTLED, **CREATE_RESPONSES},
)
async def create_generation_request_endpoint(
    payload: GenerationRequestCreate,
    user: CurrentUser,
    initiate: InitiateDep,
    links: LinksDep,
    idempotency: IdempotencyDep,
    http_request: Request,
    wait: PreferWait,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def create() -> tuple[dict[str, Any], str]:
        request = await initiate.initiate_generation(_command(payload, user))
        location = http_request.url_for(
            "get_generation_request_status_endpoint", request_id=request.id
        )
        return request_view(request, links), location.path

    if idempotency_key is None:
        body, location = await create()
        answer = Answer(body, 202, {"Location": location})
    else:
        answer = await idempotent(idempotency, user, idempotency_key, payload, create, 202)
    return await settled_answer(wait, answer, answer.body["id"], user)


@router.post(
    "/batch",
    operation_id="createGenerationRequestBatch",
    status_code=201,
    response_model=BatchRead,
    responses=CREATE_RESPONSES,
)
async def create_generation_request_batch_endpoint(
    payload: BatchCreate,
    user: CurrentUser,
    initiate: InitiateDep,
    links: LinksDep,
    idempotency: IdempotencyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def create() -> tuple[dict[str, Any], None]:
        requests = await initiate.initiate_batch(
            [_command(item, user) for item in payload.requests]
        )
        return {"items": [request_view(r, links) for r in requests]}, None

    if idempotency_key is None:
        return as_json((await create())[0], 201)
    return (await idempotent(idempotency, user, idempotency_key, payload, create, 201)).response()


@router.get(
    "",
    operation_id="listGenerationRequests",
    response_model=GenerationRequestPage,
    responses=LIST_RESPONSES,
)
async def list_generation_requests_endpoint(
    user: CurrentUser,
    reads: ReadsDep,
    links: LinksDep,
    project_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this project's")
    ] = None,
    status: Annotated[GenerationStatus | None, Query(description="Only in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1..100")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the page before")
    ] = None,
) -> Response:
    after = _decode_cursor(cursor) if cursor else None
    requests = await reads.list_generation_requests(
        ListRequests(user, limit + 1, project_id, status, after)
    )
    page, more = requests[:limit], len(requests) > limit
    next_cursor = _encode_cursor(page[-1].created_at, page[-1].id) if more else None
    items = [request_view(r, links) for r in page]
    return as_json({"items": items, "next_cursor": next_cursor})


@router.get(
    "/{request_id}",
    operation_id="getGenerationRequest",
    response_model=GenerationRequestRead,
    responses=READ_RESPONSES,
)
async def get_generation_request_status_endpoint(
    request_id: RequestIdPath, user: CurrentUser, reads: ReadsDep, links: LinksDep
) -> Response:
    request = await reads.get_generation_status(request_id, user)
    return as_json(request_view(request, links))


@router.post(
    "/{request_id}/select-sample",
    operation_id="selectSample",
    status_code=202,
    response_model=GenerationRequestRead,
    responses=MOVE_RESPONSES,
)
async def select_sample_for_final_generation_endpoint(
    request_id: RequestIdPath,
    selection: SampleSelection,
    user: CurrentUser,
    moves: MovesDep,
    links: LinksDep,
    wait: PreferWait,
) -> Response:
    request = await moves.select_sample_and_initiate_final(
        SelectSample(
            request_id=request_id,
            user_id=user,
            sample_id=selection.selected_sample_id,
            resolution=selection.resolution,
            output_format=str(selection.output_format),
        )
    )
    return await settled_answer(wait, Answer(request_view(request, links), 202), request.id, user)


@router.post(
    "/{request_id}/regenerate-samples",
    operation_id="regenerateSamples",
    status_code=202,
    response_model=GenerationRequestRead,
    responses=MOVE_RESPONSES,
)
async def trigger_sample_regeneration_endpoint(
    request_id: RequestIdPath, user: CurrentUser, moves: MovesDep, links: LinksDep, wait: PreferWait
) -> Response:
    request = await moves.trigger_sample_regeneration(request_id, user)
    return await settled_answer(wait, Answer(request_view(request, links), 202), request.id, user)


@router.post(
    "/{request_id}/vary",
    operation_id="varySample",
    status_code=202,
    response_model=GenerationRequestRead,
    responses=MOVE_RESPONSES,
)
async def vary_sample_endpoint(
    request_id: RequestIdPath,
    variation: VariationRequest,
    user: CurrentUser,
    moves: MovesDep,
    links: LinksDep,
    wait: PreferWait,
) -> Response:
    request = await moves.vary_sample(
        VarySample(
            request_id=request_id,
            user_id=user,
            sample_id=variation.sample_id,
            strength=variation.strength,
            prompt=variation.prompt,
        )
    )
    return await settled_answer(wait, Answer(request_view(request, links), 202), request.id, user)


@router.post(
    "/{request_id}/cancel",
    operation_id="cancelGenerationRequest",
    status_code=202,
    response_model=GenerationRequestRead,
    responses=CANCEL_RESPONSES,
)
async def cancel_generation_request_endpoint(
    request_id: RequestIdPath, user: CurrentUser, lifecycle: LifecycleDep, links: LinksDep
) -> Response:
    request = await lifecycle.cancel(request_id, user)
    return as_json(request_view(request, links), 202)


@router.delete(
    "/{request_id}",
    operation_id="deleteGenerationRequest",
    status_code=204,
    response_class=Response,
    responses=errors(401, 404, 409, 503),
)
async def delete_generation_request_endpoint(
    request_id: RequestIdPath, user: CurrentUser, lifecycle: LifecycleDep
) -> Response:
    """Erase the prompt and texts and delete the images; the request stays as a `deleted`
    tombstone (its costs kept). Not while a job is in flight (`409`); again: `204`."""
    await lifecycle.delete(request_id, user)
    return Response(status_code=204)


def _command(payload: GenerationRequestCreate, user: str) -> CreateGeneration:
    brand = payload.brand_elements
    return CreateGeneration(
        user_id=user,
        project_id=payload.project_id,
        parameters=_parameters(payload),
        correlation_id=request_id_var.get(),
        input_asset_ids=tuple(payload.input_asset_ids),
        logo_asset_ids=tuple(brand.logo_asset_ids) if brand else (),
    )


def _parameters(payload: GenerationRequestCreate) -> GenerationParameters:
    custom = payload.custom_dimensions
    brand = payload.brand_elements
    return GenerationParameters(
        prompt=payload.prompt,
        format=str(payload.format),
        dimensions=native_size(
            str(payload.format), Dimensions(custom.width, custom.height) if custom else None
        ),
        style_guidance=payload.style_guidance,
        tone=str(payload.tone) if payload.tone else None,
        industry=payload.industry,
        template_id=payload.template_id,
        locale=payload.locale,
        brand_elements=BrandElements(
            tuple(brand.colors), tuple(brand.fonts), tuple(brand.logo_urls)
        )
        if brand
        else BrandElements(),
        input_asset_urls=tuple(payload.input_asset_urls),
        webhook_url=payload.webhook_url,
        webhook_events=tuple(payload.webhook_events or ()),
        seed=payload.seed,
        negative_prompt=payload.negative_prompt,
        model=payload.model,
    )


def _encode_cursor(created_at: datetime, request_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), request_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, request_id = json.loads(raw)
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None or not isinstance(request_id, str):
            raise ValueError(cursor)
        return when, request_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ApiError(
            422,
            ErrorCode.VALIDATION_ERROR,
            "Invalid input: cursor.",
            [{"field": "cursor", "message": "not a cursor this service issued"}],
        ) from None

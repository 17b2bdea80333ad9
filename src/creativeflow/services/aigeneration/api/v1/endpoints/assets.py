"""Images (contract §6): uploads of the user's own, each asset's JSON, and its bytes behind a
bearer token or a signed, expiring link. No other route serves images."""

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from ....application.asset_service import AssetRead, SignedLink
from ....application.read_side import asset_view
from ....core.errors import ApiError
from ....domain.errors import ErrorCode
from ....domain.models.asset_info import MEDIA_TYPES
from ...dependencies import (
    AssetServiceDep,
    CurrentUser,
    bearer_scheme,
    get_current_user,
)
from ..params import AssetIdPath
from ..read_schemas import AssetInfoModel
from ..responses import errors

router = APIRouter(prefix="/assets", tags=["assets"])
# no length or pattern here: any wrong link parameter is the same 403 (contract §6), not a 422
Expires = Annotated[str | None, Query(description="A signed link's expiry (Unix seconds)")]
Signature = Annotated[str | None, Query(description="A signed link's signature")]
LinkParam = Annotated[str, Query(description="Part of the signed link the job carries")]


def _read(read: AssetRead) -> AssetInfoModel:
    return AssetInfoModel.model_validate(asset_view(read.record.info, read.link))


@router.post(
    "",
    operation_id="uploadAsset",
    status_code=201,
    response_model=AssetInfoModel,
    responses=errors(401, 413, 503),
)
async def upload_asset(
    user: CurrentUser,
    assets: AssetServiceDep,
    file: Annotated[UploadFile, File(description="A PNG, JPEG or WebP image, 64..8192 px a side")],
    purpose: Annotated[
        Literal["input", "logo"],
        Form(description="`input`: to work from; `logo`: to brand with"),
    ] = "input",
) -> AssetInfoModel:
    limit = assets.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"An upload may be at most {limit} bytes.")
    return _read(await assets.upload(user, data, purpose))


@router.get(
    "/{asset_id}",
    operation_id="getAsset",
    response_model=AssetInfoModel,
    responses=errors(401, 404),
)
async def get_asset(
    asset_id: AssetIdPath, user: CurrentUser, assets: AssetServiceDep
) -> AssetInfoModel:
    return _read(await assets.owned(asset_id, user))


@router.get(
    "/{asset_id}/content",
    operation_id="getAssetContent",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}},
        307: {"description": "On S3 storage: to a presigned URL of the object"},
        **errors(401, 403, 404, 503),
    },
)
async def get_asset_content(
    asset_id: AssetIdPath,
    request: Request,
    assets: AssetServiceDep,
    expires: Expires = None,
    signature: Signature = None,
) -> Response:
    """The image's bytes, with a bearer token of its owner or a signed link (`expires` and
    `signature`, as in every AssetInfo `url` of the local store)."""
    if expires is not None or signature is not None:
        read = await assets.signed(asset_id, SignedLink(expires or "", signature or ""))
    else:
        user = await get_current_user(request, await bearer_scheme(request))
        read = await assets.owned(asset_id, user)
    if assets.redirects:
        return RedirectResponse(read.link.url, status_code=307)
    info = read.record.info
    opened = await assets.content(read)
    return StreamingResponse(
        opened.chunks,
        media_type=MEDIA_TYPES[info.format],
        headers={
            "ETag": f'"{info.sha256}"',
            "Cache-Control": "private, max-age=300",
            "Content-Length": str(opened.length),  # the object's own length, as streamed
        },
    )


@router.put(
    "/{asset_id}/content",
    operation_id="putAssetContent",
    status_code=204,
    responses={**errors(403, 413, 503)},
    include_in_schema=False,  # a worker's upload target on the local store, not a user route
)
async def put_asset_content(
    asset_id: AssetIdPath,
    request: Request,
    assets: AssetServiceDep,
    request_id: LinkParam = "",
    job_id: LinkParam = "",
    expires: Expires = None,
    signature: Signature = None,
) -> Response:
    """An upload target of a job (the local store's stand-in for a presigned S3 PUT): written
    once, while its job is in flight."""
    link = SignedLink(expires or "", signature or "", request_id, job_id)
    await assets.receive_upload(asset_id, link, request.stream())
    return Response(status_code=204)

"""The read side: what a request shows, in one place (shared/DESIGN.md, "A read side"). The
GenerationRequestRead of contract §1, §6 and §7 as plain JSON is what the API answers after a
move and on every read, what SSE streams and what webhooks to API users carry; notifications
carry its summary. Asset links are minted here, on every read. The API answers these dicts as
they are, one way for every route (no second pass through the pydantic model); a unit test
holds them equal to what the model would write, and the client's models to the model
(tests/unit/test_request_view.py, tests/unit/test_client_models.py)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from ..domain.models import AssetInfo, GenerationRequest, Job, JobType
from .assets import AssetLinks, Link, output_key
from .serialization import parameters_to_json


def asset_view(info: AssetInfo, link: Link) -> dict[str, Any]:
    """AssetInfo of the contract: the image, and a link a browser can load until it expires."""
    return {
        "asset_id": info.asset_id,
        "url": link.url,
        "url_expires_at": utc_time(link.expires_at),
        "resolution": info.resolution,
        "format": info.format,
        "width": info.width,
        "height": info.height,
        "bytes": info.bytes,
        "sha256": info.sha256,
        "seed": info.seed,
    }


def request_view(request: GenerationRequest, links: AssetLinks) -> dict[str, Any]:
    asset = _AssetViews(request, links)
    return {
        "id": request.id,
        "user_id": request.user_id,
        "project_id": request.project_id,
        "status": str(request.status),
        "input_prompt": request.parameters.prompt,
        "style_guidance": request.parameters.style_guidance,
        "input_parameters": parameters_to_json(request.parameters),
        "seed": request.parameters.seed,
        "negative_prompt": request.parameters.negative_prompt,
        "sample_round": request.sample_round,
        "sample_asset_infos": [asset(sample) for sample in request.samples],
        "selected_sample_id": request.selected_sample_id,
        "final_asset_info": asset(request.final_asset) if request.final_asset else None,
        "rounds": [_round_view(job, asset) for job in request.rounds],
        "finals": [_final_view(job, asset) for job in request.finals],
        "error_code": request.error_code,
        "error_message": request.error_message,
        "retryable": request.retryable,
        "credits_cost_sample": _credits(request.credits_cost_sample),
        "credits_cost_final": _credits(request.credits_cost_final),
        "ai_model_used": request.ai_model_used,
        "created_at": utc_time(request.created_at),
        "updated_at": utc_time(request.updated_at),
        "assets_expired_at": utc_time(request.assets_expired_at)
        if request.assets_expired_at
        else None,
        "metrics": {
            "samples_ms": request.last_duration_ms(JobType.SAMPLES),
            "final_ms": request.last_duration_ms(JobType.FINAL),
            "total_ms": request.total_ms,
        },
    }


class _AssetViews:
    """An image shows up twice in an answer (the newest round and `rounds`, the newest final
    and `finals`): its view, and its link, are made once per answer."""

    def __init__(self, request: GenerationRequest, links: AssetLinks) -> None:
        self._request = request
        self._links = links
        self._viewed: dict[str, dict[str, Any]] = {}

    def __call__(self, info: AssetInfo) -> dict[str, Any]:
        if info.asset_id not in self._viewed:
            key = output_key(self._request, info.asset_id, info.format)
            link = self._links.for_user(info.asset_id, key)
            self._viewed[info.asset_id] = asset_view(info, link)
        return self._viewed[info.asset_id]


def _round_view(job: Job, asset: _AssetViews) -> dict[str, Any]:
    return {
        "round": job.round,
        "kind": "variation" if job.is_variation else "samples",
        "source_sample_id": job.source_sample_id,
        "strength": str(job.strength) if job.strength else None,
        "seed": job.seed,
        "status": str(job.state),
        "samples": [asset(sample) for sample in job.outputs],
    }


def _final_view(job: Job, asset: _AssetViews) -> dict[str, Any]:
    return {
        **asset(job.outputs[0]),
        "sample_id": job.selected_sample_id,
        "quality": str(job.resolution or "standard"),
        "credits_cost": _credits(job.price),
    }


def _credits(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def utc_time(value: datetime) -> str:
    """An aware UTC time (as the domain keeps them) in RFC 3339, written as pydantic writes it
    (`…Z`): one spelling in every answer, event and webhook."""
    return value.isoformat().replace("+00:00", "Z")


def request_summary(request: GenerationRequest, links: AssetLinks) -> dict[str, Any]:
    """What a notification says of its request (contract §4): where it stands, and a link to
    its newest final (of the usual lifetime; the app fetches a fresh one later)."""
    final = request.final_asset
    final_url = None
    if final is not None:
        final_url = links.for_user(
            final.asset_id, output_key(request, final.asset_id, final.format)
        ).url
    return {
        "request_id": request.id,
        "project_id": request.project_id,
        "status": str(request.status),
        "sample_round": request.sample_round,
        "error_code": request.error_code,
        "final_asset_url": final_url,
        "correlation_id": request.correlation_id,
    }

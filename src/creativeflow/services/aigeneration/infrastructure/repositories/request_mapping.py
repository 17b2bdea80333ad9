"""GenerationRequest <-> row of generation_requests. Kept apart so the SQL stays readable."""

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...application.serialization import parameters_to_json, plain
from ...domain.formats import Dimensions, Resolution
from ...domain.models import (
    AssetInfo,
    BrandElements,
    GenerationParameters,
    GenerationRequest,
    GenerationStatus,
    InputImage,
    Job,
    JobState,
    JobType,
    Strength,
)
from ...domain.models.generation_parameters import WebhookEvent


def to_row(request: GenerationRequest) -> dict[str, Any]:
    current = request.current_job
    return {
        "id": request.id,
        "user_id": request.user_id,
        "project_id": request.project_id,
        "status": str(request.status),
        "version": request.version,
        "input_prompt": request.parameters.prompt,
        "style_guidance": request.parameters.style_guidance,
        "input_parameters": {
            **parameters_to_json(request.parameters),
            "input_images": [plain(image) for image in request.parameters.input_images],
            "seed": request.parameters.seed,
            "negative_prompt": request.parameters.negative_prompt,
        },
        "sample_round": request.sample_round,
        "final_round": request.final_round,
        "sample_asset_infos": [plain(sample) for sample in request.samples],
        "selected_sample_id": request.selected_sample_id,
        "final_asset_info": plain(request.final_asset) if request.final_asset else None,
        "error_code": request.error_code,
        "error_message": request.error_message,
        "retryable": request.retryable,
        "credits_cost_sample": request.credits_cost_sample,
        "credits_cost_final": request.credits_cost_final,
        "ai_model_used": request.ai_model_used,
        "jobs": [_job_to_json(job) for job in request.jobs],
        "current_job_id": current.job_id if current else None,
        "deadline_at": current.deadline if current else None,
        "correlation_id": request.correlation_id,
        "created_at": request.created_at,
        "updated_at": request.updated_at,
        "finished_at": request.finished_at,
        "assets_expired_at": request.assets_expired_at,
        "retention_notice_at": request.retention_notice_at,
    }


def from_row(row: Any) -> GenerationRequest:
    jobs = tuple(_job_from_json(job) for job in row.jobs)
    return GenerationRequest(
        id=row.id,
        user_id=row.user_id,
        project_id=row.project_id,
        parameters=_parameters_from_json(
            row.input_prompt, row.style_guidance, row.input_parameters
        ),
        status=GenerationStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        correlation_id=row.correlation_id,
        sample_round=row.sample_round,
        final_round=row.final_round,
        error_code=row.error_code,
        error_message=row.error_message,
        retryable=row.retryable,
        ai_model_used=row.ai_model_used,
        jobs=_with_legacy_outputs(jobs, row.sample_asset_infos, row.final_asset_info),
        finished_at=row.finished_at,
        assets_expired_at=row.assets_expired_at,
        retention_notice_at=row.retention_notice_at,
        version=row.version,
    )


def _parameters_from_json(
    prompt: str, style_guidance: str | None, data: dict[str, Any]
) -> GenerationParameters:
    brand = data.get("brand_elements") or {}
    return GenerationParameters(
        prompt=prompt,
        style_guidance=style_guidance,
        format=data["format"],
        dimensions=Dimensions(data["width"], data["height"]),
        tone=data.get("tone"),
        industry=data.get("industry"),
        template_id=data.get("template_id"),
        locale=data.get("locale"),
        brand_elements=BrandElements(
            colors=tuple(brand.get("colors", ())),
            fonts=tuple(brand.get("fonts", ())),
            logo_urls=tuple(brand.get("logo_urls", ())),
        ),
        input_asset_urls=tuple(data.get("input_asset_urls", ())),
        input_images=tuple(InputImage(**image) for image in data.get("input_images", ())),
        webhook_url=data.get("webhook_url"),
        webhook_events=tuple(WebhookEvent(name) for name in data.get("webhook_events", ())),
        seed=data.get("seed"),
        negative_prompt=data.get("negative_prompt"),
        model=data.get("model"),
    )


def _with_legacy_outputs(
    jobs: tuple[Job, ...], samples: list[dict[str, Any]], final: dict[str, Any] | None
) -> tuple[Job, ...]:
    """Rows written before 1.1 keep their images in the columns, not on the jobs: hand the
    newest round's samples and the final to the jobs that delivered them."""
    if any(job.outputs for job in jobs):
        return jobs
    delivered = {JobType.SAMPLES: [_asset(s) for s in samples], JobType.FINAL: []}
    if final:
        delivered[JobType.FINAL] = [_asset(final)]
    upgraded = list(jobs)
    for job_type, assets in delivered.items():
        done = [
            i
            for i, j in enumerate(jobs)
            if j.job_type is job_type and j.state is JobState.SUCCEEDED
        ]
        if assets and done:
            upgraded[done[-1]] = replace(jobs[done[-1]], outputs=tuple(assets))
    return tuple(upgraded)


_ASSET_FIELDS = ("asset_id", "width", "height", "format", "bytes", "sha256", "seed")


def _asset(data: dict[str, Any]) -> AssetInfo:
    if "width" not in data:  # stored before 1.1: `resolution` as "WxH" (and a url, now unused)
        width, height = data["resolution"].split("x")
        data = {**data, "width": int(width), "height": int(height)}
    return AssetInfo(**{name: data[name] for name in _ASSET_FIELDS if name in data})


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _job_to_json(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "job_type": str(job.job_type),
        "round": job.round,
        "price": str(job.price),
        "state": str(job.state),
        "created_at": _time(job.created_at),
        "dispatched_at": _time(job.dispatched_at),
        "deadline": _time(job.deadline),
        "finished_at": _time(job.finished_at),
        "resolution": str(job.resolution) if job.resolution else None,
        "output_format": job.output_format,
        "selected_sample_id": job.selected_sample_id,
        "model": job.model,
        "seed": job.seed,
        "source_sample_id": job.source_sample_id,
        "strength": str(job.strength) if job.strength else None,
        "prompt": job.prompt,
        "outputs": [plain(asset) for asset in job.outputs],
        "batch_id": job.batch_id,
        "batch_total": str(job.batch_total) if job.batch_total is not None else None,
    }


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _job_from_json(data: dict[str, Any]) -> Job:
    created = _parse_time(data["created_at"])
    assert created is not None
    return Job(
        job_id=data["job_id"],
        job_type=JobType(data["job_type"]),
        round=data["round"],
        price=Decimal(data["price"]),
        created_at=created,
        state=JobState(data["state"]),
        dispatched_at=_parse_time(data["dispatched_at"]),
        deadline=_parse_time(data["deadline"]),
        finished_at=_parse_time(data["finished_at"]),
        resolution=Resolution(data["resolution"]) if data["resolution"] else None,
        output_format=data["output_format"],
        selected_sample_id=data["selected_sample_id"],
        model=data.get("model"),
        seed=data.get("seed"),
        source_sample_id=data.get("source_sample_id"),
        strength=Strength(data["strength"]) if data.get("strength") else None,
        prompt=data.get("prompt"),
        outputs=tuple(_asset(asset) for asset in data.get("outputs", ())),
        batch_id=data.get("batch_id"),
        batch_total=Decimal(data["batch_total"]) if data.get("batch_total") else None,
    )

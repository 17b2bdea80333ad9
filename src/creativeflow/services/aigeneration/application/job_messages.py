"""The job message of contract §2, built from a dispatched job."""

from dataclasses import asdict
from typing import Any

from ..domain.formats import final_size, sample_size
from ..domain.models import GenerationRequest, Job, JobType
from .dtos import CallbackUrls

SCHEMA_VERSION = 1
SAMPLES_PER_ROUND = 4


def job_message(request: GenerationRequest, job: Job, urls: CallbackUrls) -> dict[str, Any]:
    params = request.parameters
    if job.job_type is JobType.SAMPLES:
        size = sample_size(params.dimensions)
    else:
        assert job.resolution is not None
        size = final_size(params.dimensions, job.resolution)
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "job_id": job.job_id,
        "job_type": str(job.job_type),
        "request_id": request.id,
        "round": job.round,
        "user_id": request.user_id,
        "project_id": request.project_id,
        "prompt": params.prompt,
        "style_guidance": params.style_guidance,
        "tone": params.tone,
        "industry": params.industry,
        "template_id": params.template_id,
        "locale": params.locale,
        "brand_elements": {k: list(v) for k, v in asdict(params.brand_elements).items()},
        "input_asset_urls": list(params.input_asset_urls),
        "format": params.format,
        "width": size.width,
        "height": size.height,
        "output_format": job.output_format,
        "model": job.model,
        "callback_urls": {"samples": urls.samples, "final": urls.final, "error": urls.error},
        "deadline": job.deadline.isoformat() if job.deadline else None,
    }
    if job.job_type is JobType.SAMPLES:
        body["num_samples"] = SAMPLES_PER_ROUND
    else:
        selected = next(s for s in request.samples if s.asset_id == job.selected_sample_id)
        body["selected_sample"] = asdict(selected)
    return body


def job_headers(request: GenerationRequest, job: Job) -> dict[str, str]:
    headers = {"message_id": job.job_id, "type": f"generation.{job.job_type}"}
    if request.correlation_id:
        headers["correlation_id"] = request.correlation_id
    return headers

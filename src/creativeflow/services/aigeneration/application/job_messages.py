"""The job message of contract §2, built from a dispatched job. The TypedDicts below are the
message's shape: mypy checks the builder against them, and `aigen schemas` turns them into the
JSON Schema published under docs/contracts/ for whoever builds the n8n side."""

from typing import Final, Literal

# pydantic builds schemas only from typing_extensions' TypedDict before Python 3.12
from typing_extensions import TypedDict

from ..domain.formats import final_size, sample_size
from ..domain.models import GenerationRequest, Job, JobType
from .dtos import CallbackUrls

SCHEMA_VERSION: Final = 1
SAMPLES_PER_ROUND = 4


class BrandElementsMessage(TypedDict):
    colors: list[str]
    fonts: list[str]
    logo_urls: list[str]


class CallbackUrlsMessage(TypedDict):
    """Where n8n reports: the full URLs of the three callback routes (contract §3)."""

    samples: str
    final: str
    error: str


class AssetInfoMessage(TypedDict):
    asset_id: str
    url: str
    resolution: str
    format: str


class _JobMessage(TypedDict):
    schema_version: Literal[1]
    job_id: str
    request_id: str
    round: int
    user_id: str
    project_id: str
    prompt: str
    style_guidance: str | None
    tone: str | None
    industry: str | None
    template_id: str | None
    locale: str | None
    brand_elements: BrandElementsMessage
    input_asset_urls: list[str]
    format: str
    width: int
    height: int
    output_format: str
    model: str | None
    callback_urls: CallbackUrlsMessage
    deadline: str | None


class SamplesJobMessage(_JobMessage):
    """Render `num_samples` samples of `width` x `height`; report them to callback_urls.samples."""

    job_type: Literal["samples"]
    num_samples: int


class FinalJobMessage(_JobMessage):
    """Render the selected sample again at the final size; report it to callback_urls.final."""

    job_type: Literal["final"]
    selected_sample: AssetInfoMessage


JobMessage = SamplesJobMessage | FinalJobMessage


def job_message(request: GenerationRequest, job: Job, urls: CallbackUrls) -> JobMessage:
    params = request.parameters
    if job.job_type is JobType.SAMPLES:
        size = sample_size(params.dimensions)
    else:
        assert job.resolution is not None
        size = final_size(params.dimensions, job.resolution)
    common: _JobMessage = {
        "schema_version": SCHEMA_VERSION,
        "job_id": job.job_id,
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
        "brand_elements": {
            "colors": list(params.brand_elements.colors),
            "fonts": list(params.brand_elements.fonts),
            "logo_urls": list(params.brand_elements.logo_urls),
        },
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
        return {**common, "job_type": "samples", "num_samples": SAMPLES_PER_ROUND}
    selected = next(s for s in request.samples if s.asset_id == job.selected_sample_id)
    return {
        **common,
        "job_type": "final",
        "selected_sample": {
            "asset_id": selected.asset_id,
            "url": selected.url,
            "resolution": selected.resolution,
            "format": selected.format,
        },
    }


def job_headers(request: GenerationRequest, job: Job) -> dict[str, str]:
    headers = {"message_id": job.job_id, "type": f"generation.{job.job_type}"}
    if request.correlation_id:
        headers["correlation_id"] = request.correlation_id
    return headers

"""The job message of contract §2 and §6 (`schema_version` 2), built from a dispatched job. The
TypedDicts below are the message's shape: mypy checks the builder against them, and `aigen
schemas` turns them into the JSON Schema published under docs/contracts/ for whoever builds
the n8n side."""

from collections.abc import Sequence
from typing import Final, Literal

# pydantic builds schemas only from typing_extensions' TypedDict before Python 3.12
from typing_extensions import TypedDict

from ..domain.formats import Dimensions, render_size
from ..domain.models import SAMPLES_PER_ROUND, GenerationRequest, Job, JobType
from ..domain.models.asset_info import MEDIA_TYPES
from .assets import AssetLinks, input_key, output_key
from .dtos import CallbackUrls

SCHEMA_VERSION: Final = 2


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
    """A stored image the job works from, with a link valid until the deadline + 10 minutes."""

    asset_id: str
    url: str
    resolution: str
    format: str
    width: int
    height: int
    seed: int | None


class UploadTarget(TypedDict):
    """Where to PUT one image the job must deliver (presigned, valid until the deadline + 10
    minutes), then name its `asset_id` in the callback."""

    asset_id: str
    upload_url: str
    method: Literal["PUT"]
    headers: dict[str, str]


class InputAssetMessage(TypedDict):
    """An image the user uploaded: `input` to work from, `logo` to brand with."""

    asset_id: str
    url: str
    purpose: Literal["input", "logo"]


class SizeMessage(TypedDict):
    width: int
    height: int


class _JobMessage(TypedDict):
    schema_version: Literal[2]
    job_id: str
    request_id: str
    round: int
    user_id: str
    project_id: str
    prompt: str  # a variation's own prompt when it gave one, else the request's
    negative_prompt: str | None
    seed: int | None  # the round's seed; a variation's or a final's: its sample's seed
    style_guidance: str | None
    tone: str | None
    industry: str | None
    template_id: str | None
    locale: str | None
    brand_elements: BrandElementsMessage
    input_asset_urls: list[str]
    format: str
    width: int  # the exact size of every output
    height: int
    render_size: SizeMessage  # the size to ask the model for (one it supports)
    output_format: str
    outputs: list[UploadTarget]
    input_assets: list[InputAssetMessage]
    model: str | None
    callback_urls: CallbackUrlsMessage
    deadline: str | None
    # GET it before calling the model: `{"current": false}` means skip the job (contract §8)
    status_url: str | None


class SamplesJobMessage(_JobMessage):
    """Render `num_samples` samples of `width` x `height`, upload each to its `outputs` target,
    and report their asset ids to callback_urls.samples. A variation (contract §7) carries
    `source_sample` and `strength`: its samples are made from that image, not from the prompt
    alone (both null for a round from the prompt)."""

    job_type: Literal["samples"]
    num_samples: int
    source_sample: AssetInfoMessage | None
    strength: Literal["subtle", "strong"] | None


class FinalJobMessage(_JobMessage):
    """Refine and upscale the selected sample (image to image) to the final size, upload it to
    the one `outputs` target, and report its asset id to callback_urls.final."""

    job_type: Literal["final"]
    selected_sample: AssetInfoMessage


JobMessage = SamplesJobMessage | FinalJobMessage


def job_message(
    request: GenerationRequest,
    job: Job,
    urls: CallbackUrls,
    links: AssetLinks,
    model_sizes: Sequence[Dimensions] = (),
    status_url: str | None = None,
) -> JobMessage:
    common = _common(request, job, urls, links, model_sizes, status_url)
    if job.job_type is JobType.SAMPLES:
        variation = job.source_sample_id is not None
        return {
            **common,
            "job_type": "samples",
            "num_samples": SAMPLES_PER_ROUND,
            "source_sample": (
                _stored(request, job, links, job.source_sample_id) if job.source_sample_id else None
            ),
            "strength": ("strong" if job.strength == "strong" else "subtle") if variation else None,
        }
    assert job.selected_sample_id is not None, "a final names its sample"
    selected = _stored(request, job, links, job.selected_sample_id)
    return {**common, "job_type": "final", "selected_sample": selected}


def _common(
    request: GenerationRequest,
    job: Job,
    urls: CallbackUrls,
    links: AssetLinks,
    model_sizes: Sequence[Dimensions],
    status_url: str | None,
) -> _JobMessage:
    """What every job says: what to make (the request's parameters, the exact size and the
    size to ask the model for), where to put it, and where to report."""
    params = request.parameters
    size = request.output_size(job)
    asks = render_size(size, model_sizes)
    return {
        "schema_version": SCHEMA_VERSION,
        "job_id": job.job_id,
        "request_id": request.id,
        "round": job.round,
        "user_id": request.user_id,
        "project_id": request.project_id,
        "prompt": job.prompt or params.prompt,
        "negative_prompt": params.negative_prompt,
        "seed": job.seed,
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
        "render_size": {"width": asks.width, "height": asks.height},
        "output_format": job.output_format,
        "outputs": _upload_targets(request, job, links),
        "input_assets": _input_assets(request, job, links),
        "model": job.model,
        "callback_urls": {"samples": urls.samples, "final": urls.final, "error": urls.error},
        "deadline": job.deadline.isoformat() if job.deadline else None,
        "status_url": status_url,
    }


def _upload_targets(request: GenerationRequest, job: Job, links: AssetLinks) -> list[UploadTarget]:
    return [
        {
            "asset_id": asset_id,
            "upload_url": links.upload_for_job(request, asset_id, job),
            "method": "PUT",
            "headers": {"Content-Type": MEDIA_TYPES[job.output_format]},
        }
        for asset_id in job.output_ids
    ]


def _input_assets(
    request: GenerationRequest, job: Job, links: AssetLinks
) -> list[InputAssetMessage]:
    return [
        {
            "asset_id": image.asset_id,
            "url": links.for_job(image.asset_id, input_key(request.user_id, image), job),
            "purpose": "logo" if image.purpose == "logo" else "input",
        }
        for image in request.parameters.input_images
    ]


def _stored(
    request: GenerationRequest, job: Job, links: AssetLinks, sample_id: str
) -> AssetInfoMessage:
    """A sample the job works from, with a link n8n can fetch until the deadline + grace."""
    sample = request.find_sample(sample_id)
    assert sample is not None, "the aggregate checked the sample"
    key = output_key(request, sample.asset_id, sample.format)
    return {
        "asset_id": sample.asset_id,
        "url": links.for_job(sample.asset_id, key, job),
        "resolution": sample.resolution,
        "format": sample.format,
        "width": sample.width,
        "height": sample.height,
        "seed": sample.seed,
    }


def job_headers(request: GenerationRequest, job: Job) -> dict[str, str]:
    headers = {"message_id": job.job_id, "type": f"generation.{job.job_type}"}
    if request.correlation_id:
        headers["correlation_id"] = request.correlation_id
    return headers

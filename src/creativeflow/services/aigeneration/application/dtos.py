"""Commands the use cases take. The API builds them from its wire schemas."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..domain.formats import Resolution
from ..domain.models import GenerationParameters, GenerationStatus, Strength
from ..domain.pricing import PriceList
from .assets import ReportedImage
from .model_selector import ModelSelector
from .status_links import JobStatusLinks


@dataclass(frozen=True)
class CreateGeneration:
    user_id: str
    project_id: str
    parameters: GenerationParameters
    correlation_id: str | None = None
    input_asset_ids: tuple[str, ...] = ()  # the caller's uploads to work from
    logo_asset_ids: tuple[str, ...] = ()  # and to brand with


@dataclass(frozen=True)
class SelectSample:
    request_id: str
    user_id: str
    sample_id: str
    resolution: Resolution = Resolution.STANDARD
    output_format: str = "png"


@dataclass(frozen=True)
class VarySample:
    request_id: str
    user_id: str
    sample_id: str
    strength: Strength = Strength.SUBTLE
    prompt: str | None = None  # None: the request's own prompt


@dataclass(frozen=True)
class ListRequests:
    user_id: str
    limit: int = 20
    project_id: str | None = None
    status: GenerationStatus | None = None
    after: tuple[Any, str] | None = None


@dataclass(frozen=True)
class SamplesResult:
    request_id: str
    job_id: str
    samples: tuple[ReportedImage, ...]
    ai_model_used: str | None = None
    processing_time_ms: int | None = None
    webhook_id: str | None = None


@dataclass(frozen=True)
class FinalResult:
    request_id: str
    job_id: str
    asset: ReportedImage
    ai_model_used: str | None = None
    processing_time_ms: int | None = None
    webhook_id: str | None = None


@dataclass(frozen=True)
class JobError:
    request_id: str
    job_id: str
    error_code: str
    error_message: str
    retryable: bool
    details: dict[str, Any] = field(default_factory=dict)
    webhook_id: str | None = None


@dataclass(frozen=True)
class CallbackUrls:
    samples: str
    final: str
    error: str


@dataclass(frozen=True)
class OrchestrationConfig:
    callback_urls: CallbackUrls
    model_selector: ModelSelector
    prices: PriceList = field(default_factory=PriceList)
    sample_deadline: timedelta = timedelta(seconds=120)
    final_deadline: timedelta = timedelta(seconds=600)
    refund_on_system_failure: bool = True
    max_active_requests: int = 5
    status_links: JobStatusLinks | None = None  # each job's status_url; none: the field is null

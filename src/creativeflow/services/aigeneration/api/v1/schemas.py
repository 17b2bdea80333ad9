"""Wire models of contract §1 and §3. The domain has its own types; these only cross HTTP."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ...application.assets import AssetLinks
from ...application.views import request_view
from ...domain.formats import CUSTOM_FORMAT, FORMAT_NAMES
from ...domain.models import GenerationRequest
from ...domain.models.asset_info import MAX_SEED
from ...domain.text import normalized_http_url, text_problem, trim_invisible

FormatName = Literal[
    "instagram_post",
    "instagram_story",
    "instagram_reel",
    "facebook_post",
    "facebook_ad",
    "linkedin_post",
    "linkedin_article",
    "twitter_post",
    "tiktok",
    "youtube_thumbnail",
    "pinterest_pin",
    "custom",
]
assert set(FormatName.__args__) == set(FORMAT_NAMES)  # type: ignore[attr-defined]
Tone = Literal["professional", "playful", "urgent", "luxury", "friendly", "bold"]
WebhookEvent = Literal["samples_ready", "completed", "failed", "cancelled"]
OutputFormat = Literal["png", "jpg", "webp"]


def _http_url(value: str) -> str:
    return normalized_http_url(value)


def _single_line(value: str) -> str:
    if problem := text_problem(value):
        raise ValueError(problem)
    return value


def _visible_text(max_length: int) -> AfterValidator:
    """Free text that must say something: trimmed of invisible characters at its ends
    (separators, controls, zero-width and direction marks), then 1..max_length long."""

    def check(value: str) -> str:
        if problem := text_problem(value, multiline=True):
            raise ValueError(problem)  # refused, not trimmed away: it was never meant
        trimmed = trim_invisible(value)
        if not trimmed:
            raise ValueError("must contain visible text")
        if len(trimmed) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return trimmed

    return AfterValidator(check)


# A value on one line: no control character at all (identifiers, names, codes).
SingleLine = AfterValidator(_single_line)
AssetId = Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine]
HttpUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]


def _storable(value: Any) -> Any:
    """Text both databases store alike, anywhere in the value: no NUL, no lone surrogates,
    no control characters but tab and line breaks (found by schemathesis and the every-door
    sweep). Single-line fields are held to the stricter rule by `SingleLine`."""
    if isinstance(value, str):
        if problem := text_problem(value, multiline=True):
            raise ValueError(problem)
    elif isinstance(value, list | tuple):
        for item in value:
            _storable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    return value


class WireModel(BaseModel):
    """Every model that brings text in: only text both databases can store gets through."""

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_storable(cls, value: Any) -> Any:
        return _storable(value)


class StrictModel(WireModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CustomDimensions(StrictModel):
    width: int = Field(ge=64, le=4096)
    height: int = Field(ge=64, le=4096)


class BrandElementsIn(StrictModel):
    colors: list[Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]] = Field(
        default_factory=list, max_length=10
    )
    fonts: list[Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine]] = Field(
        default_factory=list, max_length=5
    )
    logo_urls: list[HttpUrl] = Field(default_factory=list, max_length=3)  # v1, deprecated
    logo_asset_ids: list[AssetId] = Field(default_factory=list, max_length=3)


class GenerationRequestCreate(StrictModel):
    project_id: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine]
    prompt: Annotated[str, _visible_text(2000)]
    format: FormatName
    custom_dimensions: CustomDimensions | None = None
    style_guidance: Annotated[str, StringConstraints(max_length=1000)] | None = None
    tone: Tone | None = None
    industry: Annotated[str, StringConstraints(max_length=64), SingleLine] | None = None
    template_id: Annotated[str, StringConstraints(max_length=64), SingleLine] | None = None
    locale: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$", max_length=35),
        ]
        | None
    ) = None
    brand_elements: BrandElementsIn | None = None
    input_asset_urls: list[HttpUrl] = Field(default_factory=list, max_length=4)  # v1, deprecated
    input_asset_ids: list[AssetId] = Field(default_factory=list, max_length=4)
    webhook_url: HttpUrl | None = None
    webhook_events: list[WebhookEvent] | None = Field(default=None, min_length=1, max_length=4)
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        description="Seed of the first round (0..2^32-1); drawn at random when not given. "
        "The same seed, prompt and model give the same samples.",
    )
    negative_prompt: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="What the images must not show"
    )
    model: Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine] | None = (
        Field(
            default=None,
            description="A model id of GET /models that the caller's tier may use; it renders "
            "the job types it lists, the service picks the others",
        )
    )

    @model_validator(mode="after")
    def _custom_dimensions_iff_custom(self) -> "GenerationRequestCreate":
        if (self.format == CUSTOM_FORMAT) != (self.custom_dimensions is not None):
            raise ValueError("custom_dimensions is required for format custom and only then")
        return self


class BatchCreate(StrictModel):
    requests: list[GenerationRequestCreate] = Field(
        min_length=1,
        max_length=10,
        description="1..10 requests (one prompt in several formats, say), created and charged "
        "all or nothing",
    )


class SampleSelection(StrictModel):
    selected_sample_id: Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine]
    resolution: Literal["standard", "high"] = "standard"
    output_format: OutputFormat = "png"


class VariationRequest(StrictModel):
    sample_id: Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine] = Field(
        description="A sample of any round of this request"
    )
    strength: Literal["subtle", "strong"] = Field(
        default="subtle", description="How far the variations may move from the sample"
    )
    prompt: Annotated[str, _visible_text(2000)] | None = Field(
        default=None, description="A prompt for this round only; the request's when not given"
    )


class AssetInfoModel(BaseModel):
    """An image the service holds, with a link a browser can load until `url_expires_at`."""

    asset_id: str
    url: str
    url_expires_at: datetime
    resolution: str
    format: OutputFormat
    width: int
    height: int
    bytes: int
    sha256: str
    seed: int | None = None


class ReportedAssetModel(WireModel):
    """An image n8n uploaded to one of the job's `outputs` (schema_version 2)."""

    model_config = ConfigDict(extra="forbid")

    asset_id: AssetId
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


class UrlAssetModel(WireModel):
    """v1: an image n8n reports by URL; the service downloads and stores it (deprecated)."""

    model_config = ConfigDict(extra="forbid")

    asset_id: Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine]
    url: HttpUrl
    resolution: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$")]
    format: OutputFormat = "png"
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


ReportedImageModel = ReportedAssetModel | UrlAssetModel


class RequestMetrics(BaseModel):
    samples_ms: int | None = None
    final_ms: int | None = None
    total_ms: int | None = None


class RoundRead(BaseModel):
    round: int
    kind: Literal["samples", "variation"]
    source_sample_id: str | None
    strength: Literal["subtle", "strong"] | None
    seed: int | None
    status: Literal["charging", "dispatched", "succeeded", "failed", "cancelled"]
    samples: list[AssetInfoModel]


class FinalRead(AssetInfoModel):
    sample_id: str
    quality: Literal["standard", "high"]
    credits_cost: float


class GenerationRequestRead(BaseModel):
    id: str
    user_id: str
    project_id: str
    status: str
    input_prompt: str
    style_guidance: str | None
    seed: int | None
    negative_prompt: str | None
    input_parameters: dict[str, Any]
    sample_round: int
    sample_asset_infos: list[AssetInfoModel]
    selected_sample_id: str | None
    final_asset_info: AssetInfoModel | None
    rounds: list[RoundRead]
    finals: list[FinalRead]
    error_code: str | None
    error_message: str | None
    retryable: bool | None
    credits_cost_sample: float | None
    credits_cost_final: float | None
    ai_model_used: str | None
    created_at: datetime
    updated_at: datetime
    metrics: RequestMetrics

    @classmethod
    def from_domain(cls, request: GenerationRequest, links: AssetLinks) -> "GenerationRequestRead":
        return cls.model_validate(request_view(request, links))


class BatchRead(BaseModel):
    items: list["GenerationRequestRead"]


class GenerationRequestPage(BaseModel):
    items: list[GenerationRequestRead]
    next_cursor: str | None


class Size(BaseModel):
    width: int
    height: int


class FormatRead(BaseModel):
    format: str
    aspect: str
    native: Size | None
    sample: Size | None
    final_high: Size | None


class PricesRead(BaseModel):
    sample_round: float
    final_standard: float
    final_high: float


class ModelRead(BaseModel):
    id: str
    name: str
    job_types: list[Literal["samples", "final"]]
    tiers: list[Literal["free", "pro", "team", "enterprise"]]
    sizes: list[str]


class ModelsRead(BaseModel):
    models: list[ModelRead]


class CreditsRead(BaseModel):
    balance: float = Field(description="Credits the caller can spend now")
    subscription_tier: str = Field(description="free, pro, team or enterprise")


class FormatsRead(BaseModel):
    formats: list[FormatRead]
    prices: dict[str, PricesRead]


# --- n8n callbacks (contract §3). Extra fields are ignored: n8n may add its own. -------------


class CallbackModel(WireModel):
    model_config = ConfigDict(extra="ignore")

    request_id: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine]
    job_id: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine]


class N8NSampleResultPayload(CallbackModel):
    samples: list[ReportedImageModel] = Field(min_length=1, max_length=4)
    ai_model_used: Annotated[str, StringConstraints(max_length=128), SingleLine] | None = None
    processing_time_ms: int | None = Field(default=None, ge=0)


class N8NFinalResultPayload(CallbackModel):
    asset: ReportedImageModel
    ai_model_used: Annotated[str, StringConstraints(max_length=128), SingleLine] | None = None
    processing_time_ms: int | None = Field(default=None, ge=0)


class N8NErrorPayload(CallbackModel):
    error_code: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine]
    error_message: Annotated[str, StringConstraints(max_length=2000)] = ""
    retryable: bool = True
    details: dict[str, Any] = Field(default_factory=dict)


class CallbackResult(BaseModel):
    result: Literal["applied", "duplicate", "ignored"]

"""Wire models of contract §1 and §3. The domain has its own types; these only cross HTTP."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ...domain.formats import CUSTOM_FORMAT, FORMAT_NAMES, Resolution
from ...domain.models import GenerationStatus, JobType, Strength
from ...domain.models.asset_info import MAX_SEED
from ...domain.models.generation_parameters import WebhookEvent
from ...domain.pricing import SubscriptionTier
from ...domain.text import normalized_http_url, text_problem, trim_invisible


class FormatName(StrEnum):
    """A social-media format preset (contract §1), or `custom` with `custom_dimensions`."""

    INSTAGRAM_POST = "instagram_post"
    INSTAGRAM_STORY = "instagram_story"
    INSTAGRAM_REEL = "instagram_reel"
    FACEBOOK_POST = "facebook_post"
    FACEBOOK_AD = "facebook_ad"
    LINKEDIN_POST = "linkedin_post"
    LINKEDIN_ARTICLE = "linkedin_article"
    TWITTER_POST = "twitter_post"
    TIKTOK = "tiktok"
    YOUTUBE_THUMBNAIL = "youtube_thumbnail"
    PINTEREST_PIN = "pinterest_pin"
    CUSTOM = "custom"


assert {f.value for f in FormatName} == set(FORMAT_NAMES)


class Tone(StrEnum):
    PROFESSIONAL = "professional"
    PLAYFUL = "playful"
    URGENT = "urgent"
    LUXURY = "luxury"
    FRIENDLY = "friendly"
    BOLD = "bold"


# The wire's names for the domain's ImageFormat and JobState (tests/unit/test_typed_names.py
# holds each equal to its domain enum).
class OutputFormat(StrEnum):

    PNG = "png"
    JPG = "jpg"
    WEBP = "webp"


class RoundKind(StrEnum):
    """`samples`: from the prompt; `variation`: made from one sample."""

    SAMPLES = "samples"
    VARIATION = "variation"


class RoundStatus(StrEnum):
    """Where a round's job is: being charged, with the model, or settled."""

    CHARGING = "charging"
    DISPATCHED = "dispatched"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CallbackOutcomeName(StrEnum):
    """`applied`; `duplicate`: this result was applied before; `ignored`: the job is no longer
    current (regenerated, cancelled or timed out)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


# JSON brings strings: an enum field takes its value (the input models are otherwise strict).
FromValue = Field(strict=False)


def _http_url(value: str) -> str:
    return normalized_http_url(value)


def _single_line(value: str) -> str:
    if problem := text_problem(value):
        raise ValueError(problem)
    return value


def visible_text(max_length: int) -> AfterValidator:
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
    width: int = Field(ge=64, le=4096, description="Pixels, 64..4096", examples=[1600])
    height: int = Field(ge=64, le=4096, description="Pixels, 64..4096", examples=[900])


class BrandElementsIn(StrictModel):
    colors: list[Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]] = Field(
        default_factory=list,
        max_length=10,
        description="Brand colours the images should carry, ≤ 10 `#RRGGBB`",
        examples=[["#FF0066", "#1A1A2E"]],
    )
    fonts: list[Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine]] = Field(
        default_factory=list, max_length=5, description="Font names, ≤ 5", examples=[["Inter"]]
    )
    logo_urls: list[HttpUrl] = Field(
        default_factory=list,
        max_length=3,
        description="Deprecated (v1): logo URLs passed on as given; use `logo_asset_ids`",
        json_schema_extra={"deprecated": True},
    )
    logo_asset_ids: list[AssetId] = Field(
        default_factory=list,
        max_length=3,
        description="Logos the caller uploaded (`POST /assets`, purpose `logo`), ≤ 3",
    )


class GenerationRequestCreate(StrictModel):
    """What to make: a prompt in a format, with optional style, brand and inputs."""

    project_id: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] = Field(
        description="The caller's project, 1..64 characters", examples=["spring-launch"]
    )
    prompt: Annotated[str, visible_text(2000)] = Field(
        description="What the image shows, 1..2000 visible characters",
        examples=["A red fox in a neon city at night"],
    )
    format: Annotated[
        FormatName,
        FromValue,
        Field(description="A format preset, or `custom` with `custom_dimensions`"),
    ]
    custom_dimensions: CustomDimensions | None = Field(
        default=None, description="The size, required for `custom` and only then"
    )
    style_guidance: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="Style notes, ≤ 1000 characters", examples=["flat, pastel"]
    )
    tone: Annotated[Tone | None, FromValue, Field(description="The mood of the image")] = None
    industry: Annotated[str, StringConstraints(max_length=64), SingleLine] | None = Field(
        default=None, description="The industry it is for, ≤ 64", examples=["lifestyle"]
    )
    template_id: Annotated[str, StringConstraints(max_length=64), SingleLine] | None = Field(
        default=None, description="A template of the caller's, ≤ 64"
    )
    locale: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$", max_length=35),
        ]
        | None
    ) = Field(
        default=None,
        description="BCP 47 tag for cultural and regional adaptation",
        examples=["es-MX"],
    )
    brand_elements: BrandElementsIn | None = Field(
        default=None, description="Colours, fonts and logos to work in"
    )
    input_asset_urls: list[HttpUrl] = Field(
        default_factory=list,
        max_length=4,
        description="Deprecated (v1): image URLs passed on as given; use `input_asset_ids`",
        json_schema_extra={"deprecated": True},
    )
    input_asset_ids: list[AssetId] = Field(
        default_factory=list,
        max_length=4,
        description="Images the caller uploaded (`POST /assets`) to work from, ≤ 4",
    )
    webhook_url: HttpUrl | None = Field(
        default=None,
        description="Where to POST the request at each event (Standard Webhooks signed); "
        "public addresses only",
        examples=["https://example.com/hooks/creativeflow"],
    )
    webhook_events: list[Annotated[WebhookEvent, FromValue]] | None = Field(
        default=None, min_length=1, max_length=4, description="The events to send; default all"
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        description="Seed of the first round (0..2^32-1); drawn at random when not given. "
        "The same seed, prompt and model give the same samples.",
        examples=[1234],
    )
    negative_prompt: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="What the images must not show, ≤ 1000", examples=["text"]
    )
    model: Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine] | None = (
        Field(
            default=None,
            description="A model id of `GET /models` that the caller's tier may use; it renders "
            "the job types it lists, the service picks the others",
            examples=["sdxl-turbo"],
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


SampleId = Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine]


class SampleSelection(StrictModel):
    selected_sample_id: SampleId = Field(
        description="A sample of any round of this request", examples=["3f0c…-2"]
    )
    resolution: Annotated[
        Resolution,
        FromValue,
        Field(description="`standard`: the format's size; `high`: 4K (long edge 3840)"),
    ] = Resolution.STANDARD
    output_format: Annotated[
        OutputFormat, FromValue, Field(description="The final's file format")
    ] = OutputFormat.PNG


class VariationRequest(StrictModel):
    sample_id: SampleId = Field(description="A sample of any round of this request")
    strength: Annotated[
        Strength, FromValue, Field(description="How far the variations may move from the sample")
    ] = Strength.SUBTLE
    prompt: Annotated[str, visible_text(2000)] | None = Field(
        default=None, description="A prompt for this round only; the request's when not given"
    )


class AssetInfoModel(BaseModel):
    """An image the service holds, with a link a browser can load until `url_expires_at`."""

    asset_id: str = Field(description="The asset's id")
    url: str = Field(description="A signed link to the bytes; no header needed; expires")
    url_expires_at: datetime = Field(description="When `url` stops working")
    resolution: str = Field(description="`WIDTHxHEIGHT`", examples=["512x512"])
    format: Annotated[OutputFormat, FromValue, Field(description="The file format")]
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")
    bytes: int = Field(description="Size of the file")
    sha256: str = Field(description="SHA-256 of the file, lowercase hex (also its ETag)")
    seed: int | None = Field(default=None, description="The seed it was rendered with")


class ReportedAssetModel(WireModel):
    """An image n8n uploaded to one of the job's `outputs` (schema_version 2)."""

    model_config = ConfigDict(extra="forbid")

    asset_id: AssetId = Field(description="An `outputs[].asset_id` of the job")
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="The seed the model used for it"
    )


class UrlAssetModel(WireModel):
    """v1: an image n8n reports by URL; the service downloads and stores it (deprecated)."""

    model_config = ConfigDict(extra="forbid")

    asset_id: Annotated[str, StringConstraints(min_length=1, max_length=128), SingleLine] = Field(
        description="n8n's own id of the image (replaced by an output id of the job)"
    )
    url: HttpUrl = Field(description="Where to download the image (≤ 30 s, ≤ MAX_ASSET_BYTES)")
    resolution: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$")] = (
        Field(description="`WIDTHxHEIGHT` as n8n reports it (checked against the file)")
    )
    format: Annotated[OutputFormat, FromValue, Field(description="The file format n8n reports")] = (
        OutputFormat.PNG
    )
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="The seed the model used for it"
    )


ReportedImageModel = ReportedAssetModel | UrlAssetModel


class RequestMetrics(BaseModel):
    samples_ms: int | None = Field(
        default=None, description="Newest samples job: dispatch to result"
    )
    final_ms: int | None = Field(default=None, description="Newest final job: dispatch to result")
    total_ms: int | None = Field(
        default=None, description="Creation to the first `completed` (or the end)"
    )


class RoundRead(BaseModel):
    round: int = Field(description="1 for the first round, then one more for each")
    kind: Annotated[
        RoundKind, FromValue, Field(description="From the prompt, or a variation of one sample")
    ]
    source_sample_id: str | None = Field(description="A variation's sample")
    strength: Strength | None = Field(description="A variation's strength")
    seed: int | None = Field(description="The round's seed (a variation's: its sample's)")
    status: Annotated[RoundStatus, FromValue, Field(description="Where the round's job is")]
    samples: list[AssetInfoModel] = Field(description="What it delivered (empty until then)")


class FinalRead(AssetInfoModel):
    sample_id: str = Field(description="The sample it was made from")
    quality: Annotated[
        Resolution,
        FromValue,
        Field(description="The selection's `resolution`: `standard` or `high`"),
    ]
    credits_cost: float = Field(description="What this final cost")


class GenerationRequestRead(BaseModel):
    """A generation request: its status, every round and final, costs and timings."""

    # the service always sends every field: the document says so, defaults notwithstanding
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str = Field(description="The request's id")
    user_id: str = Field(description="The owner (the token's `sub`)")
    project_id: str = Field(description="The caller's project")
    status: Annotated[
        GenerationStatus, FromValue, Field(description="Where the request is (contract §1, §7)")
    ]
    input_prompt: str = Field(description="The prompt (empty once deleted)")
    style_guidance: str | None = Field(description="Style notes")
    # fields of revision 1.1 have defaults: a client reads a 1.0 body (an old webhook) too
    seed: int | None = Field(default=None, description="The first round's seed")
    negative_prompt: str | None = Field(default=None, description="What the images must not show")
    input_parameters: dict[str, Any] = Field(
        description="Everything else asked for: format, width, height, tone, brand, …"
    )
    sample_round: int = Field(description="The newest round's number")
    sample_asset_infos: list[AssetInfoModel] = Field(
        description="The newest round that delivered samples"
    )
    selected_sample_id: str | None = Field(description="The sample of the newest final")
    final_asset_info: AssetInfoModel | None = Field(description="The newest final")
    rounds: list[RoundRead] = Field(default_factory=list, description="Every round, oldest first")
    finals: list[FinalRead] = Field(default_factory=list, description="Every final, oldest first")
    error_code: str | None = Field(description="Why the last step failed")
    error_message: str | None = Field(description="The failure, for a person")
    retryable: bool | None = Field(description="Whether trying again may succeed")
    credits_cost_sample: float | None = Field(description="The newest round's price")
    credits_cost_final: float | None = Field(description="The newest final's price")
    ai_model_used: str | None = Field(description="The model of the newest result")
    created_at: datetime = Field(description="When it was created")
    updated_at: datetime = Field(description="When it last changed")
    metrics: RequestMetrics = Field(description="Timings, as Replicate's `predict_time`")
    assets_expired_at: datetime | None = Field(
        default=None,
        description="When its images were deleted for ASSET_RETENTION_DAYS (null: kept)",
    )


class BatchRead(BaseModel):
    items: list[GenerationRequestRead] = Field(description="The requests, in the batch's order")


class GenerationRequestPage(BaseModel):
    items: list[GenerationRequestRead] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")


class Size(BaseModel):
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")


class FormatRead(BaseModel):
    format: Annotated[FormatName, FromValue, Field(description="The preset")]
    aspect: str = Field(description="Width to height", examples=["9:16"])
    native: Size | None = Field(description="The standard final's size (null for custom)")
    sample: Size | None = Field(description="A sample's size (null for custom)")
    final_high: Size | None = Field(description="The `high` final's size (null for custom)")


class PricesRead(BaseModel):
    sample_round: float = Field(description="A round of 4 samples (also each regeneration)")
    final_standard: float = Field(description="A `standard` final")
    final_high: float = Field(description="A `high` (4K) final")


class ModelRead(BaseModel):
    id: str = Field(description="Pass as `model` on create", examples=["sdxl-turbo"])
    name: str = Field(description="For people", examples=["SDXL Turbo"])
    job_types: list[JobType] = Field(description="What it renders: `samples`, `final` or both")
    tiers: list[SubscriptionTier] = Field(description="Who may choose it; empty: every tier")
    sizes: list[str] = Field(description="`WxH` sizes it renders; empty: any")


class ModelsRead(BaseModel):
    models: list[ModelRead] = Field(description="The model table")


class CreditsRead(BaseModel):
    balance: float = Field(description="Credits the caller can spend now")
    subscription_tier: Annotated[
        SubscriptionTier, FromValue, Field(description="The caller's tier")
    ]


class FormatsRead(BaseModel):
    formats: list[FormatRead] = Field(description="Every preset, then `custom`")
    prices: dict[str, PricesRead] = Field(description="Prices by subscription tier")


# --- n8n callbacks (contract §3). Extra fields are ignored: n8n may add its own. -------------


class CallbackModel(WireModel):
    model_config = ConfigDict(extra="ignore")

    request_id: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] = Field(
        description="The job's `request_id`"
    )
    job_id: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] = Field(
        description="The job's `job_id`"
    )


class N8NSampleResultPayload(CallbackModel):
    samples: list[ReportedImageModel] = Field(
        min_length=1, max_length=4, description="The samples, each an output of the job"
    )
    ai_model_used: Annotated[str, StringConstraints(max_length=128), SingleLine] | None = Field(
        default=None, description="The model that rendered them"
    )
    processing_time_ms: int | None = Field(default=None, ge=0, description="n8n's own timing")


class N8NFinalResultPayload(CallbackModel):
    asset: ReportedImageModel = Field(description="The final, the job's one output")
    ai_model_used: Annotated[str, StringConstraints(max_length=128), SingleLine] | None = Field(
        default=None, description="The model that rendered it"
    )
    processing_time_ms: int | None = Field(default=None, ge=0, description="n8n's own timing")


class N8NErrorPayload(CallbackModel):
    error_code: Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] = Field(
        description="`content_policy_violation` (not refunded), `model_error`, …"
    )
    error_message: Annotated[str, StringConstraints(max_length=2000)] = Field(
        default="", description="The failure, for a person"
    )
    retryable: bool = Field(default=True, description="Whether trying again may succeed")
    details: dict[str, Any] = Field(default_factory=dict, description="Anything else n8n knows")


class CallbackResult(BaseModel):
    result: Annotated[CallbackOutcomeName, FromValue, Field(description="What the callback did")]

"""Wire models of what users send (contract §1, §7) and the building blocks of every wire model
(read_schemas.py: what the service answers; callback_schemas.py: what n8n sends). The domain has
its own types; these only cross HTTP."""

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
from ...domain.models import Strength
from ...domain.models.asset_info import MAX_SEED
from ...domain.models.generation_parameters import WebhookEvent
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


# The wire's name for the domain's ImageFormat (tests/unit/test_typed_names.py holds them equal)
class OutputFormat(StrEnum):
    PNG = "png"
    JPG = "jpg"
    WEBP = "webp"


class RoundKind(StrEnum):
    """`samples`: from the prompt; `variation`: made from one sample."""

    SAMPLES = "samples"
    VARIATION = "variation"


# The wire's name for the domain's JobState (tests/unit/test_typed_names.py holds them equal)
class RoundStatus(StrEnum):
    """Where a round's job is: being charged, with the model, or settled."""

    CHARGING = "charging"
    DISPATCHED = "dispatched"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


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

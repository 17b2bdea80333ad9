"""What the user asked for. Checked once at the edge; the domain keeps it as given."""

from dataclasses import dataclass, field
from enum import StrEnum

from ..formats import Dimensions


class WebhookEvent(StrEnum):
    """What a request's `webhook_url` is told about."""

    SAMPLES_READY = "samples_ready"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class BrandElements:
    colors: tuple[str, ...] = ()
    fonts: tuple[str, ...] = ()
    logo_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputImage:
    """An image of the user's (an upload, or a sample or final of theirs) to work from
    (`input`) or to brand with (`logo`), and where it is stored."""

    asset_id: str
    format: str
    purpose: str = "input"
    key: str = ""


@dataclass(frozen=True)
class GenerationParameters:
    prompt: str
    format: str
    dimensions: Dimensions  # the native size: standard finals are rendered at it
    style_guidance: str | None = None
    tone: str | None = None
    industry: str | None = None
    template_id: str | None = None
    locale: str | None = None
    brand_elements: BrandElements = field(default_factory=BrandElements)
    input_asset_urls: tuple[str, ...] = ()  # v1, deprecated: passed on as given
    input_images: tuple[InputImage, ...] = ()  # uploads of the user: inputs, then logos
    webhook_url: str | None = None
    webhook_events: tuple[WebhookEvent, ...] = ()
    seed: int | None = None  # the first round's seed (drawn at random when not given)
    negative_prompt: str | None = None
    model: str | None = None  # the caller's choice, for the job types it renders

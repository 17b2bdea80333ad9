"""Format presets (REQ-005) and the size rules for samples and finals (REQ-008, REQ-009)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidValue

SAMPLE_LONG_EDGE = 512
SAMPLE_EDGE_MULTIPLE = 8
HIGH_LONG_EDGE = 3840  # 4K UHD
MIN_CUSTOM_EDGE = 64
MAX_EDGE = 4096
CUSTOM_FORMAT = "custom"


@dataclass(frozen=True)
class Dimensions:
    width: int
    height: int

    def __post_init__(self) -> None:
        for name, value in (("width", self.width), ("height", self.height)):
            if not 1 <= value <= MAX_EDGE:
                raise InvalidValue(name, f"must be between 1 and {MAX_EDGE}")

    @property
    def long_edge(self) -> int:
        return max(self.width, self.height)

    def scaled_to_long_edge(self, long_edge: int, multiple: int = 1) -> "Dimensions":
        """Same aspect, longest side = long_edge, shorter side rounded to `multiple`."""
        factor = long_edge / self.long_edge

        def scale(edge: int) -> int:
            if edge == self.long_edge:
                return long_edge
            return max(multiple, round(edge * factor / multiple) * multiple)

        return Dimensions(scale(self.width), scale(self.height))

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


class Resolution(StrEnum):
    STANDARD = "standard"
    HIGH = "high"


@dataclass(frozen=True)
class FormatPreset:
    name: str
    aspect: str
    native: Dimensions


FORMAT_PRESETS: dict[str, FormatPreset] = {
    preset.name: preset
    for preset in (
        FormatPreset("instagram_post", "1:1", Dimensions(1080, 1080)),
        FormatPreset("instagram_story", "9:16", Dimensions(1080, 1920)),
        FormatPreset("instagram_reel", "9:16", Dimensions(1080, 1920)),
        FormatPreset("facebook_post", "1.91:1", Dimensions(1200, 630)),
        FormatPreset("facebook_ad", "1:1", Dimensions(1080, 1080)),
        FormatPreset("linkedin_post", "1.91:1", Dimensions(1200, 627)),
        FormatPreset("linkedin_article", "16:9", Dimensions(1280, 720)),
        FormatPreset("twitter_post", "16:9", Dimensions(1600, 900)),
        FormatPreset("tiktok", "9:16", Dimensions(1080, 1920)),
        FormatPreset("youtube_thumbnail", "16:9", Dimensions(1280, 720)),
        FormatPreset("pinterest_pin", "2:3", Dimensions(1000, 1500)),
    )
}
FORMAT_NAMES = (*FORMAT_PRESETS, CUSTOM_FORMAT)


def native_size(format_name: str, custom: Dimensions | None = None) -> Dimensions:
    """The size a request is made for: the preset's, or the custom one (64..4096 each side)."""
    if format_name == CUSTOM_FORMAT:
        if custom is None:
            raise InvalidValue("custom_dimensions", "required when format is custom")
        if min(custom.width, custom.height) < MIN_CUSTOM_EDGE:
            message = f"each side must be at least {MIN_CUSTOM_EDGE}"
            raise InvalidValue("custom_dimensions", message)
        return custom
    if custom is not None:
        raise InvalidValue("custom_dimensions", "only allowed when format is custom")
    try:
        return FORMAT_PRESETS[format_name].native
    except KeyError:
        raise InvalidValue("format", f"unknown format {format_name!r}") from None


def sample_size(native: Dimensions) -> Dimensions:
    """Samples: long edge 512; the short edge keeps the aspect, rounded to a multiple of 8."""
    return native.scaled_to_long_edge(SAMPLE_LONG_EDGE, SAMPLE_EDGE_MULTIPLE)


def final_size(native: Dimensions, resolution: Resolution) -> Dimensions:
    """Standard: the native size. High: long edge 3840, or the native size when that is larger."""
    if resolution is Resolution.STANDARD or native.long_edge >= HIGH_LONG_EDGE:
        return native
    return native.scaled_to_long_edge(HIGH_LONG_EDGE)


def render_size(output: Dimensions, supported: Sequence[Dimensions]) -> Dimensions:
    """The size to ask a model for: of the sizes it supports, the one nearest in aspect to
    `output`; ties go to the smallest that covers `output`, else to the largest. A model that
    takes any size (no list) is asked for `output` itself; the worker then resizes the model's
    picture to exactly `output` (contract §6 `render_size`)."""
    if not supported:
        return output

    def aspect_gap(size: Dimensions) -> float:
        return round(
            abs(math.log(size.width / size.height) - math.log(output.width / output.height)), 9
        )

    nearest = min(aspect_gap(size) for size in supported)
    candidates = [size for size in supported if aspect_gap(size) == nearest]
    covering = [s for s in candidates if s.width >= output.width and s.height >= output.height]
    if covering:
        return min(covering, key=lambda s: s.width * s.height)
    return max(candidates, key=lambda s: s.width * s.height)


def parse_size(text: str) -> Dimensions:
    """`1024x1536` → Dimensions(1024, 1536)."""
    try:
        width, height = (int(edge) for edge in text.lower().split("x"))
    except ValueError:
        raise InvalidValue("size", f"{text!r} is not WIDTHxHEIGHT") from None
    return Dimensions(width, height)

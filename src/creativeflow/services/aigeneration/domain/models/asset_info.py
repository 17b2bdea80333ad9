from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..errors import InvalidValue


class ImageFormat(StrEnum):
    """The image formats the service stores and asks workers for (told by an image's bytes)."""

    PNG = "png"
    JPG = "jpg"
    WEBP = "webp"


OUTPUT_FORMATS = tuple(ImageFormat)
MEDIA_TYPES: Mapping[str, str] = {
    ImageFormat.PNG: "image/png",
    ImageFormat.JPG: "image/jpeg",
    ImageFormat.WEBP: "image/webp",
}
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class AssetInfo:
    """An image the service holds in its own storage: what it is, never where a browser finds
    it (links are minted afresh on every read, and expire). Immutable once stored."""

    asset_id: str
    width: int
    height: int
    format: str = "png"
    bytes: int = 0
    sha256: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.asset_id or len(self.asset_id) > 64:
            raise InvalidValue("asset_id", "must be 1..64 characters")
        if self.width < 1 or self.height < 1:
            raise InvalidValue("resolution", "must be at least 1x1")
        if self.format not in OUTPUT_FORMATS:
            raise InvalidValue("format", f"must be one of {', '.join(OUTPUT_FORMATS)}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise InvalidValue("seed", f"must be between 0 and {MAX_SEED}")

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

import re
from dataclasses import dataclass

from ..errors import InvalidValue

_RESOLUTION = re.compile(r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$")
OUTPUT_FORMATS = ("png", "jpg", "webp")


@dataclass(frozen=True)
class AssetInfo:
    """A generated image: where it lives and what it is. Immutable once reported."""

    asset_id: str
    url: str
    resolution: str
    format: str = "png"

    def __post_init__(self) -> None:
        if not self.asset_id or len(self.asset_id) > 128:
            raise InvalidValue("asset_id", "must be 1..128 characters")
        if not self.url.startswith(("http://", "https://")) or len(self.url) > 2048:
            raise InvalidValue("url", "must be an http(s) URL of at most 2048 characters")
        if not _RESOLUTION.match(self.resolution):
            raise InvalidValue("resolution", "must look like 1024x1024")
        if self.format not in OUTPUT_FORMATS:
            raise InvalidValue("format", f"must be one of {', '.join(OUTPUT_FORMATS)}")

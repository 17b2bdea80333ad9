"""What an image is, told by its bytes: PNG, JPEG or WebP, and its pixel size from the header
(Pillow reads the header lazily: the first few kilobytes are enough)."""

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int


def probe(head: bytes) -> ImageHeader | None:
    """The type and size the bytes announce; None for anything but PNG, JPEG or WebP."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a size probe of a huge image is not a decode
            with Image.open(io.BytesIO(head), formats=list(FORMATS)) as image:
                return ImageHeader(FORMATS[str(image.format)], *image.size)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None

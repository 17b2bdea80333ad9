"""Uploaded images (contract §6): PNG, JPEG or WebP told by their bytes, 64..8192 px a side,
decoded in full (a truncated or corrupt file is refused), image bombs refused before they are
decoded, and stored re-encoded from the pixels alone, so no metadata (EXIF, GPS, comments)
survives. JPEGs are turned upright by their EXIF orientation first."""

import io
import warnings

from PIL import Image, ImageOps

from ...application.errors import UnsupportedImage
from ...application.ports import CleanImage
from .image_probe import FORMATS, probe

MIN_EDGE, MAX_EDGE = 64, 8192
# An image bomb: a small file that decodes to a huge bitmap. Past 4 megapixels, more than
# this many decoded bytes (4 a pixel) for each byte of the file is refused before decoding.
BOMB_PIXELS, BOMB_RATIO = 4_000_000, 1024


class PillowUploadCleaner:
    def clean(self, data: bytes) -> CleanImage:
        header = probe(data)
        if header is None:
            raise UnsupportedImage("The file is not a PNG, JPEG or WebP image.")
        width, height = header.width, header.height
        if not (MIN_EDGE <= width <= MAX_EDGE and MIN_EDGE <= height <= MAX_EDGE):
            raise UnsupportedImage(
                f"The image is {width}x{height}; each side must be {MIN_EDGE}..{MAX_EDGE} pixels."
            )
        pixels = width * height
        if pixels > BOMB_PIXELS and pixels * 4 > BOMB_RATIO * len(data):
            raise UnsupportedImage("The image expands to too many pixels for its size.")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                    image.load()
                    upright = ImageOps.exif_transpose(image)
                    return _reencoded(upright, header.format)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UnsupportedImage("The image expands to too many pixels.") from None
        except (OSError, ValueError, SyntaxError):
            raise UnsupportedImage("The image cannot be decoded.") from None


def _reencoded(image: Image.Image, fmt: str) -> CleanImage:
    """Only the pixels: a new image of the same mode, encoded without any metadata."""
    if fmt == "jpg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    pixels = Image.new(image.mode, image.size)
    pixels.paste(image)
    if image.mode == "P":
        pixels.putpalette(image.getpalette() or [])
    buffer = io.BytesIO()
    if fmt == "png":
        # A palette (or grey, or RGB) PNG may mark one colour, or each palette entry, as
        # transparent (its tRNS chunk): that is pixels, not metadata, so it is kept.
        transparency = image.info.get("transparency")
        extra = {"transparency": transparency} if transparency is not None else {}
        pixels.save(buffer, "PNG", optimize=False, compress_level=6, **extra)
    elif fmt == "jpg":
        pixels.save(buffer, "JPEG", quality=95)
    else:
        pixels.save(buffer, "WEBP", quality=95)
    return CleanImage(buffer.getvalue(), fmt, pixels.width, pixels.height)

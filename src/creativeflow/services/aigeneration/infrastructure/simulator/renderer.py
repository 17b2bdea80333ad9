"""Deterministic pictures for the simulator: the same prompt, sample index and brand colours
always give the same image, and different ones visibly differ. A final is its sample, redrawn
at the final size, so what the user picked is what they get."""

import hashlib
import io
import random
import textwrap

from PIL import Image, ImageColor, ImageDraw, ImageFont

PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


def render(
    prompt: str,
    variant: str,
    width: int,
    height: int,
    colors: list[str],
    output_format: str = "png",
) -> bytes:
    return encode(picture(prompt, variant, width, height, colors), output_format)


def picture(prompt: str, variant: str, width: int, height: int, colors: list[str]) -> Image.Image:
    """Shapes in the brand colours over a gradient, and the prompt as a caption."""
    seed = int.from_bytes(hashlib.sha256(f"{prompt}\x00{variant}".encode()).digest()[:8], "big")
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    palette = [ImageColor.getrgb(c) for c in colors] or [_random_colour(rng) for _ in range(4)]
    while len(palette) < 3:
        palette.append(_random_colour(rng))

    image = _gradient(width, height, palette[0], palette[1], rng.choice([0, 45, 90, 135]))
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    unit = min(width, height)
    for _ in range(14):
        colour = (*rng.choice(palette), rng.randint(70, 170))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.05, 0.35) * unit
        shape = rng.choice(("ellipse", "rectangle", "triangle"))
        if shape == "ellipse":
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        elif shape == "rectangle":
            draw.rectangle((x - r, y - r * 0.6, x + r, y + r * 0.6), fill=colour)
        else:
            draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=colour)
    image = Image.alpha_composite(image.convert("RGBA"), overlay)
    _caption(image, prompt, unit)
    return image.convert("RGB")


def render_plain(variant: str, width: int, height: int, output_format: str = "png") -> bytes:
    return encode(plain(variant, width, height), output_format)


def plain(variant: str, width: int, height: int) -> Image.Image:
    """A one-colour picture of the requested size, the colour drawn from the variant: real
    image bytes at a few milliseconds a render, for load tests where the renders would
    otherwise take the cores away from the service under test (a real model runs elsewhere)."""
    seed = hashlib.sha256(variant.encode()).digest()
    image = Image.new("P", (width, height), 0)
    image.putpalette(seed[:3])  # one-entry palette: PNG stores it as one byte a pixel
    return image


def encode(image: Image.Image, output_format: str) -> bytes:
    """PNG as the image is (fast zlib level: these are throwaway pictures); JPEG and WebP,
    which take no palette, in RGB."""
    buffer = io.BytesIO()
    pil_format = PIL_FORMATS[output_format]
    if pil_format == "PNG":
        image.save(buffer, pil_format, compress_level=1)
    else:
        image.convert("RGB").save(buffer, pil_format, quality=90)
    return buffer.getvalue()


def _random_colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(20, 235), rng.randint(20, 235), rng.randint(20, 235))


def _gradient(
    width: int, height: int, start: tuple[int, ...], end: tuple[int, ...], angle: int
) -> Image.Image:
    mask = Image.linear_gradient("L").rotate(angle, expand=False).resize((width, height))
    return Image.composite(
        Image.new("RGB", (width, height), end[:3]),
        Image.new("RGB", (width, height), start[:3]),
        mask,
    )


def _caption(image: Image.Image, prompt: str, unit: int) -> None:
    size = max(10, unit // 22)
    font = ImageFont.load_default(size=size)
    lines = textwrap.wrap(prompt, width=max(12, image.width // (size // 2 + 1)))[:2]
    if not lines:
        return
    band = size * (len(lines) + 1)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, image.height - band, image.width, image.height), fill=(0, 0, 0, 140))
    for i, line in enumerate(lines):
        draw.text(
            (size // 2, image.height - band + size // 2 + i * size), line, font=font, fill="white"
        )

"""The simulator's pictures: the requested size and format, the same bytes for the same
inputs, and visibly different pictures for different samples — in both render modes."""

import io

import pytest
from PIL import Image

from creativeflow.services.aigeneration.infrastructure.simulator.renderer import (
    render,
    render_plain,
)


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(("fmt", "pil_format"), [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")])
@pytest.mark.parametrize("draw", ["picture", "plain"])
def test_each_mode_renders_the_requested_size_and_format(
    draw: str, fmt: str, pil_format: str
) -> None:
    if draw == "picture":
        data = render("a lake", "s0", 320, 180, ["#ff0000"], fmt)
    else:
        data = render_plain("a lake\x00s0", 320, 180, fmt)

    image = _open(data)

    assert (image.size, image.format) == ((320, 180), pil_format)


def test_a_picture_is_the_same_for_the_same_inputs_and_differs_between_samples() -> None:
    first = render("a lake", "s0", 128, 128, [])

    assert render("a lake", "s0", 128, 128, []) == first
    assert render("a lake", "s1", 128, 128, []) != first


def test_a_plain_render_is_one_colour_that_differs_between_samples() -> None:
    first = _open(render_plain("a lake\x00s0", 64, 48)).convert("RGB")
    second = _open(render_plain("a lake\x00s1", 64, 48)).convert("RGB")

    assert len(first.getcolors() or []) == 1
    assert first.getpixel((0, 0)) != second.getpixel((0, 0))

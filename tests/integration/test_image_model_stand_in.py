"""The stand-in image model of the n8n test refuses what OpenAI's Images API refuses, with
OpenAI's error body (PROVIDERS.md): a lenient stand-in would hide a workflow that fails in
production."""

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from ..stub_servers import ImageModelStub
from .api_client import image_bytes

KEY = "sk-test-stand-in"


@pytest.fixture
async def model() -> AsyncIterator[ImageModelStub]:
    stub = ImageModelStub(api_key=KEY)
    await stub.start()
    yield stub
    await stub.stop()


async def _generate(model: ImageModelStub, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
        return await http.post(f"{model.url}/v1/images/generations", json=body)


async def _edit(model: ImageModelStub, fields: dict[str, str], image: bytes) -> httpx.Response:
    name = "image[]" if fields.get("model") == "gpt-image-1" else "image"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
        return await http.post(
            f"{model.url}/v1/images/edits", data=fields, files={name: ("i.png", image)}
        )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "dall-e-2", "prompt": "x", "size": "1080x1080"}, "size"),
        ({"model": "dall-e-2", "prompt": "x", "size": "3840x3840"}, "size"),
        ({"model": "gpt-image-1", "prompt": "x", "size": "512x512"}, "size"),
        ({"model": "dall-e-3", "prompt": "x", "size": "1024x1024", "n": 2}, "n"),
        ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, "response_format"),
    ],
)
async def test_what_openai_refuses_is_refused_with_its_error_body(
    model: ImageModelStub, body: dict[str, Any], param: str
) -> None:
    response = await _generate(model, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, None)
    assert error["message"]


async def test_edits_take_an_image_only_where_openai_does(model: ImageModelStub) -> None:
    rgb = image_bytes(256, 256)
    assert (await _edit(model, {"model": "dall-e-3", "prompt": "x"}, rgb)).status_code == 400
    refused = await _edit(model, {"model": "dall-e-2", "prompt": "x", "size": "256x256"}, rgb)
    assert "got RGB" in refused.json()["error"]["message"]  # dall-e-2 edits need transparency


async def test_an_edit_is_its_input_image_at_the_asked_size(model: ImageModelStub) -> None:
    chosen = image_bytes(512, 512, colour=(10, 200, 30))
    fields = {"model": "gpt-image-1", "prompt": "refine", "size": "1024x1024"}
    response = await _edit(model, fields, chosen)
    assert response.status_code == 200, response.text
    data = base64.b64decode(response.json()["data"][0]["b64_json"])
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (1024, 1024)
        assert image.convert("RGB").getpixel((500, 500)) == (10, 200, 30)

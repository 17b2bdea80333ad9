"""The README's run command, driven like a client: create → 4 samples → select → final PNG."""

import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from .conftest import RunningService

pytestmark = pytest.mark.e2e
API = "/api/v1/generation-requests"


def wait_for(
    client: httpx.Client, request_id: str, status: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"{API}/{request_id}").json()
        if body["status"] == status:
            return body
        assert time.monotonic() < deadline, f"stuck in {body['status']}, wanted {status}: {body}"
        time.sleep(0.1)


def fetched(url: str) -> Image.Image:
    """An asset link works as it is: no token, no header (it carries its own signature)."""
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute pixel difference, 0..255, after bringing `a` to `b`'s size."""
    diff = ImageChops.difference(a.convert("RGB").resize(b.size), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def client(service: RunningService, user: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {service.token(user)}"}
    return httpx.Client(base_url=service.base_url, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("format_name", "resolution", "sample_size", "final_size"),
    [
        ("instagram_post", "high", (512, 512), (3840, 3840)),
        ("tiktok", "standard", (288, 512), (1080, 1920)),
    ],
)
def test_a_request_goes_from_prompt_to_final_png(
    service: RunningService,
    format_name: str,
    resolution: str,
    sample_size: tuple[int, int],
    final_size: tuple[int, int],
) -> None:
    with client(service, f"user-{format_name}") as http:
        created = http.post(
            API,
            json={
                "project_id": "launch",
                "prompt": "A minimalist poster of a mountain at dawn",
                "format": format_name,
                "brand_elements": {"colors": ["#1d3557", "#e63946"]},
            },
        )
        assert created.status_code == 202, created.text
        request_id = created.json()["id"]

        waiting = wait_for(http, request_id, "awaiting_selection")
        samples = waiting["sample_asset_infos"]
        assert len(samples) == 4
        pictures = []
        for sample in samples:
            image = fetched(sample["url"])
            assert (image.format, image.size) == ("PNG", sample_size)
            assert (sample["width"], sample["height"]) == sample_size
            pictures.append(image)

        chosen = samples[2]["asset_id"]
        selected = http.post(
            f"{API}/{request_id}/select-sample",
            json={"selected_sample_id": chosen, "resolution": resolution},
        )
        assert selected.status_code == 202, selected.text

        done = wait_for(http, request_id, "completed")
        final = done["final_asset_info"]
        assert final["resolution"] == f"{final_size[0]}x{final_size[1]}"
        image = fetched(final["url"])
        assert (image.format, image.size) == ("PNG", final_size)
        assert done["metrics"]["samples_ms"] > 0 and done["metrics"]["final_ms"] > 0
        # the final is the chosen sample, upscaled: nearest to it by far, not to the others
        distances = [difference(image, picture) for picture in pictures]
        assert distances.index(min(distances)) == 2, distances
        assert min(distances) * 3 < sorted(distances)[1], distances


def test_an_image_is_served_only_behind_a_token_or_a_signed_link(service: RunningService) -> None:
    with client(service, "linker") as http:
        request_id = http.post(
            API, json={"project_id": "p", "prompt": "A lighthouse", "format": "facebook_ad"}
        ).json()["id"]
        sample = wait_for(http, request_id, "awaiting_selection")["sample_asset_infos"][0]
        content = f"/api/v1/assets/{sample['asset_id']}/content"
        assert http.get(content).status_code == 200  # the owner's bearer token
        with client(service, "someone-else") as other:
            assert other.get(content).status_code == 404
        assert httpx.get(f"{service.base_url}{content}").status_code == 401
        tampered = sample["url"].replace("signature=", "signature=x")
        forged = httpx.get(tampered)
        assert (forged.status_code, forged.json()["error"]["code"]) == (403, "forbidden")
        assert httpx.get(f"{service.base_url}/assets/{sample['asset_id']}").status_code == 404


def test_samples_differ_from_each_other(service: RunningService) -> None:
    with client(service, "picky") as http:
        request_id = http.post(
            API, json={"project_id": "p", "prompt": "Four different cats", "format": "facebook_ad"}
        ).json()["id"]
        samples = wait_for(http, request_id, "awaiting_selection")["sample_asset_infos"]
        assert len({s["sha256"] for s in samples}) == 4
        assert len({fetched(s["url"]).tobytes() for s in samples}) == 4


def test_a_refused_prompt_ends_content_rejected(service: RunningService) -> None:
    with client(service, "edgy") as http:
        request_id = http.post(
            API,
            json={"project_id": "p", "prompt": "[simulate:content_policy] x", "format": "tiktok"},
        ).json()["id"]
        body = wait_for(http, request_id, "content_rejected")
        assert (body["error_code"], body["retryable"]) == ("content_policy_violation", False)

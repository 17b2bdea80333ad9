"""The README's run command, driven like a client: create → 4 samples → select → final PNG."""

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

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


def local_file(service: RunningService, url: str) -> Path:
    path = url.split("/assets/", 1)[1]
    return service.folder / "data" / "assets" / path


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
        for sample in samples:
            with Image.open(local_file(service, sample["url"])) as image:
                assert (image.format, image.size) == ("PNG", sample_size)
            served = http.get(sample["url"].replace(service.base_url, ""))
            assert (served.status_code, served.headers["content-type"]) == (200, "image/png")

        chosen = samples[2]["asset_id"]
        selected = http.post(
            f"{API}/{request_id}/select-sample",
            json={"selected_sample_id": chosen, "resolution": resolution},
        )
        assert selected.status_code == 202, selected.text

        done = wait_for(http, request_id, "completed")
        final = done["final_asset_info"]
        assert final["resolution"] == f"{final_size[0]}x{final_size[1]}"
        with Image.open(local_file(service, final["url"])) as image:
            assert (image.format, image.size) == ("PNG", final_size)
        assert done["metrics"]["samples_ms"] > 0 and done["metrics"]["final_ms"] > 0


def test_samples_differ_from_each_other(service: RunningService) -> None:
    with client(service, "picky") as http:
        request_id = http.post(
            API, json={"project_id": "p", "prompt": "Four different cats", "format": "facebook_ad"}
        ).json()["id"]
        samples = wait_for(http, request_id, "awaiting_selection")["sample_asset_infos"]
        pictures = {local_file(service, s["url"]).read_bytes() for s in samples}
        assert len(pictures) == 4


def test_a_refused_prompt_ends_content_rejected(service: RunningService) -> None:
    with client(service, "edgy") as http:
        request_id = http.post(
            API,
            json={"project_id": "p", "prompt": "[simulate:content_policy] x", "format": "tiktok"},
        ).json()["id"]
        body = wait_for(http, request_id, "content_rejected")
        assert (body["error_code"], body["retryable"]) == ("content_policy_violation", False)

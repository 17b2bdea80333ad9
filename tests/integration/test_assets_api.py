"""Images that last (contract §6), over HTTP, on SQLite and PostgreSQL: uploads told by their
bytes and cleaned; links that carry their own signature and expire; callbacks that name asset
ids, each checked in storage before anything applies; v1 URLs downloaded and stored; the
whole flow on a real S3-compatible server too."""

import asyncio
import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..s3_server import S3Server
from ..stub_servers import StubServer
from .api_client import API, ApiDriver, image_bytes
from .conftest import api_driver


async def upload(
    api: ApiDriver, data: bytes, purpose: str = "input", user: str = "alice", name: str = "a.png"
) -> Any:
    return await api.http.post(
        f"{API}/assets",
        files={"file": (name, data, "application/octet-stream")},
        data={"purpose": purpose},
        headers=api.auth(user),
    )


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (120, 80), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}  # GPSInfo
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


# --- uploads -------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "name"), [("png", "x.jpg"), ("jpg", "x.png"), ("webp", "x")])
async def test_an_upload_is_told_by_its_bytes_not_its_name(
    api: ApiDriver, fmt: str, name: str
) -> None:
    response = await upload(api, image_bytes(200, 100, fmt), name=name)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["format"], body["width"], body["height"]) == (fmt, 200, 100)
    got = await api.fetch("GET", body["url"])
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == body["sha256"]


async def test_an_upload_keeps_no_metadata(api: ApiDriver) -> None:
    original = jpeg_with_gps()
    assert b"SpyCam" in original
    body = (await upload(api, original)).json()
    stored = (await api.fetch("GET", body["url"])).content
    assert b"SpyCam" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8000, 8000), 0).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _truncated() -> bytes:
    return image_bytes(300, 300)[:200]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"GIF89a" + b"\x00" * 100, "not a PNG"),
        (b"%PDF-1.7 a document", "not a PNG"),
        (image_bytes(63, 200), "each side"),
        (image_bytes(8193, 64), "each side"),
        (_truncated(), "cannot be decoded"),
        (_bomb(), "too many pixels"),
    ],
    ids=["gif", "pdf", "too small", "too wide", "truncated", "image bomb"],
)
async def test_what_is_not_a_usable_image_is_unsupported_and_stores_nothing(
    api: ApiDriver, data: bytes, why: str
) -> None:
    before = await api.snapshot()
    response = await upload(api, data)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_image"
    assert why in error["message"]
    assert await api.snapshot() == before


async def test_an_upload_over_its_cap_is_413(empty_database: str, tmp_path: Path) -> None:
    async with api_driver(empty_database, tmp_path, MAX_UPLOAD_BYTES="2048") as api:
        response = await upload(api, image_bytes(300, 300) + b"\x00" * 4096)
        assert (response.status_code, response.json()["error"]["code"]) == (
            413,
            "payload_too_large",
        )


async def test_an_asset_is_its_owners_alone(api: ApiDriver) -> None:
    body = (await upload(api, image_bytes(100, 100))).json()
    asset = f"{API}/assets/{body['asset_id']}"
    mine = await api.http.get(asset, headers=api.auth())
    assert mine.json()["sha256"] == body["sha256"]
    assert (await api.http.get(asset, headers=api.auth("mallory"))).status_code == 404
    content = f"{asset}/content"
    assert (await api.http.get(content, headers=api.auth())).status_code == 200
    assert (await api.http.get(content, headers=api.auth("mallory"))).status_code == 404
    assert (await api.http.get(content)).status_code == 401


async def test_a_link_that_is_tampered_with_or_expired_is_403_alike(api: ApiDriver) -> None:
    body = (await upload(api, image_bytes(100, 100))).json()
    url: str = body["url"]
    asset_id = body["asset_id"]
    past = api.container.clock.now() - timedelta(seconds=1)
    expired = api.container.storage.download_link(asset_id, "any", past)
    other = (await upload(api, image_bytes(90, 90))).json()["asset_id"]
    bad_links = [
        url.replace("signature=", "signature=A"),
        url.split("&signature=")[0],
        url.split("?")[0] + "?expires=abc&signature=x",
        expired,
        url.replace(asset_id, other),  # a valid signature, for another asset
    ]
    answers = [await api.fetch("GET", link) for link in bad_links]
    assert [a.status_code for a in answers] == [403] * 5
    assert len({json.dumps(a.json()["error"] | {"request_id": ""}) for a in answers}) == 1


async def test_input_images_and_logos_must_be_the_callers_own(api: ApiDriver) -> None:
    mine = (await upload(api, image_bytes(300, 300))).json()["asset_id"]
    logo = (await upload(api, image_bytes(128, 128), "logo")).json()["asset_id"]
    theirs = (await upload(api, image_bytes(300, 300), user="mallory")).json()["asset_id"]
    before = await api.snapshot()
    for fields, field in [
        ({"input_asset_ids": [theirs]}, "input_asset_ids"),
        ({"input_asset_ids": ["no-such-asset"]}, "input_asset_ids"),
        ({"brand_elements": {"logo_asset_ids": [theirs]}}, "brand_elements.logo_asset_ids"),
    ]:
        refused = await api.create(**fields)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"][0]["field"] == field
    assert await api.snapshot() == before

    created = await api.created(input_asset_ids=[mine], brand_elements={"logo_asset_ids": [logo]})
    assert created["input_parameters"]["input_asset_ids"] == [mine]
    assert created["input_parameters"]["brand_elements"]["logo_asset_ids"] == [logo]
    job = await api.last_job(created["id"])
    assert [(a["asset_id"], a["purpose"]) for a in job["input_assets"]] == [
        (mine, "input"),
        (logo, "logo"),
    ]
    fetched = await api.fetch("GET", job["input_assets"][0]["url"])  # n8n can fetch it
    assert fetched.status_code == 200


# --- callbacks name stored images ----------------------------------------------------------


async def test_a_samples_job_carries_an_upload_target_per_image(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    assert job["schema_version"] == 2
    assert len(job["outputs"]) == 4
    assert {t["method"] for t in job["outputs"]} == {"PUT"}
    assert job["render_size"] == {"width": 512, "height": 512}
    applied = await api.callback("samples", await api.samples_payload(request_id))
    assert applied.json() == {"result": "applied"}
    body = (await api.get(request_id)).json()
    assert [s["asset_id"] for s in body["sample_asset_infos"]] == [
        t["asset_id"] for t in job["outputs"]
    ]
    assert [s["seed"] for s in body["sample_asset_infos"]] == [7, 8, 9, 10]
    for sample in body["sample_asset_infos"]:
        assert sample["url_expires_at"] and sample["bytes"] > 0 and len(sample["sha256"]) == 64


@pytest.mark.parametrize(
    "case",
    ["nothing uploaded", "wrong format", "wrong size", "not an output", "named twice"],
)
async def test_a_callback_naming_a_wrong_image_is_invalid_output_and_changes_nothing(
    api: ApiDriver, case: str
) -> None:
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    ids = [t["asset_id"] for t in job["outputs"]]
    if case == "wrong format":
        await api.upload(job["outputs"][0], image_bytes(512, 512, "jpg"), "image/jpeg")
    elif case == "wrong size":
        await api.upload(job["outputs"][0], image_bytes(512, 288))
    else:
        await api.upload_outputs(job)
    named = {
        "not an output": ["someone-elses-asset"],
        "named twice": [ids[0], ids[0]],
    }.get(case, [ids[0]])
    payload = {
        "request_id": request_id,
        "job_id": job["job_id"],
        "samples": [{"asset_id": asset_id} for asset_id in named],
    }
    if case == "nothing uploaded":
        payload["samples"] = [{"asset_id": ids[3]}]
        key_folder = api.container.settings.assets_dir
        for path in key_folder.rglob(f"{ids[3]}.png"):
            path.unlink()
    before = await api.snapshot()
    response = await api.callback("samples", payload, message_id="msg_retry_me")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_output"
    assert response.json()["error"]["details"][0]["message"]
    assert await api.snapshot() == before
    # n8n uploads again and calls back under the same webhook-id: judged afresh, applied
    fixed = await api.samples_payload(request_id)
    assert (await api.callback("samples", fixed, message_id="msg_retry_me")).json() == {
        "result": "applied"
    }


async def test_a_stale_callback_is_answered_before_any_image_is_looked_at(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    job = await api.last_job(request_id)
    # a repeat of an applied job names images that no longer matter: no check, duplicate
    payload = {"request_id": request_id, "job_id": job["job_id"], "samples": [{"asset_id": "x"}]}
    assert (await api.callback("samples", payload)).json() == {"result": "duplicate"}


class ProviderStub(StubServer):
    """A model provider's short-lived image URLs (v1 callbacks name these)."""

    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}
        super().__init__([Route("/img/{name}", self._image, methods=["GET"])])

    async def _image(self, request: Request) -> Response:
        data = self.images.get(request.path_params["name"])
        return Response(data or b"gone", status_code=200 if data else 404)


@pytest.fixture
async def provider() -> AsyncIterator[ProviderStub]:
    stub = ProviderStub()
    await stub.start()
    yield stub
    await stub.stop()


async def test_a_v1_callback_url_is_downloaded_stored_and_never_served(
    empty_database: str, tmp_path: Path, provider: ProviderStub
) -> None:
    async with api_driver(empty_database, tmp_path, WEBHOOK_ALLOWED_HOSTS="127.0.0.1") as api:
        request_id = (await api.created())["id"]
        job = await api.last_job(request_id)
        provider.images = {f"s{i}.png": image_bytes(512, 512) for i in range(4)}
        provider.images["wrong.png"] = image_bytes(1024, 1024)
        samples = [
            {"asset_id": f"p{i}", "url": f"{provider.url}/img/s{i}.png", "resolution": "512x512"}
            for i in range(4)
        ]
        wrong = {**samples[0], "url": f"{provider.url}/img/wrong.png"}
        missing = {**samples[0], "url": f"{provider.url}/img/expired.png"}
        for bad in (wrong, missing):
            payload = {"request_id": request_id, "job_id": job["job_id"], "samples": [bad]}
            refused = await api.callback("samples", payload)
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "invalid_output"
        payload = {"request_id": request_id, "job_id": job["job_id"], "samples": samples}
        assert (await api.callback("samples", payload)).json() == {"result": "applied"}
        body = (await api.get(request_id)).json()
        assert [s["asset_id"] for s in body["sample_asset_infos"]] == [
            t["asset_id"] for t in job["outputs"]
        ]
        assert provider.url not in json.dumps(body)
        provider.images.clear()  # the provider's URLs die; ours do not
        for sample in body["sample_asset_infos"]:
            assert (await api.fetch("GET", sample["url"])).status_code == 200


async def test_a_v1_url_into_our_own_network_is_refused(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    internal = {"asset_id": "s", "url": "http://169.254.169.254/latest/x.png", "resolution": "1x1"}
    payload = {"request_id": request_id, "job_id": job["job_id"], "samples": [internal]}
    response = await api.callback("samples", payload)
    assert response.status_code == 422
    assert "non-public" in response.json()["error"]["details"][0]["message"]


# --- the same on a real S3-compatible server -----------------------------------------------


async def test_the_whole_flow_on_s3_hands_out_presigned_links_only(s3_api: ApiDriver) -> None:
    api = s3_api
    endpoint = api.container.settings.s3_endpoint_url or ""
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    assert all(t["upload_url"].startswith(endpoint) for t in job["outputs"])
    assert (await api.callback("samples", await api.samples_payload(request_id))).json() == {
        "result": "applied"
    }
    body = (await api.get(request_id)).json()
    chosen = body["sample_asset_infos"][1]
    assert chosen["url"].startswith(endpoint) and "X-Amz-Signature=" in chosen["url"]
    assert (await api.fetch("GET", chosen["url"])).status_code == 200
    content = await api.http.get(f"{API}/assets/{chosen['asset_id']}/content", headers=api.auth())
    assert content.status_code == 307
    assert content.headers["location"].startswith(endpoint)

    selected = await api.action(
        request_id, "select-sample", {"selected_sample_id": chosen["asset_id"]}
    )
    assert selected.status_code == 202, selected.text
    final_job = await api.last_job(request_id)
    source = await api.fetch("GET", final_job["selected_sample"]["url"])  # n8n fetches it
    assert source.status_code == 200
    final = await api.final_payload(request_id)
    assert (await api.callback("final", final)).json() == {"result": "applied"}
    done = (await api.get(request_id)).json()
    assert done["status"] == "completed"
    assert done["final_asset_info"]["resolution"] == "1080x1080"


async def test_storage_down_answers_503_and_the_retry_applies(
    empty_database: str, tmp_path: Path
) -> None:
    server = S3Server(tmp_path / "s3")
    server.start()
    try:
        async with api_driver(empty_database, tmp_path, **server.settings()) as api:
            request_id = (await api.created())["id"]
            payload = await api.samples_payload(request_id)
            server.stop()
            before = await api.snapshot()
            down = await api.callback("samples", payload, message_id="msg_storage_down")
            assert down.status_code == 503, down.text
            assert down.headers["retry-after"]
            assert down.json()["error"]["code"] == "dependency_unavailable"
            assert await api.snapshot() == before
            ready = await api.http.get("/readyz")
            assert (ready.status_code, ready.json()["checks"]["storage"]) == (503, False)
            server.start()
            await asyncio.sleep(0.2)
            again = await api.callback("samples", payload, message_id="msg_storage_down")
            assert again.json() == {"result": "applied"}
    finally:
        server.stop()


async def test_a_sample_of_ones_own_can_be_worked_from_again(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    sample = await api.sample_id(request_id, 1)
    created = await api.created(input_asset_ids=[sample])
    job = await api.last_job(created["id"])
    (source,) = job["input_assets"]
    assert (source["asset_id"], source["purpose"]) == (sample, "input")
    assert (await api.fetch("GET", source["url"])).status_code == 200
    refused = await api.create(user="mallory", input_asset_ids=[sample])
    assert refused.status_code == 422


async def test_an_upload_target_takes_only_its_own_signed_link_and_its_byte_cap(
    empty_database: str, tmp_path: Path
) -> None:
    async with api_driver(empty_database, tmp_path, MAX_ASSET_BYTES="4096") as api:
        request_id = (await api.created())["id"]
        target = (await api.last_job(request_id))["outputs"][0]
        forged = await api.fetch(
            "PUT", target["upload_url"].replace("signature=", "signature=x"), b"x"
        )
        assert (forged.status_code, forged.json()["error"]["code"]) == (403, "forbidden")
        other = target["upload_url"].replace(target["asset_id"], "someone-else-0")
        assert (await api.fetch("PUT", other, b"x")).status_code == 403
        big = await api.fetch("PUT", target["upload_url"], b"\x00" * 5000)
        assert (big.status_code, big.json()["error"]["code"]) == (413, "payload_too_large")
        fits = await api.fetch("PUT", target["upload_url"], image_bytes(64, 64))
        assert fits.status_code == 204

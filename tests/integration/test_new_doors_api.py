"""The 1.1 doors as an attacker tries them (issue "the new doors"), on SQLite and PostgreSQL,
the local store and a real S3 server: stalled and unauthenticated bodies cannot take the
service's places; what a user is served is byte for byte what the service checked, however an
upload target is used again; link parameters are parsed strictly (any odd one is the tampered
link's 403); a user id is one opaque value; roles split on ASCII spaces only; shedding is not
bypassed by a made-up signature or `Prefer: wait`; a chunked body over its cap is 413; a
palette PNG keeps its transparency."""

import asyncio
import hashlib
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from creativeflow.services.aigeneration.infrastructure.clients.credit_service_client import (
    HttpCreditServiceClient,
)

from ..figures import count
from ..stub_servers import StubServer
from .api_client import API, ApiDriver, image_bytes
from .conftest import api_driver


@pytest.fixture(autouse=True)
def _count_bad_inputs() -> None:
    count("bad_input_cases")


async def _stalled(first: bytes, until: asyncio.Event) -> AsyncIterator[bytes]:
    """A body whose first bytes arrive, then nothing until `until` is set."""
    yield first
    await until.wait()
    yield b"--"


def _token(api: ApiDriver, claims: dict[str, Any]) -> dict[str, str]:
    token = jwt.encode({"exp": 4102444800, **claims}, api.container.settings.jwt_secret, "HS256")
    return {"Authorization": f"Bearer {token}"}


# --- 1. unauthenticated and unfinished work cannot starve the service ------------------------


async def test_stalled_uploads_without_a_token_are_401_at_once_and_take_no_place(
    empty_database: str, tmp_path: Path
) -> None:
    async with api_driver(empty_database, tmp_path, MAX_REQUESTS_IN_FLIGHT="4") as api:
        never = asyncio.Event()
        started = time.monotonic()
        answers = await asyncio.gather(
            *(
                api.http.post(
                    f"{API}/assets",
                    content=_stalled(b"x" * 600, never),
                    headers={"Content-Length": "100000", "Content-Type": "multipart/form-data"},
                )
                for _ in range(34)
            )
        )
        assert time.monotonic() - started < 5  # not one waited for its body
        assert {a.status_code for a in answers} == {401}
        assert {a.json()["error"]["code"] for a in answers} == {"unauthenticated"}
        assert {a.headers["connection"] for a in answers} == {"close"}
        assert (await api.http.get(f"{API}/credits", headers=api.auth())).status_code == 200


async def test_a_body_that_stalls_is_408_within_its_time_and_takes_no_place(
    empty_database: str, tmp_path: Path
) -> None:
    settings = {"MAX_REQUESTS_IN_FLIGHT": "4", "REQUEST_BODY_TIMEOUT_SECONDS": "0.5"}
    async with api_driver(empty_database, tmp_path, **settings) as api:
        never = asyncio.Event()
        started = time.monotonic()
        stalled = [
            asyncio.create_task(
                api.http.post(
                    f"{API}/generation-requests",
                    content=_stalled(b'{"project_id":', never),
                    headers={**api.auth(f"user-{n}"), "Content-Type": "application/json"},
                )
            )
            for n in range(6)
        ]
        await asyncio.sleep(0.1)
        # six bodies on their way, more than the bound: every place is still free
        assert (await api.http.get(f"{API}/credits", headers=api.auth())).status_code == 200
        answers = await asyncio.gather(*stalled)
        assert time.monotonic() - started < 3
        assert {(a.status_code, a.json()["error"]["code"]) for a in answers} == {
            (408, "request_timeout")
        }
        assert {a.headers["connection"] for a in answers} == {"close"}


async def test_an_answer_before_the_body_is_in_closes_the_connection(api: ApiDriver) -> None:
    """Else a client that sent a broken start of a body and stalls holds a keep-alive
    connection for ever, the server waiting to read the rest it will never use."""
    never = asyncio.Event()
    answer = await asyncio.wait_for(
        api.http.post(
            f"{API}/assets",
            content=_stalled(b"x" * 600, never),
            headers={
                **api.auth(),
                "Content-Type": "multipart/form-data; boundary=b",
                "Content-Length": "100000",
            },
        ),
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.headers["connection"] == "close"


async def test_a_trickling_body_is_cut_at_its_minimum_rate(
    empty_database: str, tmp_path: Path
) -> None:
    settings = {"REQUEST_BODY_TIMEOUT_SECONDS": "0.6", "REQUEST_BODY_MIN_BYTES_PER_SECOND": "100"}
    async with api_driver(empty_database, tmp_path, **settings) as api:

        async def trickle() -> AsyncIterator[bytes]:
            for _ in range(100):  # a byte every 0.2 s: never idle, always late
                yield b" "
                await asyncio.sleep(0.2)

        started = time.monotonic()
        answer = await api.http.post(
            f"{API}/generation-requests",
            content=trickle(),
            headers={**api.auth(), "Content-Type": "application/json", "Content-Length": "100"},
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (408, "request_timeout")
        assert time.monotonic() - started < 0.6 + 100 / 100 + 0.5


async def test_each_user_has_a_bound_of_uploads_at_once(
    empty_database: str, tmp_path: Path
) -> None:
    async with api_driver(empty_database, tmp_path, MAX_UPLOADS_PER_USER="2") as api:
        stall = asyncio.Event()
        headers = {**api.auth(), "Content-Type": "multipart/form-data; boundary=b"}
        first = [
            asyncio.create_task(
                api.http.post(f"{API}/assets", content=_stalled(b"--b\r\n", stall), headers=headers)
            )
            for _ in range(2)
        ]
        await asyncio.sleep(0.1)
        third = await api.http.post(f"{API}/assets", content=b"--b--\r\n", headers=headers)
        assert third.status_code == 429
        assert third.headers["retry-after"] == "1"
        assert third.json()["error"]["details"] == [{"limit": "active_uploads", "retry_after_s": 1}]
        stall.set()
        await asyncio.gather(*first)
        upload = await api.http.post(
            f"{API}/assets", files={"file": ("a.png", image_bytes(64, 64))}, headers=api.auth()
        )
        assert upload.status_code == 201, upload.text


# --- 2. what a user is served is what the service checked --------------------------------------


async def _delivered(api: ApiDriver) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A request with its samples applied: its id, the samples job, and the first sample."""
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    assert (await api.callback("samples", await api.samples_payload(request_id))).json() == {
        "result": "applied"
    }
    sample = (await api.get(request_id)).json()["sample_asset_infos"][0]
    return request_id, job, sample


async def _served(api: ApiDriver, sample: dict[str, Any]) -> bytes:
    """The sample's bytes as its owner is served them (following S3's redirect)."""
    url = f"{API}/assets/{sample['asset_id']}/content"
    answer = await api.http.get(url, headers=api.auth())
    if answer.status_code == 307:
        answer = await api.fetch("GET", answer.headers["location"])
    assert answer.status_code == 200, answer.text
    assert int(answer.headers["content-length"]) == len(answer.content)
    return answer.content


async def test_a_delivered_image_cannot_be_rewritten_through_its_target_on_the_local_store(
    api: ApiDriver,
) -> None:
    _, job, sample = await _delivered(api)
    target = next(t for t in job["outputs"] if t["asset_id"] == sample["asset_id"])
    original = await _served(api, sample)
    other = image_bytes(512, 512, colour=(0, 0, 0))
    again = await api.upload(target, other)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invalid_state")
    served = await _served(api, sample)
    assert served == original
    assert hashlib.sha256(served).hexdigest() == sample["sha256"]
    assert len(served) == sample["bytes"]


async def test_an_upload_target_writes_once_and_a_retry_of_the_same_bytes_is_fine(
    api: ApiDriver,
) -> None:
    request_id = (await api.created())["id"]
    target = (await api.last_job(request_id))["outputs"][0]
    data = image_bytes(512, 512)
    assert (await api.upload(target, data)).status_code == 204
    assert (await api.upload(target, data)).status_code == 204  # n8n's retry of a lost answer
    other = await api.upload(target, image_bytes(512, 512, colour=(0, 0, 0)))
    assert (other.status_code, other.json()["error"]["code"]) == (409, "invalid_state")


@pytest.mark.parametrize("settled_by", ["delete", "cancel", "deadline"])
async def test_an_upload_target_refuses_once_its_job_stopped_mattering(
    empty_database: str, tmp_path: Path, settled_by: str
) -> None:
    async with api_driver(empty_database, tmp_path, SAMPLE_JOB_DEADLINE_SECONDS="1") as api:
        if settled_by == "delete":
            request_id, _, _ = await _delivered(api)
            await api.action(request_id, "regenerate-samples")
            job = await api.last_job(request_id)
            await api.callback("samples", await api.samples_payload(request_id))
            gone = await api.http.delete(
                f"{API}/generation-requests/{request_id}", headers=api.auth()
            )
            assert gone.status_code == 204
        else:
            request_id = (await api.created())["id"]
            job = await api.last_job(request_id)
            if settled_by == "cancel":
                assert (await api.action(request_id, "cancel")).status_code == 202
            else:
                await asyncio.sleep(1.1)
                assert await api.container.sweeper.sweeps.fail_overdue_requests() == 1
        folder = api.container.settings.assets_dir
        before = sorted(p.name for p in folder.rglob("*") if p.is_file())
        late = await api.upload(job["outputs"][0], image_bytes(512, 512))
        assert (late.status_code, late.json()["error"]["code"]) == (409, "invalid_state")
        assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == before


async def test_a_delivered_image_rewritten_through_its_s3_target_is_never_served(
    s3_api: ApiDriver,
) -> None:
    api = s3_api
    request_id, job, sample = await _delivered(api)
    target = next(t for t in job["outputs"] if t["asset_id"] == sample["asset_id"])
    original = await _served(api, sample)
    other = image_bytes(1024, 1024, colour=(0, 0, 0))
    # a presigned PUT cannot be taken back: S3 stores it, under the target's staging key
    assert (await api.upload(target, other)).status_code == 200
    served = await _served(api, sample)
    assert served == original
    assert hashlib.sha256(served).hexdigest() == sample["sha256"]
    body = (await api.get(request_id)).json()["sample_asset_infos"][0]
    assert (body["bytes"], body["sha256"]) == (len(original), sample["sha256"])


# --- 3. link parameters parsed strictly ----------------------------------------------------


@pytest.mark.parametrize(
    "tampered",
    [
        "expires=%C2%B2",  # a superscript two: str.isdigit() says yes, int() says no
        "expires=%0a1",
        "expires=%EF%BC%91",  # a fullwidth one
        "signature=%00",
        "signature=%FF",
        "signature=%0D%0A",
        "request_id=%00",
    ],
)
async def test_a_malformed_link_parameter_is_the_tampered_links_403_on_every_link(
    api: ApiDriver, tampered: str
) -> None:
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    name, base = tampered.split("=")[0], api.container.settings.public_base_url
    links = [
        ("PUT", job["outputs"][0]["upload_url"]),
        ("GET", job["status_url"]),
        (
            "GET",
            f"{base}{API}/assets/{job['outputs'][0]['asset_id']}/content?expires=1&signature=s",
        ),
    ]
    for method, url in links:
        query = [p for p in url.split("?", 1)[1].split("&") if not p.startswith(f"{name}=")]
        broken = f"{url.split('?', 1)[0]}?{'&'.join([*query, tampered])}"
        answer = await api.fetch(method, broken, b"x" if method == "PUT" else None)
        assert answer.status_code == 403, (method, broken, answer.text)
        assert answer.json()["error"] == {
            "code": "forbidden",
            "message": "This link is not valid, or has expired.",
            "details": [],
            "request_id": answer.headers["x-request-id"],
        }


# --- 4. a user id is one opaque value ------------------------------------------------------


@pytest.mark.parametrize("subject", [".", "..", "/", "a/b", "..\\x", "a?b", "a#b"])
async def test_a_subject_that_is_path_structure_is_401(api: ApiDriver, subject: str) -> None:
    answer = await api.http.get(f"{API}/credits", headers=_token(api, {"sub": subject}))
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "unauthenticated")


async def test_a_user_id_is_one_percent_encoded_path_segment_at_the_credit_service() -> None:
    seen: list[str] = []

    async def credits(request: Request) -> JSONResponse:
        seen.append(request.scope["raw_path"].decode())
        return JSONResponse({"balance": "1", "subscription_tier": "free"})

    server = StubServer([Route("/{path:path}", credits)])
    await server.start()
    try:
        client = HttpCreditServiceClient(httpx.AsyncClient(), server.url)
        for user in ("auth0|42", "a b", "x%2Fy", "ann@example.com"):
            await client.get_account(user)
        await client.aclose()
    finally:
        await server.stop()
    assert seen == [
        "/users/auth0%7C42/credits",
        "/users/a%20b/credits",
        "/users/x%252Fy/credits",
        "/users/ann%40example.com/credits",
    ]


# --- 5. roles split on ASCII spaces only -----------------------------------------------------


@pytest.mark.parametrize("separator", ["\u00a0", "\u2028", "\u3000", "\t", "\u2003"])
async def test_roles_split_on_other_white_space_are_not_admin(
    api: ApiDriver, separator: str
) -> None:
    headers = _token(api, {"sub": "mallory", "roles": f"viewer{separator}admin"})
    answer = await api.http.get(f"{API}/admin/dead-letters", headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "forbidden")


async def test_roles_in_a_space_separated_string_are_read(api: ApiDriver) -> None:
    headers = _token(api, {"sub": "ops", "roles": "viewer  admin"})
    assert (await api.http.get(f"{API}/admin/dead-letters", headers=headers)).status_code == 200
    headers = _token(api, {"sub": "ops", "roles": "Admin"})  # compared exactly
    assert (await api.http.get(f"{API}/admin/dead-letters", headers=headers)).status_code == 403


# --- 7. 413 for every body over its cap; transparency kept -------------------------------------

FILE_PART = (
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
)


async def test_a_chunked_body_over_its_cap_is_413(api: ApiDriver) -> None:
    async def chunked(size: int, head: bytes = b"") -> AsyncIterator[bytes]:
        yield head
        for _ in range(size // 65536 + 1):
            yield b"x" * 65536

    cap = api.container.settings.max_request_body_bytes
    answer = await api.http.post(
        f"{API}/generation-requests",
        content=chunked(cap + 1),
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "payload_too_large")
    upload_cap = api.container.settings.max_upload_bytes
    answer = await api.http.post(
        f"{API}/assets",
        content=chunked(upload_cap + 128 * 1024, FILE_PART),
        headers={**api.auth(), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "payload_too_large")


async def test_a_palette_png_logo_keeps_its_transparent_background(api: ApiDriver) -> None:
    logo = Image.new("P", (96, 96), 0)
    logo.putpalette([255, 255, 255, 220, 30, 60] + [0] * 762)
    logo.paste(1, (24, 24, 72, 72))
    buffer = io.BytesIO()
    logo.save(buffer, "PNG", transparency=0)
    answer = await api.http.post(
        f"{API}/assets",
        files={"file": ("logo.png", buffer.getvalue())},
        data={"purpose": "logo"},
        headers=api.auth(),
    )
    assert answer.status_code == 201, answer.text
    content = await api.http.get(
        f"{API}/assets/{answer.json()['asset_id']}/content", headers=api.auth()
    )
    stored = Image.open(io.BytesIO(content.content)).convert("RGBA")
    assert stored.getpixel((2, 2))[3] == 0  # the background: transparent
    assert stored.getpixel((48, 48)) == (220, 30, 60, 255)

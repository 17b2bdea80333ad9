"""The AssetStorage adapter against a local folder and a real S3-compatible server (rclone
serve s3, over HTTP with SigV4) alike: what is put is inspected from its bytes, streamed back,
deleted; S3 links are presigned and refused when tampered with; a stopped server makes the
adapter report the storage unavailable within the bound, not hang."""

import hashlib
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from creativeflow.services.aigeneration.application.clock import SystemClock
from creativeflow.services.aigeneration.application.errors import DependencyUnavailable
from creativeflow.services.aigeneration.application.ports import UploadSlot
from creativeflow.services.aigeneration.infrastructure.storage.object_storage import (
    ObjectAssetStorage,
    S3Settings,
    s3_store,
)
from creativeflow.services.aigeneration.infrastructure.storage.signed_links import (
    HmacSignedLinks,
)

from ..s3_server import S3Server
from .api_client import image_bytes

CLOCK = SystemClock()


def s3_storage(server: S3Server, prefix: str = "") -> ObjectAssetStorage:
    settings = S3Settings(
        bucket=server.bucket,
        endpoint_url=server.endpoint,
        region="us-east-1",
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
        key_prefix=prefix,
        force_path_style=True,
    )
    return ObjectAssetStorage(s3_store(settings), CLOCK)


@pytest.fixture(params=["local", "s3"])
def storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, ObjectAssetStorage]]:
    if request.param == "local":
        links = HmacSignedLinks(b"k" * 32, CLOCK)
        yield "local", ObjectAssetStorage.local(tmp_path / "assets", CLOCK, links, "http://svc/v1")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        yield "s3", s3_storage(server, prefix=f"run-{uuid.uuid4().hex[:8]}/")


async def test_an_image_put_is_read_back_as_what_its_bytes_say(
    storage: tuple[str, ObjectAssetStorage],
) -> None:
    _, store = storage
    data = image_bytes(320, 200, "webp")
    await store.put("u/r/a.webp", data, "image/webp")
    found = await store.inspect("u/r/a.webp", 1 << 20)
    assert found is not None
    assert (found.format, found.width, found.height) == ("webp", 320, 200)
    assert (found.bytes, found.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    opened = await store.open("u/r/a.webp")
    assert opened.length == len(data)
    assert b"".join([chunk async for chunk in opened.chunks]) == data
    loaded = await store.load("u/r/a.webp", 1 << 20)
    assert loaded is not None and loaded.data == data and loaded.stored == found


async def test_a_key_written_only_when_new_keeps_its_first_bytes(tmp_path: Path) -> None:
    links = HmacSignedLinks(b"k" * 32, CLOCK)
    store = ObjectAssetStorage.local(tmp_path / "assets", CLOCK, links, "http://svc/v1")
    first, second = image_bytes(64, 64), image_bytes(64, 64, colour=(1, 2, 3))
    assert await store.put_new("staging/u/r/a.png", first, "image/png")
    assert not await store.put_new("staging/u/r/a.png", second, "image/png")
    loaded = await store.load("staging/u/r/a.png", 1 << 20)
    assert loaded is not None and loaded.data == first


async def test_what_is_not_an_image_or_too_large_or_missing_is_told_apart(
    storage: tuple[str, ObjectAssetStorage],
) -> None:
    _, store = storage
    await store.put("u/r/text.png", b"not a picture at all", "image/png")
    text = await store.inspect("u/r/text.png", 1 << 20)
    assert text is not None and text.format is None
    big = image_bytes(512, 512)
    await store.put("u/r/big.png", big, "image/png")
    too_large = await store.inspect("u/r/big.png", len(big) - 1)
    assert too_large is not None and too_large.format is None and too_large.bytes > len(big) - 1
    assert await store.inspect("u/r/missing.png", 1 << 20) is None


async def test_a_deleted_object_is_gone_and_deleting_twice_is_fine(
    storage: tuple[str, ObjectAssetStorage],
) -> None:
    _, store = storage
    await store.put("u/r/gone.png", image_bytes(64, 64), "image/png")
    await store.delete("u/r/gone.png")
    await store.delete("u/r/gone.png")
    assert await store.inspect("u/r/gone.png", 1 << 20) is None
    assert await store.check()


async def test_the_local_store_links_to_the_service_with_a_signature(tmp_path: Path) -> None:
    links = HmacSignedLinks(b"k" * 32, CLOCK)
    store = ObjectAssetStorage.local(tmp_path, CLOCK, links, "http://svc/api/v1")
    expires = CLOCK.now() + timedelta(minutes=5)
    url = store.download_link("a1", "u/r/a1.png", expires)
    assert url.startswith("http://svc/api/v1/assets/a1/content?expires=")
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    assert links.valid("GET", "a1", query["expires"], query["signature"])
    assert not links.valid("GET", "a2", query["expires"], query["signature"])
    assert not links.valid("PUT", "a1", query["expires"], query["signature"])
    assert not links.valid("GET", "a1", str(int(query["expires"]) + 1), query["signature"])
    assert not store.redirects


async def test_s3_links_are_presigned_and_a_tampered_one_is_refused(s3_server: S3Server) -> None:
    store = s3_storage(s3_server, prefix="links/")
    expires = CLOCK.now() + timedelta(minutes=5)
    upload = store.upload_link(UploadSlot("a1", "u/r/a1.png", "image/png", "r1", "j1"), expires)
    data = image_bytes(64, 96)
    async with httpx.AsyncClient() as http:
        put = await http.put(upload, content=data, headers={"Content-Type": "image/png"})
        assert put.status_code == 200, put.text
        url = store.download_link("a1", "u/r/a1.png", expires)
        got = await http.get(url)
        assert (got.status_code, got.content) == (200, data)
        forged = await http.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
        assert forged.status_code == 403
        assert "SignatureDoesNotMatch" in forged.text
    found = await store.inspect("u/r/a1.png", 1 << 20)
    assert found is not None and (found.width, found.height) == (64, 96)
    assert store.redirects


async def test_a_stopped_s3_server_is_unavailable_within_the_bound(tmp_path: Path) -> None:
    server = S3Server(tmp_path / "data")
    server.start()
    store = s3_storage(server)
    await store.put("u/r/a.png", image_bytes(64, 64), "image/png")
    server.stop()
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable):
        await store.inspect("u/r/a.png", 1 << 20)
    assert time.monotonic() - started < 10
    assert not await store.check()
    server.start()  # back on the same port: the same store works again
    assert (await store.inspect("u/r/a.png", 1 << 20)) is not None
    server.stop()

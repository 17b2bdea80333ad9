"""The AssetStorage port over obstore: a local folder (the embedded default) or any
S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph RGW) through the same calls.

obstore (Rust's object_store, async, from PyPI) was chosen over aiobotocore: one library for
both stores, presigning without a network call, streaming reads, bounded retries, and about a
tenth of aiobotocore's import and client set-up time. S3 links are presigned by obstore; the
folder's links are the service's own, signed with HMAC (signed_links.py)."""

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError
from obstore.store import LocalStore, S3Store

from ...application.errors import DependencyUnavailable
from ...application.ports import (
    Clock,
    LoadedObject,
    OpenedObject,
    SignedLinks,
    StoredObject,
    UploadSlot,
)
from .image_probe import probe

log = logging.getLogger(__name__)
HEADER_BYTES = 256 * 1024  # enough for any header we read (a JPEG's frame may follow its EXIF)
READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    key_prefix: str = ""
    force_path_style: bool = False


def s3_store(settings: S3Settings) -> S3Store:
    config: dict[str, Any] = {
        "region": settings.region or "us-east-1",
        "virtual_hosted_style_request": not settings.force_path_style,
    }
    if settings.endpoint_url:
        config["endpoint"] = settings.endpoint_url
    if settings.access_key_id and settings.secret_access_key:
        config["access_key_id"] = settings.access_key_id
        config["secret_access_key"] = settings.secret_access_key
        if settings.session_token:
            config["session_token"] = settings.session_token
    return S3Store(
        settings.bucket,
        prefix=settings.key_prefix or None,
        client_options={
            "allow_http": bool(settings.endpoint_url and settings.endpoint_url.startswith("http:")),
            "connect_timeout": "3s",
            "timeout": "30s",
        },
        # a few quick retries: the callback that waits on them answers 503 within 10 s
        retry_config={
            "max_retries": 2,
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=1),
                "base": 2,
            },
            "retry_timeout": timedelta(seconds=8),
        },
        **config,
    )


class ObjectAssetStorage:
    def __init__(
        self,
        store: S3Store | LocalStore,
        clock: Clock,
        signed: SignedLinks | None = None,
        service_url: str = "",
    ) -> None:
        """`signed` and `service_url` (the API's base, `…/api/v1`): links served by the service
        itself, for a store that cannot presign (the local folder)."""
        self._store = store
        self._clock = clock
        self._signed = signed
        self._service_url = service_url.rstrip("/")

    @classmethod
    def local(
        cls, root: Path, clock: Clock, signed: SignedLinks, service_url: str
    ) -> "ObjectAssetStorage":
        root.mkdir(parents=True, exist_ok=True)
        return cls(LocalStore(root, mkdir=True), clock, signed, service_url)

    @property
    def redirects(self) -> bool:
        return self._signed is None

    async def put(self, key: str, data: bytes, media_type: str) -> None:
        attributes = self._type(media_type)
        await self._call(obstore.put_async(self._store, key, data, attributes=attributes))

    async def put_new(self, key: str, data: bytes, media_type: str) -> bool:
        put = obstore.put_async(
            self._store, key, data, mode="create", attributes=self._type(media_type)
        )
        try:
            await put
        except AlreadyExistsError:
            return False
        except BaseError as exc:
            raise _unavailable(exc) from None
        return True

    async def inspect(self, key: str, max_bytes: int) -> StoredObject | None:
        """Streams the object once: its SHA-256 and length, and its header for type and size.
        Stops after max_bytes + 1 bytes (too large is too large)."""
        loaded = await self._read(key, max_bytes, keep=False)
        return loaded.stored if loaded is not None else None

    async def load(self, key: str, max_bytes: int) -> LoadedObject | None:
        return await self._read(key, max_bytes, keep=True)

    async def _read(self, key: str, max_bytes: int, keep: bool) -> LoadedObject | None:
        try:
            result = await self._call(obstore.get_async(self._store, key))
            digest, kept, length = hashlib.sha256(), bytearray(), 0
            async for chunk in result.stream(min_chunk_size=READ_CHUNK):
                length += len(chunk)
                if length > max_bytes:
                    return LoadedObject(StoredObject(None, 0, 0, length, ""), b"")
                digest.update(chunk)
                if keep or len(kept) < HEADER_BYTES:
                    kept += chunk if keep else chunk[: HEADER_BYTES - len(kept)]
        except FileNotFoundError:
            return None
        except BaseError as exc:
            raise _unavailable(exc) from None
        data, sha256 = (bytes(kept) if keep else b""), digest.hexdigest()
        header = probe(bytes(kept[:HEADER_BYTES]))
        if header is None:
            return LoadedObject(StoredObject(None, 0, 0, length, sha256), data)
        return LoadedObject(
            StoredObject(header.format, header.width, header.height, length, sha256), data
        )

    async def deliver(self, staging: str, key: str, checked: LoadedObject, media_type: str) -> None:
        """The folder moves the file: its upload targets write once (the service's own route
        refuses a second write), so the file still holds the bytes that were checked, and a
        rename costs no second write. A bucket's presigned target can be written again at any
        moment, so there the checked bytes themselves are written to `key`."""
        if isinstance(self._store, LocalStore):
            with contextlib.suppress(FileNotFoundError):  # moved by an earlier try of this callback
                await self._call(obstore.rename_async(self._store, staging, key))
            return
        await self.put(key, checked.data, media_type)
        await self.delete(staging)

    async def open(self, key: str) -> OpenedObject:
        """The length is the object's own (its metadata, read with the object), never a size
        recorded elsewhere: what is streamed is what the answer announces."""
        result = await self._call(obstore.get_async(self._store, key))
        return OpenedObject(int(result.meta["size"]), _chunks(result))

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # gone already: what a delete wants
            await self._call(obstore.delete_async(self._store, key))

    def download_link(self, asset_id: str, key: str, expires_at: datetime) -> str:
        if self._signed is None:
            return self._presigned("GET", key, expires_at)
        query = self._signed.sign("GET", asset_id, expires_at)
        return f"{self._service_url}/assets/{quote(asset_id)}/content?{query}"

    def upload_link(self, slot: UploadSlot, expires_at: datetime) -> str:
        if self._signed is None:
            return self._presigned("PUT", slot.key, expires_at)
        # the service's own target: bound to the request and job, which it checks are current
        bound = f"{slot.request_id}\n{slot.job_id}"
        query = self._signed.sign("PUT", slot.asset_id, expires_at, bound)
        job = f"request_id={quote(slot.request_id, safe='')}&job_id={quote(slot.job_id, safe='')}"
        return f"{self._service_url}/assets/{quote(slot.asset_id)}/content?{job}&{query}"

    def _type(self, media_type: str) -> dict[str, str] | None:
        return {"Content-Type": media_type} if isinstance(self._store, S3Store) else None

    async def check(self) -> bool:
        try:
            await obstore.head_async(self._store, "readiness-probe")
        except FileNotFoundError:
            return True  # the store answered
        except BaseError as exc:
            log.warning("asset storage not ready: %s", str(exc).splitlines()[0])
            return False
        return True

    def _presigned(self, method: Literal["GET", "PUT"], key: str, expires_at: datetime) -> str:
        assert isinstance(self._store, S3Store), "only S3 presigns; the folder signs its own"
        # at least a second: a link minted at its expiry is still a link
        seconds = max(1, int((expires_at - self._clock.now()).total_seconds()))
        return obstore.sign(self._store, method, key, timedelta(seconds=seconds))

    async def _call(self, operation: Any) -> Any:
        try:
            return await operation
        except FileNotFoundError:
            raise
        except BaseError as exc:
            raise _unavailable(exc) from None


async def _chunks(result: Any) -> AsyncIterator[bytes]:
    async for chunk in result.stream(min_chunk_size=READ_CHUNK):
        yield bytes(chunk)


def _unavailable(exc: Exception) -> DependencyUnavailable:
    log.warning("asset storage call failed: %s", str(exc).splitlines()[0])
    return DependencyUnavailable("The asset storage cannot be reached.", retry_after_seconds=5)

"""The ports of the images the service holds (contract §6): its storage, the links it signs,
the cleaning of uploads, downloads of v1 URLs, and the assets table. The rest of the ports are
in ports.py, which names these too."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..domain.models import AssetInfo


@dataclass(frozen=True)
class StoredObject:
    """What the storage really holds under a key, read once in full: the image type told by
    its bytes (None when it is not PNG, JPEG or WebP, or not decodable), the pixel size from
    its header, its length and its SHA-256."""

    format: str | None
    width: int
    height: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class LoadedObject:
    """An object read whole: what it is, and its bytes (empty when it is over the size asked)."""

    stored: StoredObject
    data: bytes


@dataclass(frozen=True)
class OpenedObject:
    """An object being streamed: its length as the store reports it, and its bytes in chunks."""

    length: int
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True)
class UploadSlot:
    """Where a worker uploads one image of a job: the staging key its upload target writes
    (never a key that is served), for the request and job it belongs to."""

    asset_id: str
    key: str
    media_type: str
    request_id: str
    job_id: str


class AssetStorage(Protocol):
    """The service's own image store: a local folder or an S3-compatible bucket. Unreachable
    storage raises DependencyUnavailable. Minting a link never calls the storage."""

    @property
    def redirects(self) -> bool:
        """True when browsers fetch objects from the storage itself (presigned S3 links);
        False when the service serves the bytes (the local folder)."""

    async def put(self, key: str, data: bytes, media_type: str) -> None: ...

    async def put_new(self, key: str, data: bytes, media_type: str) -> bool:
        """Writes `key` only when nothing is stored there (the store enforces it); False when
        something was."""

    async def inspect(self, key: str, max_bytes: int) -> StoredObject | None:
        """None when nothing is stored under `key`; reads at most max_bytes + 1 bytes (a
        larger object is reported with that length and no format)."""

    async def load(self, key: str, max_bytes: int) -> LoadedObject | None:
        """As `inspect`, keeping the bytes read (none when the object is over max_bytes)."""

    async def deliver(self, staging: str, key: str, checked: LoadedObject, media_type: str) -> None:
        """Make the checked bytes the object at `key` and remove the upload target's object at
        `staging` (in this order: a retry finds the bytes at one or the other)."""

    async def open(self, key: str) -> OpenedObject:
        """The object's length and its bytes, in chunks (raises FileNotFoundError when missing)."""

    async def delete(self, key: str) -> None: ...

    def download_link(self, asset_id: str, key: str, expires_at: datetime) -> str: ...

    def upload_link(self, slot: UploadSlot, expires_at: datetime) -> str:
        """Where a worker PUTs the image of `slot` until `expires_at`."""

    async def check(self) -> bool:
        """For readiness: the store answers."""


class SignedLinks(Protocol):
    """Links of the service itself that carry their own permission: an HMAC over the method,
    the asset id, any extra value bound to it, and the expiry (ASSET_URL_SIGNING_KEY)."""

    def sign(self, method: str, asset_id: str, expires_at: datetime, extra: str = "") -> str:
        """The query string (`expires=…&signature=…`) of a link valid until `expires_at`."""

    def valid(
        self, method: str, asset_id: str, expires: str, signature: str, extra: str = ""
    ) -> bool:
        """True for a signature this service made that has not expired."""


@dataclass(frozen=True)
class CleanImage:
    """An uploaded image as stored: re-encoded without metadata, its type told by its bytes."""

    data: bytes
    format: str
    width: int
    height: int


class UploadCleaner(Protocol):
    def clean(self, data: bytes) -> CleanImage:
        """Raise UnsupportedImage for anything but a decodable PNG, JPEG or WebP of 64..8192 px
        a side (image bombs included). CPU-bound: run it in a thread."""


class RemoteImages(Protocol):
    """Fetches an image a v1 callback names by URL, under the SSRF policy and the size and
    time limits; raises Unfetchable with the reason."""

    async def fetch(self, url: str, max_bytes: int) -> bytes: ...


@dataclass(frozen=True)
class AssetRecord:
    """A row of the assets table: an image, its owner and where it is stored."""

    info: AssetInfo
    user_id: str
    kind: str  # sample | final | input | logo
    key: str
    created_at: datetime
    request_id: str | None = None


class AssetRepository(Protocol):
    def add(self, record: AssetRecord) -> None:
        """Stage a record: written when the unit of work commits."""

    async def get(self, asset_id: str) -> AssetRecord | None: ...

    async def owned(self, user_id: str, asset_ids: Sequence[str]) -> list[AssetRecord]:
        """Those of `asset_ids` that exist and belong to `user_id`."""

    async def uploads_of(self, user_id: str) -> list[AssetRecord]:
        """The user's own uploads (inputs and logos), not the images of their requests."""

    def remove(self, asset_ids: Sequence[str]) -> None:
        """Stage the removal of these rows: done when the unit of work commits."""

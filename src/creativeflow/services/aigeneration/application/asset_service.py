"""Uploads and reads of the user's images (contract §6): `POST /assets`, `GET /assets/{id}`,
and its content behind a bearer token or a signed link."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ..domain.models import AssetInfo
from ..domain.models.asset_info import MEDIA_TYPES
from .assets import AssetLinks, Link, upload_key, within_storage_bound
from .errors import Forbidden, NotFound, TooLarge
from .ports import AssetRecord, AssetStorage, Clock, SignedLinks, UnitOfWorkFactory, UploadCleaner

LINK_REFUSED = "This link is not valid, or has expired."


@dataclass(frozen=True)
class AssetRead:
    record: AssetRecord
    link: Link


class AssetService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        storage: AssetStorage,
        links: AssetLinks,
        signed: SignedLinks,
        cleaner: UploadCleaner,
        clock: Clock,
        new_id: Callable[[], str],
        max_asset_bytes: int,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._links = links
        self._signed = signed
        self._cleaner = cleaner
        self._clock = clock
        self._new_id = new_id
        self._max_asset_bytes = max_asset_bytes

    @property
    def redirects(self) -> bool:
        return self._storage.redirects

    async def upload(self, user_id: str, data: bytes, purpose: str) -> AssetRead:
        """Stored as cleaned (no EXIF or GPS), then recorded: an object without a row is an
        orphan a lifecycle rule removes; a row without its object cannot happen."""
        image = await asyncio.to_thread(self._cleaner.clean, data)
        asset_id = self._new_id()
        key = upload_key(user_id, asset_id, image.format)
        await within_storage_bound(self._storage.put(key, image.data, MEDIA_TYPES[image.format]))
        info = AssetInfo(
            asset_id,
            image.width,
            image.height,
            image.format,
            len(image.data),
            hashlib.sha256(image.data).hexdigest(),
        )
        record = AssetRecord(info, user_id, purpose, key, self._clock.now())
        async with self._uow() as uow:
            uow.assets.add(record)
            await uow.commit()
        return AssetRead(record, self._links.for_user(asset_id, key))

    async def owned(self, asset_id: str, user_id: str) -> AssetRead:
        record = await self._record(asset_id)
        if record is None or record.user_id != user_id:
            raise NotFound("No asset with this id.")
        return AssetRead(record, self._links.for_user(asset_id, record.key))

    async def signed(self, asset_id: str, expires: str, signature: str) -> AssetRead:
        """The asset a signed link names; any link not signed by us, or expired, is 403."""
        if not self._signed.valid("GET", asset_id, expires, signature):
            raise Forbidden(LINK_REFUSED)
        record = await self._record(asset_id)
        if record is None:
            raise Forbidden(LINK_REFUSED)
        return AssetRead(record, self._links.for_user(asset_id, record.key))

    def content(self, read: AssetRead) -> AsyncIterator[bytes]:
        """The image's bytes, streamed from the storage."""
        return self._storage.read(read.record.key)

    async def receive_upload(
        self,
        asset_id: str,
        key: str,
        media_type: str,
        link: tuple[str, str],
        body: AsyncIterator[bytes],
    ) -> None:
        """A worker's PUT to an upload target of the local store (S3 checks its own links):
        the link first, then the bytes, stored as they arrive; the callback that names them is
        where they are checked."""
        expires, signature = link
        if not self._signed.valid("PUT", asset_id, expires, signature, f"{key}\n{media_type}"):
            raise Forbidden(LINK_REFUSED)
        data = bytearray()
        async for chunk in body:
            data += chunk
            if len(data) > self._max_asset_bytes:
                raise TooLarge(f"An image may be at most {self._max_asset_bytes} bytes.")
        await within_storage_bound(self._storage.put(key, bytes(data), media_type))

    async def _record(self, asset_id: str) -> AssetRecord | None:
        async with self._uow(read_only=True) as uow:
            return await uow.assets.get(asset_id)

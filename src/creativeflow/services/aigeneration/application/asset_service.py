"""Uploads and reads of the user's images (contract §6): `POST /assets`, `GET /assets/{id}`,
and its content behind a bearer token or a signed link."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ..domain.models import AssetInfo
from ..domain.models.asset_info import MEDIA_TYPES
from .assets import AssetLinks, Link, staging_key, upload_key, within_storage_bound
from .errors import Forbidden, NotFound, TooLarge, UploadRefused
from .ports import (
    AssetRecord,
    AssetStorage,
    Clock,
    OpenedObject,
    SignedLinks,
    UnitOfWorkFactory,
    UploadCleaner,
)

LINK_REFUSED = "This link is not valid, or has expired."


@dataclass(frozen=True)
class SignedLink:
    """The parameters of a signed link as they arrived (checked strictly: anything odd is 403)."""

    expires: str
    signature: str
    request_id: str = ""  # an upload target's: the request and job it belongs to
    job_id: str = ""


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
        max_upload_bytes: int,
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._links = links
        self._signed = signed
        self._cleaner = cleaner
        self._clock = clock
        self._new_id = new_id
        self._max_asset_bytes = max_asset_bytes
        self.max_upload_bytes = max_upload_bytes  # POST /assets (MAX_UPLOAD_BYTES)

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

    async def signed(self, asset_id: str, link: SignedLink) -> AssetRead:
        """The asset a signed link names; any link not signed by us, or expired, is 403."""
        if not self.link_verifies("GET", asset_id, link):
            raise Forbidden(LINK_REFUSED)
        record = await self._record(asset_id)
        if record is None:
            raise Forbidden(LINK_REFUSED)
        return AssetRead(record, self._links.for_user(asset_id, record.key))

    def link_verifies(self, method: str, asset_id: str, link: SignedLink) -> bool:
        """Whether a link to `asset_id` is one this service signed and has not expired: an
        image's (GET) or an upload target's (PUT, bound to its request and job)."""
        bound = f"{link.request_id}\n{link.job_id}" if method == "PUT" else ""
        return self._signed.valid(method, asset_id, link.expires, link.signature, bound)

    async def content(self, read: AssetRead) -> OpenedObject:
        """The image's bytes, streamed from the storage, with the length the storage reports."""
        try:
            return await within_storage_bound(self._storage.open(read.record.key))
        except FileNotFoundError:  # its request was deleted, or past retention, meanwhile
            raise NotFound("The image of this asset is no longer stored.") from None

    async def receive_upload(
        self, asset_id: str, link: SignedLink, body: AsyncIterator[bytes]
    ) -> None:
        """A worker's PUT to an upload target of the local store (S3 checks its own links):
        the link first, then whether its job still renders, then the bytes, written once to
        the target's staging key (the same bytes again are a retry, and fine). The callback
        that names them is where they are checked and delivered."""
        if not self.link_verifies("PUT", asset_id, link):
            raise Forbidden(LINK_REFUSED)
        async with self._uow(read_only=True) as uow:
            request = await uow.requests.get(link.request_id)
        job = request.find_job(link.job_id) if request is not None else None
        if request is None or job is None or asset_id not in job.output_ids:
            raise Forbidden(LINK_REFUSED)
        if not request.renders(job.job_id):
            raise UploadRefused("This upload target's job is no longer in flight.")
        data = bytearray()
        async for chunk in body:
            data += chunk
            if len(data) > self._max_asset_bytes:
                raise TooLarge(f"An image may be at most {self._max_asset_bytes} bytes.")
        key = staging_key(request, asset_id, job.output_format)
        media_type = MEDIA_TYPES[job.output_format]
        if await within_storage_bound(self._storage.put_new(key, bytes(data), media_type)):
            return
        there = await within_storage_bound(self._storage.inspect(key, self._max_asset_bytes))
        if there is None or there.sha256 != hashlib.sha256(data).hexdigest():
            raise UploadRefused("This upload target has been written already.")

    async def _record(self, asset_id: str) -> AssetRecord | None:
        async with self._uow(read_only=True) as uow:
            return await uow.assets.get(asset_id)

"""Images the service holds (contract §6): where each is stored, the expiring links to it, and
the check every image a worker reports must pass before a callback applies."""

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from ..domain.errors import InvalidOutput
from ..domain.events import DomainEvent, FinalAssetReady, ImagesReleased, SamplesReady
from ..domain.models import AssetInfo, GenerationRequest, InputImage, Job
from ..domain.models.asset_info import MEDIA_TYPES
from .errors import DependencyUnavailable, Unfetchable
from .ports import (
    AssetRecord,
    AssetStorage,
    Clock,
    LoadedObject,
    RemoteImages,
    UploadSlot,
)

# Upload targets and input links outlive the job's deadline by this much (contract §6).
LINK_GRACE = timedelta(minutes=10)
# A storage that does not answer within this is unavailable: the caller is answered 503.
STORAGE_CHECK_SECONDS = 10.0
T = TypeVar("T")


async def within_storage_bound(operation: Awaitable[T]) -> T:
    """A storage call that gives up within STORAGE_CHECK_SECONDS (n8n and clients retry a 503)."""
    try:
        async with asyncio.timeout(STORAGE_CHECK_SECONDS):
            return await operation
    except TimeoutError:
        raise DependencyUnavailable(
            "The asset storage did not answer in time.", retry_after_seconds=5
        ) from None


@functools.lru_cache(maxsize=4096)  # every read mints a link per image: hash each user once
def user_folder(user_id: str) -> str:
    """Keys carry a hash of the user, not the id itself (ids may be e-mail addresses)."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:24]


def output_key(request: GenerationRequest, asset_id: str, fmt: str) -> str:
    return f"{user_folder(request.user_id)}/{request.id}/{asset_id}.{fmt}"


def staging_key(request: GenerationRequest, asset_id: str, fmt: str) -> str:
    """Where a job's upload target writes `asset_id`: never served. The callback's check
    copies the bytes it checked to the output key, which no upload target can write, so what
    a user is served is byte for byte what was checked however often a target is used again.
    One prefix for all, so a bucket's lifecycle rule can expire what no callback claimed."""
    return f"staging/{output_key(request, asset_id, fmt)}"


def upload_key(user_id: str, asset_id: str, fmt: str) -> str:
    return f"{user_folder(user_id)}/uploads/{asset_id}.{fmt}"


def input_key(user_id: str, image: InputImage) -> str:
    return image.key or upload_key(user_id, image.asset_id, image.format)


def new_asset_records(
    request: GenerationRequest, events: Sequence[DomainEvent], now: datetime
) -> list[AssetRecord]:
    """The images a change delivered, as rows of the assets table (written in its transaction)."""
    delivered: list[tuple[str, AssetInfo]] = []
    for event in events:
        if isinstance(event, SamplesReady):
            delivered += [("sample", sample) for sample in request.samples]
        elif isinstance(event, FinalAssetReady) and request.final_asset is not None:
            delivered.append(("final", request.final_asset))
    return [
        AssetRecord(
            info=info,
            user_id=request.user_id,
            kind=kind,
            key=output_key(request, info.asset_id, info.format),
            created_at=now,
            request_id=request.id,
        )
        for kind, info in delivered
    ]


def removed_asset_ids(events: Sequence[DomainEvent]) -> list[str]:
    """The rows of the assets table a change lets go of (deleted, or past retention)."""
    return [
        asset_id
        for event in events
        if isinstance(event, ImagesReleased)
        for asset_id, _ in event.images
    ]


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime


class AssetLinks:
    """Mints links to stored images: valid ASSET_URL_TTL_SECONDS for users, until the job's
    deadline plus LINK_GRACE for workers. Minting is local: reads work while storage is down."""

    def __init__(self, storage: AssetStorage, clock: Clock, ttl: timedelta) -> None:
        self._storage = storage
        self._clock = clock
        self._ttl = ttl

    def for_user(self, asset_id: str, key: str) -> Link:
        # whole seconds, so the expiry shown and the one signed are the same instant
        expires = self._clock.now().replace(microsecond=0) + self._ttl
        return Link(self._storage.download_link(asset_id, key, expires), expires)

    def for_job(self, asset_id: str, key: str, job: Job) -> str:
        return self._storage.download_link(asset_id, key, self._job_expiry(job))

    def upload_for_job(self, request: GenerationRequest, asset_id: str, job: Job) -> str:
        fmt = job.output_format
        slot = UploadSlot(
            asset_id, staging_key(request, asset_id, fmt), MEDIA_TYPES[fmt], request.id, job.job_id
        )
        return self._storage.upload_link(slot, self._job_expiry(job))

    def _job_expiry(self, job: Job) -> datetime:
        deadline = job.deadline or self._clock.now()
        return deadline.replace(microsecond=0) + LINK_GRACE


@dataclass(frozen=True)
class ReportedImage:
    """One image a callback names: an output id of the job (v2, n8n uploaded it), or a URL to
    download it from (v1)."""

    asset_id: str | None = None
    url: str | None = None
    seed: int | None = None


class OutputCheck:
    """Before a callback applies: each image it names is in storage, of the job's format and
    exactly its pixel size, within MAX_ASSET_BYTES. A v1 URL is downloaded and stored under the
    job's next unused output id first, so no provider URL is ever handed to users."""

    def __init__(self, storage: AssetStorage, remote: RemoteImages, max_bytes: int) -> None:
        self._storage = storage
        self._remote = remote
        self._max_bytes = max_bytes

    async def verified(
        self, request: GenerationRequest, job: Job, reported: Sequence[ReportedImage]
    ) -> list[AssetInfo]:
        problems: dict[str, str] = {}
        unused = [i for i in job.output_ids if i not in {r.asset_id for r in reported}]
        named = []
        for image in reported:
            if image.asset_id is not None:
                named.append((image.asset_id, image))
            elif unused:
                asset_id = unused.pop(0)
                if reason := await self._store_download(request, job, asset_id, image.url or ""):
                    problems[asset_id] = reason
                else:
                    named.append((asset_id, image))
            else:
                problems[image.url or "?"] = "more images than the job has outputs"
        ids = [asset_id for asset_id, _ in named]
        for asset_id in ids:
            if asset_id not in job.output_ids:
                problems[asset_id] = "is not an output of this job"
            elif ids.count(asset_id) > 1:
                problems[asset_id] = "is named more than once"
        if problems:
            raise InvalidOutput(problems)
        found = await self._found_all(request, job, [asset_id for asset_id, _ in named])
        judged = [
            (asset_id, self._judge(request, job, asset_id, image, stored))
            for (asset_id, image), (stored, _) in zip(named, found, strict=True)
        ]
        problems = {asset_id: why for asset_id, why in judged if isinstance(why, str)}
        if problems:
            looked_at = [a for a, (_, staged) in zip(ids, found, strict=True) if staged]
            await self._discard(request, job, looked_at)
            raise InvalidOutput(problems)
        staged = [
            (asset_id, loaded)
            for (asset_id, _), (loaded, from_target) in zip(named, found, strict=True)
            if from_target and loaded is not None
        ]
        await within_storage_bound(
            asyncio.gather(*(self._deliver(request, job, *each) for each in staged))
        )
        return [asset for _, asset in judged if isinstance(asset, AssetInfo)]

    async def _discard(self, request: GenerationRequest, job: Job, asset_ids: list[str]) -> None:
        """A refused callback empties the upload targets it looked at, so n8n may upload again
        and call back (contract §6): a target holds one image at a time, written once."""
        keys = [staging_key(request, asset_id, job.output_format) for asset_id in asset_ids]
        await within_storage_bound(asyncio.gather(*(self._storage.delete(k) for k in keys)))

    async def _found_all(
        self, request: GenerationRequest, job: Job, asset_ids: list[str]
    ) -> list[tuple[LoadedObject | None, bool]]:
        found = (self._found(request, job, asset_id) for asset_id in asset_ids)
        return list(await within_storage_bound(asyncio.gather(*found)))

    async def _found(
        self, request: GenerationRequest, job: Job, asset_id: str
    ) -> tuple[LoadedObject | None, bool]:
        """The image at the output's upload target (True), else at its output key (False):
        where an earlier check of this callback moved it, or a v1 URL was downloaded to."""
        fmt = job.output_format
        staged = await self._storage.load(staging_key(request, asset_id, fmt), self._max_bytes)
        if staged is not None:
            return staged, True
        return await self._storage.load(output_key(request, asset_id, fmt), self._max_bytes), False

    async def _deliver(
        self, request: GenerationRequest, job: Job, asset_id: str, loaded: LoadedObject
    ) -> None:
        """The checked bytes to the output key, then the upload target's object removed (in
        this order: a retry of the callback after a failure finds them in one or the other)."""
        fmt = job.output_format
        staging, key = staging_key(request, asset_id, fmt), output_key(request, asset_id, fmt)
        await self._storage.deliver(staging, key, loaded, MEDIA_TYPES[fmt])

    def _judge(
        self,
        request: GenerationRequest,
        job: Job,
        asset_id: str,
        image: ReportedImage,
        loaded: LoadedObject | None,
    ) -> AssetInfo | str:
        """The image as it will be recorded, or what is wrong with it."""
        size = request.output_size(job)
        if loaded is None:
            return "nothing was uploaded to its upload target"
        stored = loaded.stored
        if stored.bytes > self._max_bytes:
            return f"is larger than {self._max_bytes} bytes"
        if stored.format != job.output_format:
            found = stored.format or "not a PNG, JPEG or WebP image"
            return f"is {found}, the job asked for {job.output_format}"
        if (stored.width, stored.height) != (size.width, size.height):
            return f"is {stored.width}x{stored.height}, the job asked for {size}"
        return AssetInfo(
            asset_id,
            stored.width,
            stored.height,
            stored.format,
            stored.bytes,
            stored.sha256,
            image.seed,
        )

    async def _store_download(
        self, request: GenerationRequest, job: Job, asset_id: str, url: str
    ) -> str | None:
        """Download a v1 URL into the output's place; the reason when that fails."""
        try:
            data = await self._remote.fetch(url, self._max_bytes)
        except Unfetchable as exc:
            return f"could not be fetched from its URL: {exc}"
        key = output_key(request, asset_id, job.output_format)
        await within_storage_bound(self._storage.put(key, data, MEDIA_TYPES[job.output_format]))
        return None

"""The capabilities the use cases need, named for what they do. Adapters live in infrastructure/."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol, Self

from ..domain.models import AssetInfo
from ..domain.pricing import SubscriptionTier
from ..domain.repositories import GenerationRequestRepository


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class CreditAccount:
    balance: Decimal
    tier: SubscriptionTier


@dataclass(frozen=True)
class Debit:
    user_id: str
    amount: Decimal
    reference: str
    action_type: str
    idempotency_key: str


@dataclass(frozen=True)
class Refund:
    user_id: str
    amount: Decimal
    reference: str
    reason: str
    idempotency_key: str


class CreditGateway(Protocol):
    """Credit service, Odoo or the local ledger. The same idempotency key never moves money twice.

    Raise CreditsDeclined when the balance is short, DependencyUnavailable when unreachable."""

    async def get_account(self, user_id: str) -> CreditAccount: ...

    async def debit(self, debit: Debit) -> None: ...

    async def refund(self, refund: Refund) -> None: ...


class Destination(StrEnum):
    """Where an outbox row goes: the use cases write it, the relay's handlers read it."""

    JOB = "job"
    EVENT = "event"
    NOTIFICATION = "notification"
    REFUND = "refund"
    SETTLE = "settle"
    WEBHOOK = "webhook"
    DELETE_ASSETS = "delete_assets"  # images let go of (deleted or expired): removed from storage


@dataclass(frozen=True)
class OutboxMessage:
    """A side effect to deliver after the commit: a job, an event, a notification, a refund."""

    destination: Destination
    key: str  # stable across retries: receivers dedupe on it
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Outbox(Protocol):
    def add(self, message: OutboxMessage) -> None: ...

    async def sent(self, key: str) -> bool:
        """Whether a message with this key was committed before (refunds are keyed by step)."""


@dataclass(frozen=True)
class AuditEntry:
    """One admin action (contract §8): who, what, on what, why; written with its effect."""

    actor: str
    action: str
    target: str
    reason: str
    correlation_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class AuditLog(Protocol):
    def add(self, entry: AuditEntry) -> None:
        """Stage an entry: written when the unit of work commits, with the action's effect."""


class CallbackReceipts(Protocol):
    """The `webhook-id`s of callbacks already applied: a replay of one is a duplicate."""

    async def add(self, webhook_id: str) -> bool:
        """Records the receipt in the unit of work; False when it was there (a replay)."""


class WebhookUrlPolicy(Protocol):
    async def check(self, url: str) -> None:
        """Raise InvalidValue("webhook_url", ...) for a URL the service must not call."""


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status_code: int | None  # None while the first request is still being processed
    body: dict[str, Any] | None = None
    location: str | None = None


class IdempotencyStore(Protocol):
    """Idempotency-Key records, per user, shared by every replica."""

    async def begin(self, user_id: str, key: str, request_hash: str) -> StoredResponse | None:
        """Claim the key (None), or return what is stored under it."""

    async def complete(self, user_id: str, key: str, response: StoredResponse) -> None: ...

    async def release(self, user_id: str, key: str) -> None:
        """Forget a key whose request failed, so the client may retry with it."""


class TransactionalCredits(Protocol):
    """Credits kept in the service's own database (the local ledger): read and debited in the
    unit of work's own transaction, so they commit or roll back with it. Raise
    CreditsDeclined when short."""

    async def get_account(self, user_id: str) -> CreditAccount: ...

    async def debit(self, debit: Debit) -> None: ...


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


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() rolls everything back."""

    @property
    def requests(self) -> GenerationRequestRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def receipts(self) -> CallbackReceipts: ...

    @property
    def assets(self) -> AssetRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def ledger(self) -> TransactionalCredits | None:
        """Set when credits live in this database: the in-transaction charger debits through
        it (chargers/in_transaction.py); nothing else reads it."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, read_only: bool = False) -> UnitOfWork:
        """`read_only`: for queries only; the adapter may skip the transaction round trips."""


class JobDispatcher(Protocol):
    """Hands a job message to n8n (RabbitMQ) or to the built-in simulator."""

    async def dispatch(self, body: dict[str, Any], headers: dict[str, str]) -> None: ...


class Notifier(Protocol):
    async def notify(self, notification: dict[str, Any]) -> None: ...


class EventPublisher(Protocol):
    async def publish(self, routing_key: str, event: dict[str, Any]) -> None: ...


class StatusChanges(Protocol):
    """Tells waiting answers and live streams that a request may have changed (every replica
    hears it: the database adapter notifies the others)."""

    def subscribe(self, request_id: str) -> AbstractContextManager[asyncio.Event]:
        """An event set whenever the request may have changed; clear it after reading."""


class Metrics(Protocol):
    """What operators watch (prometheus in production; nothing in unit tests)."""

    def request_created(self, format_name: str, tier: str) -> None: ...

    def status_changed(self, old: str | None, new: str) -> None: ...

    def job_round_trip(self, job_type: str, seconds: float) -> None: ...

    def admin_action(self, action: str) -> None: ...

    def callback(self, kind: str, outcome: str) -> None: ...


class NoMetrics:
    def request_created(self, format_name: str, tier: str) -> None:
        pass

    def status_changed(self, old: str | None, new: str) -> None:
        pass

    def job_round_trip(self, job_type: str, seconds: float) -> None:
        pass

    def admin_action(self, action: str) -> None:
        pass

    def callback(self, kind: str, outcome: str) -> None:
        pass


@dataclass(frozen=True)
class GivenUpDelivery:
    """An outbox row the relay gave up on after its retry policy ran out."""

    id: int
    destination: str
    key: str
    attempts: int
    last_error: str | None
    created_at: datetime
    dead_at: datetime


class OutboxOperations(Protocol):
    async def given_up(self, limit: int) -> list[GivenUpDelivery]: ...

    async def redrive(self, row_id: int, entry: AuditEntry) -> bool:
        """Deliver a given-up row again from now, with its audit entry in the same
        transaction; False when there is no such given-up row."""


@dataclass(frozen=True)
class DeadLetter:
    """A job the broker dead-lettered (its delivery limit ran out), as read from the queue."""

    job_id: str
    request_id: str | None
    job_type: str | None
    reason: str | None  # the broker's: delivery_limit, rejected, expired
    deaths: int


class DeadLetters(Protocol):
    async def depth(self) -> int:
        """How many jobs wait in the dead-letter queue."""

    async def peek(self, limit: int) -> list[DeadLetter]:
        """Read without taking: every message stays in the dead-letter queue."""

    async def settle(
        self, job_id: str, redrive: Callable[[DeadLetter], Awaitable[bool]]
    ) -> DeadLetter | None:
        """Take `job_id` out of the dead-letter queue, publishing it to the job queue again
        first when `redrive(letter)` says so; None when it is not there."""

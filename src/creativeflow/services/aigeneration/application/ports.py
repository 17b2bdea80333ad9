"""The capabilities the use cases need, named for what they do. Adapters live in infrastructure/."""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol, Self

from ..domain.pricing import SubscriptionTier
from ..domain.repositories import GenerationRequestRepository
from .image_ports import (
    AssetRecord as AssetRecord,
)
from .image_ports import (
    AssetRepository as AssetRepository,
)
from .image_ports import (
    AssetStorage as AssetStorage,
)
from .image_ports import (
    CleanImage as CleanImage,
)
from .image_ports import (
    LoadedObject as LoadedObject,
)
from .image_ports import (
    OpenedObject as OpenedObject,
)
from .image_ports import (
    RemoteImages as RemoteImages,
)
from .image_ports import (
    SignedLinks as SignedLinks,
)

# the image ports live in image_ports.py; every port is named here too
from .image_ports import (
    StoredObject as StoredObject,
)
from .image_ports import (
    UploadCleaner as UploadCleaner,
)
from .image_ports import (
    UploadSlot as UploadSlot,
)


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

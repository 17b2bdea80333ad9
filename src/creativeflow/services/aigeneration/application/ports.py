"""The capabilities the use cases need, named for what they do. Adapters live in infrastructure/."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol, Self

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


@dataclass(frozen=True)
class OutboxMessage:
    """A side effect to deliver after the commit: a job, an event, a notification, a refund."""

    destination: str
    key: str  # stable across retries: receivers dedupe on it
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Outbox(Protocol):
    def add(self, message: OutboxMessage) -> None: ...


class CallbackReceipts(Protocol):
    """The `webhook-id`s of callbacks already applied: a replay of one is a duplicate."""

    async def seen(self, webhook_id: str) -> bool: ...

    async def add(self, webhook_id: str) -> None: ...


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
    def ledger(self) -> TransactionalCredits | None:
        """Set when credits live in this database: a step is then charged and dispatched in
        one transaction instead of the saga's three."""

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


class Metrics(Protocol):
    """What operators watch (prometheus in production; nothing in unit tests)."""

    def request_created(self, format_name: str, tier: str) -> None: ...

    def status_changed(self, old: str | None, new: str) -> None: ...

    def job_round_trip(self, job_type: str, seconds: float) -> None: ...


class NoMetrics:
    def request_created(self, format_name: str, tier: str) -> None:
        pass

    def status_changed(self, old: str | None, new: str) -> None:
        pass

    def job_round_trip(self, job_type: str, seconds: float) -> None:
        pass

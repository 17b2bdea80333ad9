"""In-memory fakes of our ports (not mocks): they behave like the real adapters."""

import copy
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Self

from creativeflow.services.aigeneration.application.errors import (
    CreditsDeclined,
    DependencyUnavailable,
    Unfetchable,
)
from creativeflow.services.aigeneration.application.ports import (
    AssetRecord,
    AuditEntry,
    CreditAccount,
    Debit,
    LoadedObject,
    OpenedObject,
    OutboxMessage,
    Refund,
    StoredObject,
    UploadSlot,
)
from creativeflow.services.aigeneration.application.unit_of_work import (
    CommitStaging,
    StagingUnitOfWork,
)
from creativeflow.services.aigeneration.domain.models import GenerationRequest, GenerationStatus
from creativeflow.services.aigeneration.domain.pricing import SubscriptionTier
from creativeflow.services.aigeneration.domain.repositories import (
    ConcurrentUpdate,
    GenerationRequestRepository,
    ListQuery,
)
from creativeflow.services.aigeneration.infrastructure.storage.image_probe import probe

from .builders import T0


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class FakeDatabase:
    requests: dict[str, GenerationRequest] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    receipts: set[str] = field(default_factory=set)
    assets: dict[str, AssetRecord] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    commits: int = 0


class FakeRepository(GenerationRequestRepository):
    """Reads committed state; writes stay pending until the unit of work commits."""

    def __init__(self, db: FakeDatabase) -> None:
        super().__init__()
        self._db = db
        self.pending: dict[str, GenerationRequest] = {}

    async def _insert(self, request: GenerationRequest) -> None:
        self.pending[request.id] = copy.deepcopy(request)

    async def get(self, request_id: str) -> GenerationRequest | None:
        found = self.pending.get(request_id) or self._db.requests.get(request_id)
        return copy.deepcopy(found)

    async def _get_for_update(self, request_id: str) -> GenerationRequest | None:
        return await self.get(request_id)

    async def _update(self, request: GenerationRequest) -> None:
        stored = self._db.requests.get(request.id)
        if stored is not None and stored.version != request.version:
            raise ConcurrentUpdate(request.id)
        request.version += 1
        self.pending[request.id] = copy.deepcopy(request)

    async def list_for_user(self, query: ListQuery) -> list[GenerationRequest]:
        mine = [r for r in self._db.requests.values() if r.user_id == query.user_id]
        if query.project_id is not None:
            mine = [r for r in mine if r.project_id == query.project_id]
        if query.after is not None:
            mine = [r for r in mine if (r.created_at, r.id) < query.after]
        if query.status is not None:
            mine = [r for r in mine if r.status == query.status]
        else:
            mine = [r for r in mine if r.status != GenerationStatus.DELETED]
        mine.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return copy.deepcopy(mine[: query.limit])

    async def count_active(self, user_id: str) -> int:
        return sum(
            1 for r in self._db.requests.values() if r.user_id == user_id and r.status.is_processing
        )

    async def lock_user(self, user_id: str) -> None:
        pass  # one task at a time in these tests

    async def ids_stalled(
        self, statuses: frozenset[GenerationStatus], updated_before: datetime, limit: int
    ) -> list[str]:
        return [
            r.id
            for r in self._db.requests.values()
            if r.status in statuses and r.updated_at < updated_before
        ][:limit]

    async def ids_overdue(self, now: datetime, limit: int) -> list[str]:
        return [
            r.id
            for r in self._db.requests.values()
            if r.current_job and r.current_job.deadline and r.current_job.deadline < now
        ][:limit]

    async def ids_created_before(
        self, before: datetime, limit: int, *, noticed: bool | None = None
    ) -> list[str]:
        found = [
            r
            for r in self._db.requests.values()
            if r.created_at < before
            and r.assets_expired_at is None
            and r.status != GenerationStatus.DELETED
            and (noticed is not False or r.retention_notice_at is None)
        ]
        found.sort(key=lambda r: r.created_at)
        return [r.id for r in found[:limit]]


class FakeReceipts:
    def __init__(self, db: "FakeDatabase") -> None:
        self._db = db
        self.pending: set[str] = set()

    async def add(self, webhook_id: str) -> bool:
        if webhook_id in self._db.receipts or webhook_id in self.pending:
            return False
        self.pending.add(webhook_id)
        return True


class FakeAssets:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self.pending: list[AssetRecord] = []
        self.removed: list[str] = []

    def add(self, record: AssetRecord) -> None:
        self.pending.append(record)

    def remove(self, asset_ids: Sequence[str]) -> None:
        self.removed += asset_ids

    async def uploads_of(self, user_id: str) -> list[AssetRecord]:
        return [r for r in self._db.assets.values() if r.user_id == user_id and not r.request_id]

    async def get(self, asset_id: str) -> AssetRecord | None:
        return self._db.assets.get(asset_id)

    async def owned(self, user_id: str, asset_ids: Sequence[str]) -> list[AssetRecord]:
        found = [self._db.assets.get(asset_id) for asset_id in asset_ids]
        return [r for r in found if r is not None and r.user_id == user_id]


class FakeAssetStorage:
    """An object store in memory that reads what it holds like the real adapter does: the
    image type and size from the bytes' header, the length and the SHA-256."""

    redirects = True

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.down = False

    async def put(self, key: str, data: bytes, media_type: str) -> None:
        self._check_up()
        self.objects[key] = data

    async def put_new(self, key: str, data: bytes, media_type: str) -> bool:
        self._check_up()
        if key in self.objects:
            return False
        self.objects[key] = data
        return True

    async def inspect(self, key: str, max_bytes: int) -> StoredObject | None:
        loaded = await self.load(key, max_bytes)
        return loaded.stored if loaded is not None else None

    async def load(self, key: str, max_bytes: int) -> LoadedObject | None:
        self._check_up()
        data = self.objects.get(key)
        if data is None:
            return None
        if len(data) > max_bytes:
            return LoadedObject(StoredObject(None, 0, 0, len(data), ""), b"")
        header = probe(data[: 256 * 1024])
        digest = hashlib.sha256(data).hexdigest()
        if header is None:
            return LoadedObject(StoredObject(None, 0, 0, len(data), digest), data)
        stored = StoredObject(header.format, header.width, header.height, len(data), digest)
        return LoadedObject(stored, data)

    async def deliver(self, staging: str, key: str, checked: LoadedObject, media_type: str) -> None:
        await self.put(key, checked.data, media_type)
        await self.delete(staging)

    async def open(self, key: str) -> OpenedObject:
        self._check_up()
        if key not in self.objects:
            raise FileNotFoundError(key)
        data = self.objects[key]

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        return OpenedObject(len(data), chunks())

    async def delete(self, key: str) -> None:
        self._check_up()
        self.objects.pop(key, None)

    def download_link(self, asset_id: str, key: str, expires_at: datetime) -> str:
        return f"https://storage.test/{key}?expires={int(expires_at.timestamp())}"

    def upload_link(self, slot: UploadSlot, expires_at: datetime) -> str:
        return f"https://storage.test/{slot.key}?upload&expires={int(expires_at.timestamp())}"

    async def check(self) -> bool:
        return not self.down

    def _check_up(self) -> None:
        if self.down:
            raise DependencyUnavailable("storage down")


class FakeRemoteImages:
    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        if url not in self.images:
            raise Unfetchable("answered 404")
        return self.images[url]


class FakeOutbox:
    def __init__(self, db: "FakeDatabase") -> None:
        self._db = db
        self.messages: list[OutboxMessage] = []

    def add(self, message: OutboxMessage) -> None:
        self.messages.append(message)

    async def sent(self, key: str) -> bool:
        return any(m.key == key for m in [*self._db.outbox, *self.messages])


class FakeAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def add(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class FakeLedgerInTransaction:
    """Local credits: debits wait for the unit of work's commit and vanish with a rollback."""

    def __init__(self, credits: "FakeCreditGateway") -> None:
        self._credits = credits
        self.pending: list[Debit] = []

    async def get_account(self, user_id: str) -> CreditAccount:
        return await self._credits.get_account(user_id)

    async def debit(self, debit: Debit) -> None:
        balance = self._credits.balances.setdefault(debit.user_id, self._credits.starting_balance)
        if self._credits.decline_next_debit or balance < debit.amount:
            self._credits.decline_next_debit = False
            raise CreditsDeclined(debit.user_id)
        self.pending.append(debit)

    async def apply(self) -> None:
        for debit in self.pending:
            await self._credits.debit(debit)


class FakeUnitOfWork(StagingUnitOfWork):
    """Stages at commit like the database adapter (the shared base), then keeps the rows."""

    def __init__(
        self,
        db: FakeDatabase,
        staging: CommitStaging | None = None,
        local_credits: "FakeCreditGateway | None" = None,
    ) -> None:
        super().__init__(staging)
        self._db = db
        self._local_credits = local_credits

    async def __aenter__(self) -> Self:
        self.requests = FakeRepository(self._db)
        self.outbox = FakeOutbox(self._db)
        self.audit = FakeAudit()
        self.receipts = FakeReceipts(self._db)
        self.assets = FakeAssets(self._db)
        # with local credits the use cases charge inside the transaction; else the saga
        self.ledger = FakeLedgerInTransaction(self._local_credits) if self._local_credits else None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass  # whatever was not committed is dropped with this object

    async def _commit(self) -> None:
        if self.ledger is not None:
            await self.ledger.apply()
        for request in self.requests.pending.values():
            request.events = []
            self._db.requests[request.id] = copy.deepcopy(request)
        self._db.outbox.extend(self.outbox.messages)
        self._db.audit.extend(self.audit.entries)
        self._db.receipts |= self.receipts.pending
        self._db.assets.update({r.info.asset_id: r for r in self.assets.pending})
        for asset_id in self.assets.removed:
            self._db.assets.pop(asset_id, None)
        self._db.commits += 1
        self.requests.pending.clear()
        self.outbox.messages = []
        self.audit.entries = []
        self.assets.pending, self.assets.removed = [], []


class FakeCreditGateway:
    def __init__(self, balance: Decimal = Decimal(10)) -> None:
        self.starting_balance = balance
        self.balances: dict[str, Decimal] = {}
        self.tiers: dict[str, SubscriptionTier] = {}
        self.ledger: dict[str, Decimal] = {}  # idempotency key -> signed amount
        self.down = False
        self.decline_next_debit = False
        self.lose_next_debit_answer = False  # applied, but the caller hears a timeout

    async def get_account(self, user_id: str) -> CreditAccount:
        self._check_up()
        balance = self.balances.setdefault(user_id, self.starting_balance)
        return CreditAccount(balance, self.tiers.get(user_id, SubscriptionTier.FREE))

    async def debit(self, debit: Debit) -> None:
        self._check_up()
        if debit.idempotency_key in self.ledger:
            return
        balance = self.balances.setdefault(debit.user_id, self.starting_balance)
        if self.decline_next_debit or balance < debit.amount:
            self.decline_next_debit = False
            raise CreditsDeclined(debit.user_id)
        self.balances[debit.user_id] = balance - debit.amount
        self.ledger[debit.idempotency_key] = -debit.amount
        if self.lose_next_debit_answer:
            self.lose_next_debit_answer = False
            raise DependencyUnavailable("no answer", maybe_applied=True)

    async def refund(self, refund: Refund) -> None:
        self._check_up()
        if refund.idempotency_key in self.ledger:
            return
        self.balances[refund.user_id] += refund.amount
        self.ledger[refund.idempotency_key] = refund.amount

    def _check_up(self) -> None:
        if self.down:
            raise DependencyUnavailable("credit service down")

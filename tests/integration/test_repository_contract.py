"""One contract for every unit of work: the in-memory fake the unit tests use, SQLAlchemy on
SQLite, and asyncpg on PostgreSQL (database/runners.py). Each test runs on all three (the ledger
on the two databases), so a rule of the repositories lives in one place and holds everywhere."""

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from creativeflow.services.aigeneration.application.assets import AssetLinks
from creativeflow.services.aigeneration.application.dtos import CallbackUrls, OrchestrationConfig
from creativeflow.services.aigeneration.application.errors import CreditsDeclined
from creativeflow.services.aigeneration.application.model_selector import ModelSelector
from creativeflow.services.aigeneration.application.ports import (
    AssetRecord,
    Debit,
    OutboxMessage,
    Refund,
)
from creativeflow.services.aigeneration.application.unit_of_work import CommitStaging
from creativeflow.services.aigeneration.domain.models import (
    AssetInfo,
    GenerationRequest,
    GenerationStatus,
)
from creativeflow.services.aigeneration.domain.repositories import ConcurrentUpdate, ListQuery
from creativeflow.services.aigeneration.infrastructure.clients.local_ledger import LocalLedger
from creativeflow.services.aigeneration.infrastructure.database.db_config import create_engine
from creativeflow.services.aigeneration.infrastructure.repositories.sqla_unit_of_work import (
    unit_of_work_factory,
)

from .. import builders
from ..builders import T0
from ..fakes import FakeAssetStorage, FakeClock, FakeDatabase, FakeUnitOfWork
from .conftest import prepare

Factory = Callable[..., Any]
URLS = CallbackUrls("http://cb/samples", "http://cb/final", "http://cb/error")


def staging(clock: FakeClock) -> CommitStaging:
    links = AssetLinks(FakeAssetStorage(), clock, timedelta(seconds=900))
    return CommitStaging(OrchestrationConfig(URLS, ModelSelector("model-x")), links, clock)


def url_of(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}"
    if backend == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return "memory"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """ "memory", or the database's URL."""
    return url_of(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return url_of(request.param, request, tmp_path)


@pytest.fixture
async def units(backend: str) -> AsyncIterator[Factory]:
    """A factory of units of work (`read_only=True` for a read) on one backend."""
    clock = FakeClock()
    if backend == "memory":
        db = FakeDatabase()
        yield lambda read_only=False: FakeUnitOfWork(db, staging(clock))
        return
    async with database_units(backend, clock) as factory:
        yield factory


@pytest.fixture
async def ledger_units(database: str) -> AsyncIterator[Factory]:
    """As `units`, on the databases only: the fake's ledger is the fake credit gateway's."""
    async with database_units(database, FakeClock()) as factory:
        yield factory


@asynccontextmanager
async def database_units(url: str, clock: FakeClock) -> AsyncIterator[Factory]:
    engine = create_engine(await prepare(url))
    ledger = LocalLedger(engine, clock, Decimal(10))
    try:
        yield unit_of_work_factory(engine, clock, staging(clock), ledger=ledger.book)
    finally:
        await engine.dispose()


def new_request(
    n: int, user: str = "ana", project: str = "p1", minutes: int = 0
) -> GenerationRequest:
    return GenerationRequest.create(
        request_id=f"req-{n:03d}",
        user_id=user,
        project_id=project,
        parameters=builders.parameters(),
        now=T0 + timedelta(minutes=minutes),
    )


async def store(units: Factory, *requests: GenerationRequest) -> None:
    """The requests as they are, without the side effects of how they got there."""
    async with units() as uow:
        for request in requests:
            request.pull_events()
            await uow.requests.add(request)
        await uow.commit()


def fields(request: GenerationRequest) -> dict[str, Any]:
    """What a request holds, without what only the unit of work's bookkeeping changes."""
    return {k: v for k, v in dataclasses.asdict(request).items() if k not in ("events", "version")}


async def test_a_request_reads_back_as_it_was_written_in_every_status(units: Factory) -> None:
    written = []
    for n, build in enumerate(builders.BUILDERS.values()):
        request = build()
        request.id = f"req-{n:03d}"
        written.append(request)
    await store(units, *written)
    async with units(read_only=True) as uow:
        for request in written:
            loaded = await uow.requests.get(request.id)
            assert loaded is not None
            assert fields(loaded) == fields(request), request.status


async def test_a_change_is_written_once_and_a_stale_one_is_refused(units: Factory) -> None:
    await store(units, builders.processing_samples())
    async with units() as uow:
        request = await uow.requests.get_for_update("req-1")
        assert request is not None
        request.apply_samples("job-1", builders.samples(), "model-a", T0 + timedelta(seconds=5))
        await uow.commit()
    async with units() as uow:
        stale = await uow.requests.get(builders.processing_samples().id)
        assert stale is not None and stale.status is GenerationStatus.AWAITING_SELECTION
        stale.version -= 1  # as if loaded before the change above
        uow.requests.seen[stale.id] = stale
        uow.requests.status_at_load[stale.id] = stale.status
        with pytest.raises(ConcurrentUpdate):
            await uow.commit()
    async with units(read_only=True) as uow:
        stored = await uow.requests.get("req-1")
        assert stored is not None and stored.status is GenerationStatus.AWAITING_SELECTION


async def test_what_is_not_committed_is_not_kept(units: Factory) -> None:
    async with units() as uow:
        await uow.requests.add(new_request(1))
        uow.outbox.add(OutboxMessage("job", "key-1", {"n": 1}, {}))
    async with units(read_only=True) as uow:
        assert await uow.requests.get("req-001") is None
        assert not await uow.outbox.sent("key-1")


async def test_the_list_is_newest_first_by_filter_and_keyset(units: Factory) -> None:
    requests = [new_request(n, project="p1" if n % 2 else "p2", minutes=n) for n in range(6)]
    requests.append(new_request(6, user="ben", minutes=6))
    gone = builders.deleted()
    gone.id, gone.user_id = "req-099", "ana"
    await store(units, *requests, gone)
    async with units(read_only=True) as uow:

        async def ids(**query: Any) -> list[str]:
            found = await uow.requests.list_for_user(ListQuery("ana", **query))
            return [r.id for r in found]

        assert await ids(limit=3) == ["req-005", "req-004", "req-003"]
        last = requests[3]
        assert await ids(limit=10, after=(last.created_at, last.id)) == [
            "req-002",
            "req-001",
            "req-000",
        ]
        assert await ids(limit=10, project_id="p2") == ["req-004", "req-002", "req-000"]
        assert await ids(limit=10, status=GenerationStatus.DELETED) == ["req-099"]
        assert "req-099" not in await ids(limit=10)


async def test_only_requests_at_work_count_as_active(units: Factory) -> None:
    at_work = builders.processing_samples()
    waiting = builders.awaiting_selection()
    waiting.id = "req-2"
    others = builders.processing_final()
    others.id, others.user_id = "req-3", "ben"
    await store(units, at_work, waiting, others)
    async with units() as uow:
        await uow.requests.lock_user("alice")
        assert await uow.requests.count_active("alice") == 1


async def test_sweeps_find_stalled_overdue_and_old_requests(units: Factory) -> None:
    stalled = builders.validating_credits()  # updated at T0, still validating
    overdue = builders.processing_samples()  # its job's deadline is T0 + 2 min
    overdue.id = "req-2"
    await store(units, stalled, overdue)
    later = T0 + timedelta(minutes=5)
    async with units(read_only=True) as uow:
        statuses = frozenset({GenerationStatus.VALIDATING_CREDITS})
        assert await uow.requests.ids_stalled(statuses, later, 10) == ["req-1"]
        assert await uow.requests.ids_overdue(later, 10) == ["req-2"]
        assert sorted(await uow.requests.ids_created_before(later, 10)) == ["req-1", "req-2"]
        assert await uow.requests.ids_created_before(T0, 10) == []


async def test_a_receipt_is_new_once(units: Factory) -> None:
    async with units() as uow:
        assert await uow.receipts.add("msg-1")
        await uow.commit()
    async with units() as uow:
        assert not await uow.receipts.add("msg-1")
        assert await uow.receipts.add("msg-2")


async def test_outbox_rows_and_assets_are_kept_at_commit(units: Factory) -> None:
    info = AssetInfo("asset-1", 512, 512, "png", 1000, "ab" * 32, seed=7)
    upload = AssetInfo("asset-2", 64, 64, "png", 10, "cd" * 32)
    async with units() as uow:
        uow.outbox.add(OutboxMessage("job", "key-1", {"n": 1}, {"type": "t"}))
        assert await uow.outbox.sent("key-1")  # in this transaction already
        uow.assets.add(AssetRecord(info, "ana", "sample", "k/asset-1.png", T0, "req-1"))
        uow.assets.add(AssetRecord(upload, "ana", "input", "k/asset-2.png", T0))
        await uow.commit()
    async with units() as uow:
        assert await uow.outbox.sent("key-1")
        stored = await uow.assets.get("asset-1")
        assert stored == AssetRecord(info, "ana", "sample", "k/asset-1.png", T0, "req-1")
        assert [r.info.asset_id for r in await uow.assets.owned("ana", ["asset-1", "x"])] == [
            "asset-1"
        ]
        assert [r.info.asset_id for r in await uow.assets.uploads_of("ana")] == ["asset-2"]
        uow.assets.remove(["asset-1", "asset-2"])
        await uow.commit()
    async with units(read_only=True) as uow:
        assert await uow.assets.get("asset-1") is None
        assert await uow.assets.owned("ana", ["asset-1", "asset-2"]) == []


async def test_the_ledger_in_the_transaction_moves_money_once(ledger_units: Factory) -> None:
    units = ledger_units
    async with units() as uow:
        assert (await uow.ledger.get_account("ana")).balance == Decimal(10)
        debit = Debit("ana", Decimal("0.25"), "req-1", "samples", "debit-1")
        await uow.ledger.debit(debit)
        await uow.ledger.debit(debit)  # the same key: nothing more
        await uow.commit()
    async with units() as uow:
        assert (await uow.ledger.get_account("ana")).balance == Decimal("9.75")
        with pytest.raises(CreditsDeclined):
            await uow.ledger.debit(Debit("ana", Decimal(100), "req-2", "samples", "debit-2"))
    async with units() as uow:
        await uow.ledger.refund(Refund("ana", Decimal("0.25"), "req-1", "failed", "refund-1"))
        await uow.ledger.refund(Refund("ana", Decimal("0.25"), "req-1", "failed", "refund-1"))
        await uow.commit()
    async with units(read_only=True) as uow:
        assert (await uow.ledger.get_account("ana")).balance == Decimal(10)

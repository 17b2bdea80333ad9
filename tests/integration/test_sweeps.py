"""The sweeps on SQLite and PostgreSQL, with an injected clock: overdue jobs fail and are
refunded (and their late results ignored); expired receipts and keys are forgotten."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from creativeflow.services.aigeneration.application.assets import (
    AssetLinks,
    OutputCheck,
    ReportedImage,
)
from creativeflow.services.aigeneration.application.chargers.saga import SagaCharger
from creativeflow.services.aigeneration.application.dtos import CreateGeneration, SamplesResult
from creativeflow.services.aigeneration.application.unit_of_work import CommitStaging
from creativeflow.services.aigeneration.composition.root import orchestration_config
from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.domain.models import CallbackOutcome
from creativeflow.services.aigeneration.infrastructure.clients.local_ledger import LocalLedger
from creativeflow.services.aigeneration.infrastructure.database.db_config import create_engine
from creativeflow.services.aigeneration.infrastructure.database.housekeeping import Housekeeping
from creativeflow.services.aigeneration.infrastructure.repositories.sqla_idempotency_store import (
    SqlaIdempotencyStore,
)
from creativeflow.services.aigeneration.infrastructure.repositories.sqla_unit_of_work import (
    SqlaUnitOfWork,
    unit_of_work_factory,
)

from ..builders import parameters
from ..fakes import FakeAssetStorage, FakeClock, FakeRemoteImages
from ..orchestration import UseCases


@dataclass
class Clocked:
    engine: AsyncEngine
    clock: FakeClock
    ledger: LocalLedger
    service: UseCases


@pytest.fixture
async def clocked(empty_database: str) -> AsyncIterator[Clocked]:
    engine = create_engine(empty_database)
    clock = FakeClock()
    ledger = LocalLedger(engine, clock, Decimal(10))
    config = orchestration_config(load_settings(_env_file=None))
    storage = FakeAssetStorage()
    links = AssetLinks(storage, clock, timedelta(seconds=900))
    uow = unit_of_work_factory(engine, clock, CommitStaging(config, links, clock))
    service = UseCases(
        uow,
        SagaCharger(uow, ledger, clock, config),
        clock,
        config,
        OutputCheck(storage, FakeRemoteImages(), 1 << 20),
    )
    yield Clocked(engine, clock, ledger, service)
    await engine.dispose()


async def test_an_overdue_job_fails_as_timeout_is_refunded_and_its_late_result_ignored(
    clocked: Clocked,
) -> None:
    request = await clocked.service.initiate_generation(
        CreateGeneration("alice", "p", parameters())
    )
    job_id = request.jobs[-1].job_id
    clocked.clock.advance(119)
    assert await clocked.service.fail_overdue_requests() == 0
    clocked.clock.advance(2)
    assert await clocked.service.fail_overdue_requests() == 1
    assert await clocked.service.fail_overdue_requests() == 0  # once only

    timed_out = await clocked.service.get_generation_status(request.id, "alice")
    assert (timed_out.status, timed_out.error_code, timed_out.retryable) == (
        "failed",
        "timeout",
        True,
    )
    late = SamplesResult(request.id, job_id, (ReportedImage(asset_id=f"{job_id}-0"),))
    assert await clocked.service.process_n8n_sample_callback(late) is CallbackOutcome.IGNORED

    async with clocked.engine.connect() as connection:
        from sqlalchemy import select

        from creativeflow.services.aigeneration.infrastructure.database.tables import outbox

        refunds = (
            await connection.execute(select(outbox).where(outbox.c.destination == "refund"))
        ).all()
    assert [(r.payload["amount"], r.payload["reason"]) for r in refunds] == [("0.25", "timeout")]


async def test_housekeeping_forgets_only_what_has_expired(clocked: Clocked) -> None:
    store = SqlaIdempotencyStore(clocked.engine, clocked.clock)
    await store.begin("alice", "old-key", "h")
    async with SqlaUnitOfWork(clocked.engine, clocked.clock) as uow:
        await uow.receipts.add("msg_old")
        await uow.commit()
    clocked.clock.advance(timedelta(hours=25).total_seconds())
    await store.begin("alice", "new-key", "h")
    async with SqlaUnitOfWork(clocked.engine, clocked.clock) as uow:
        await uow.receipts.add("msg_new")
        await uow.commit()

    housekeeping = Housekeeping(
        clocked.engine, clocked.clock, timedelta(hours=24), timedelta(hours=168)
    )
    assert await housekeeping.purge() == 2
    assert await store.begin("alice", "old-key", "other") is None  # forgotten: free again
    assert await store.begin("alice", "new-key", "other") is not None
    async with SqlaUnitOfWork(clocked.engine, clocked.clock) as uow:  # not committed
        assert await uow.receipts.add("msg_old")  # forgotten: taken as new
        assert not await uow.receipts.add("msg_new")  # kept: a replay

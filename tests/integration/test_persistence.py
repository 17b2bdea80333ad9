"""The database adapters on SQLite and PostgreSQL: migrations, the ledger, the outbox relay."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from creativeflow.services.aigeneration.application.clock import SystemClock
from creativeflow.services.aigeneration.application.errors import CreditsDeclined
from creativeflow.services.aigeneration.application.ports import Debit, OutboxMessage, Refund
from creativeflow.services.aigeneration.infrastructure.clients.local_ledger import LocalLedger
from creativeflow.services.aigeneration.infrastructure.database.db_config import create_engine
from creativeflow.services.aigeneration.infrastructure.database.tables import metadata, outbox
from creativeflow.services.aigeneration.infrastructure.messaging.outbox_relay import OutboxRelay
from creativeflow.services.aigeneration.infrastructure.messaging.outbox_store import (
    SqlaOutboxStore,
)
from creativeflow.services.aigeneration.infrastructure.repositories.sqla_unit_of_work import (
    SqlaUnitOfWork,
)


async def test_the_migrations_build_exactly_the_tables_the_code_maps(empty_database: str) -> None:
    engine = create_engine(empty_database)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    await engine.dispose()
    assert diff == []


async def test_the_ledger_moves_money_once_per_idempotency_key(empty_database: str) -> None:
    engine = create_engine(empty_database)
    ledger = LocalLedger(engine, SystemClock(), Decimal(10))
    debit = Debit("alice", Decimal("2.5"), "req-1", "generation.final", "req-1:final:1")
    await asyncio.gather(*(ledger.debit(debit) for _ in range(5)))
    assert (await ledger.get_account("alice")).balance == Decimal("7.5")
    refund = Refund("alice", Decimal("2.5"), "req-1", "model_error", "req-1:final:1:refund")
    await ledger.refund(refund)
    await ledger.refund(refund)
    assert (await ledger.get_account("alice")).balance == Decimal(10)
    with pytest.raises(CreditsDeclined):
        await ledger.debit(
            Debit("alice", Decimal(11), "req-2", "generation.final", "req-2:final:1")
        )
    assert (await ledger.get_account("alice")).balance == Decimal(10)
    await engine.dispose()


async def _write_outbox(engine: Any, count: int) -> None:
    async with SqlaUnitOfWork(engine, SystemClock()) as uow:
        for n in range(count):
            uow.outbox.add(OutboxMessage("job", f"job-{n}", {"n": n}))
        await uow.commit()


async def test_the_relay_retries_a_failed_delivery_later_and_delivers_each_row_once(
    empty_database: str,
) -> None:
    engine = create_engine(empty_database)
    await _write_outbox(engine, 5)
    delivered: list[int] = []
    failing = {"first": True}

    async def deliver(row: OutboxMessage) -> None:
        if row.payload["n"] == 3 and failing.pop("first", False):
            raise ConnectionError("receiver down")
        delivered.append(row.payload["n"])

    store = SqlaOutboxStore(engine, SystemClock())
    relay = OutboxRelay(store, {"job": deliver}, SystemClock(), max_backoff=timedelta(seconds=0.2))
    await relay.drain()
    assert sorted(delivered) == [0, 1, 2, 4]  # row 3 waits for its backoff
    await asyncio.sleep(0.25)
    await relay.drain()
    assert sorted(delivered) == [0, 1, 2, 3, 4]
    assert await store.pending_count() == 0
    await engine.dispose()


async def test_two_relays_on_one_database_deliver_each_row_exactly_once(
    empty_database: str,
) -> None:
    engine = create_engine(empty_database)
    await _write_outbox(engine, 200)
    delivered: list[int] = []

    async def deliver(row: OutboxMessage) -> None:
        await asyncio.sleep(0)
        delivered.append(row.payload["n"])

    relays = [
        OutboxRelay(
            SqlaOutboxStore(engine, SystemClock()), {"job": deliver}, SystemClock(), batch_size=7
        )
        for _ in range(2)
    ]
    await asyncio.gather(*(relay.drain() for relay in relays))
    assert sorted(delivered) == list(range(200))
    await engine.dispose()


async def test_the_running_relay_delivers_a_backlog_in_the_order_it_was_written(
    empty_database: str,
) -> None:
    engine = create_engine(empty_database)
    await _write_outbox(engine, 250)
    delivered: list[int] = []
    all_delivered = asyncio.Event()

    async def deliver(row: OutboxMessage) -> None:
        delivered.append(row.payload["n"])
        await asyncio.sleep(0)
        if len(delivered) == 250:
            all_delivered.set()

    store = SqlaOutboxStore(engine, SystemClock())
    relay = OutboxRelay(store, {"job": deliver}, SystemClock(), batch_size=20)
    running = asyncio.create_task(relay.run())
    await asyncio.wait_for(all_delivered.wait(), 30)
    relay.stop()
    await running
    assert delivered == list(range(250))  # batches claimed ahead still go out one by one
    assert await store.pending_count() == 0  # and every batch was marked delivered
    await engine.dispose()


async def test_a_relay_that_stops_delivers_every_row_it_claimed(empty_database: str) -> None:
    engine = create_engine(empty_database)
    await _write_outbox(engine, 100)
    delivered: list[int] = []
    store = SqlaOutboxStore(engine, SystemClock())

    async def deliver(row: OutboxMessage) -> None:
        delivered.append(row.payload["n"])
        if row.payload["n"] == 25:  # in the third batch, with the fourth claimed ahead
            relay.stop()

    relay = OutboxRelay(store, {"job": deliver}, SystemClock(), batch_size=10)
    await asyncio.wait_for(relay.run(), 30)
    assert delivered == list(range(len(delivered)))
    assert len(delivered) >= 30
    leased_undelivered = (
        select(func.count())
        .select_from(outbox)
        .where(outbox.c.delivered_at.is_(None), outbox.c.available_at > SystemClock().now())
    )
    async with engine.connect() as connection:
        assert (await connection.execute(leased_undelivered)).scalar_one() == 0
    assert await store.pending_count() == 100 - len(delivered)
    await engine.dispose()


async def test_a_batch_past_its_deadline_keeps_what_arrived_and_sends_only_the_rest_again(
    empty_database: str,
) -> None:
    engine = create_engine(empty_database)
    await _write_outbox(engine, 6)
    delivered: list[int] = []
    hanging = {"first": True}

    async def deliver(row: OutboxMessage) -> None:
        if row.payload["n"] == 2 and hanging.pop("first", False):
            await asyncio.sleep(60)  # a receiver that never answers this once
        delivered.append(row.payload["n"])

    store = SqlaOutboxStore(engine, SystemClock())
    # the batch's deadline is half the lease: 0.3 s
    relay = OutboxRelay(store, {"job": deliver}, SystemClock(), lease=timedelta(seconds=0.6))
    assert await relay.run_once() == 6
    assert sorted(delivered) == [0, 1, 3, 4, 5]
    assert await store.pending_count() == 1  # only the late one is still to go
    await asyncio.sleep(0.7)  # its lease ends
    await relay.drain()
    assert sorted(delivered) == [0, 1, 2, 3, 4, 5]  # each once
    assert await store.pending_count() == 0
    await engine.dispose()

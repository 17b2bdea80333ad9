"""The outbox's destinations over fakes: what each row does, and the money rule of a settle
(replay the lost debit with its key, then refund it, unless the replay is declined)."""

from decimal import Decimal
from typing import Any

from creativeflow.services.aigeneration.application.credit_moves import to_payload
from creativeflow.services.aigeneration.application.deliveries import Deliveries
from creativeflow.services.aigeneration.application.ports import (
    Debit,
    Destination,
    OutboxMessage,
    Refund,
)

from ..fakes import FakeAssetStorage, FakeCreditGateway

DEBIT = Debit("alice", Decimal(2), "req-1", "generation.final", "req-1:final:1")
REFUND_ = Refund("alice", Decimal(2), "req-1", "model_error", "req-1:final:1:refund")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def dispatch(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.calls.append(("job", body))

    async def publish(self, routing_key: str, event: dict[str, Any]) -> None:
        self.calls.append(("event", routing_key))

    async def notify(self, notification: dict[str, Any]) -> None:
        self.calls.append(("notification", notification))

    async def deliver(self, message: OutboxMessage) -> None:
        self.calls.append(("webhook", message.key))


def deliveries(credits: FakeCreditGateway, storage: FakeAssetStorage, recorder: Recorder) -> Any:
    return Deliveries(recorder, recorder, recorder, credits, recorder, storage).handlers()


SETTLE_ROW = OutboxMessage(
    Destination.SETTLE,
    REFUND_.idempotency_key,
    {"debit": to_payload(DEBIT), "refund": to_payload(REFUND_)},
)


async def test_a_lost_debit_that_went_through_is_refunded_once() -> None:
    credits, recorder = FakeCreditGateway(), Recorder()
    await credits.debit(DEBIT)  # it went through; its answer was lost
    handlers = deliveries(credits, FakeAssetStorage(), recorder)
    await handlers[Destination.SETTLE](SETTLE_ROW)
    await handlers[Destination.SETTLE](SETTLE_ROW)  # the relay retried: nothing moves twice
    assert credits.balances["alice"] == Decimal(10)
    assert credits.ledger == {DEBIT.idempotency_key: Decimal(-2), REFUND_.idempotency_key: 2}


async def test_a_lost_debit_that_never_happened_nets_to_nothing() -> None:
    credits = FakeCreditGateway()
    await deliveries(credits, FakeAssetStorage(), Recorder())[Destination.SETTLE](SETTLE_ROW)
    assert credits.balances["alice"] == Decimal(10)  # replayed, then given back


async def test_a_declined_replay_means_there_is_nothing_to_give_back() -> None:
    credits = FakeCreditGateway(balance=Decimal(1))  # the debit could never have gone through
    await deliveries(credits, FakeAssetStorage(), Recorder())[Destination.SETTLE](SETTLE_ROW)
    assert credits.ledger == {} and credits.balances["alice"] == Decimal(1)


async def test_a_refund_moves_the_money_once() -> None:
    credits = FakeCreditGateway()
    await credits.debit(DEBIT)
    handlers = deliveries(credits, FakeAssetStorage(), Recorder())
    row = OutboxMessage(Destination.REFUND, REFUND_.idempotency_key, to_payload(REFUND_))
    await handlers[Destination.REFUND](row)
    await handlers[Destination.REFUND](row)
    assert credits.balances["alice"] == Decimal(10)


async def test_deleting_assets_removes_every_key_even_one_already_gone() -> None:
    storage = FakeAssetStorage()
    storage.objects = {"a.png": b"1", "b.png": b"2", "keep.png": b"3"}
    row = OutboxMessage(
        Destination.DELETE_ASSETS, "req-1:deleted", {"keys": ["a.png", "gone.png", "b.png"]}
    )
    await deliveries(FakeCreditGateway(), storage, Recorder())[Destination.DELETE_ASSETS](row)
    assert set(storage.objects) == {"keep.png"}


async def test_jobs_events_notifications_and_webhooks_reach_their_ports() -> None:
    recorder = Recorder()
    handlers = deliveries(FakeCreditGateway(), FakeAssetStorage(), recorder)
    await handlers[Destination.JOB](OutboxMessage(Destination.JOB, "job-1", {"job_id": "job-1"}))
    await handlers[Destination.EVENT](
        OutboxMessage(Destination.EVENT, "e", {}, {"routing_key": "generation.requested"})
    )
    await handlers[Destination.NOTIFICATION](
        OutboxMessage(Destination.NOTIFICATION, "n", {"type": "t"})
    )
    await handlers[Destination.WEBHOOK](
        OutboxMessage(Destination.WEBHOOK, "whk_1", {}, {"url": "https://x.test/h"})
    )
    assert recorder.calls == [
        ("job", {"job_id": "job-1"}),
        ("event", "generation.requested"),
        ("notification", {"type": "t"}),
        ("webhook", "whk_1"),
    ]

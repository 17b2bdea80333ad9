"""The production adapters over real connections: PostgreSQL, RabbitMQ, and stub servers for
the credit and notification services. Nothing lost, nothing doubled."""

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aio_pika
import pytest

from creativeflow.services.aigeneration.application.assets import OutputCheck
from creativeflow.services.aigeneration.application.chargers.saga import SagaCharger
from creativeflow.services.aigeneration.application.clock import SystemClock
from creativeflow.services.aigeneration.application.dtos import CreateGeneration
from creativeflow.services.aigeneration.application.ports import (
    CreditAccount,
    Debit,
    OutboxMessage,
    Refund,
)
from creativeflow.services.aigeneration.application.unit_of_work import CommitStaging
from creativeflow.services.aigeneration.composition.root import orchestration_config
from creativeflow.services.aigeneration.infrastructure.messaging.outbox_relay import OutboxRelay
from creativeflow.services.aigeneration.infrastructure.messaging.outbox_store import (
    SqlaOutboxStore,
)
from creativeflow.services.aigeneration.infrastructure.messaging.rabbitmq_publisher import (
    RabbitMqPublisher,
)
from creativeflow.services.aigeneration.infrastructure.messaging.rabbitmq_topology import (
    RabbitMqTopology,
)
from creativeflow.services.aigeneration.infrastructure.repositories.sqla_unit_of_work import (
    SqlaUnitOfWork,
    unit_of_work_factory,
)

from ..builders import parameters
from ..fakes import FakeRemoteImages
from ..orchestration import UseCases
from ..stub_servers import CreditServiceStub, NotificationServiceStub
from ..tcp_proxy import TcpProxy
from .api_client import VALID_CREATE, ApiDriver
from .production import Broker, eventually, job_ids, production_service

pytestmark = pytest.mark.usefixtures("rabbitmq_url")


@pytest.fixture
async def broker(rabbitmq_url: str) -> AsyncIterator[Broker]:
    broker = Broker(rabbitmq_url)
    yield broker
    await broker.delete()


@pytest.fixture
async def credits() -> AsyncIterator[CreditServiceStub]:
    stub = CreditServiceStub()
    await stub.start()
    yield stub
    await stub.stop()


@pytest.fixture
async def notifications() -> AsyncIterator[NotificationServiceStub]:
    stub = NotificationServiceStub()
    await stub.start()
    yield stub
    await stub.stop()


async def pending_outbox(container) -> int:  # type: ignore[no-untyped-def]
    return await container.outbox_store.pending_count()  # type: ignore[no-any-return]


async def drained(container) -> bool:  # type: ignore[no-untyped-def]
    return await pending_outbox(container) == 0


async def test_the_whole_flow_publishes_jobs_and_events_to_rabbitmq(
    pg: str,
    broker: Broker,
    credits: CreditServiceStub,
    notifications: NotificationServiceStub,
    tmp_path: Path,
) -> None:
    await broker.listen_to_events()
    async with production_service(
        pg, broker, tmp_path, credits=credits, notifications=notifications
    ) as (api, container):
        request_id = (await api.created())["id"]
        await eventually(lambda: drained(container))
        (job,) = await broker.drain_jobs()
        assert job.message_id == job_ids([job])[0]
        assert job.type == "generation.samples"
        assert job.delivery_mode == 2  # persistent
        assert job.content_type == "application/json"
        assert job.correlation_id  # the create call's X-Request-ID

        await api.callback("samples", await api.samples_payload(request_id))
        await api.action(
            request_id, "select-sample", {"selected_sample_id": await api.sample_id(request_id, 1)}
        )
        await api.callback("final", await api.final_payload(request_id))
        await eventually(lambda: drained(container))
        metrics = (await api.http.get("/metrics")).text

    assert 'aigen_credit_calls_total{operation="debit",outcome="ok"} 2.0' in metrics
    assert 'aigen_credit_call_duration_seconds_count{operation="get_account"} 2.0' in metrics
    events = [m.routing_key for m in await broker.drain_events()]
    assert events == ["generation.requested", "generation.samples_ready", "generation.completed"]
    assert [body["type"] for _, body in notifications.calls] == [
        "generation.samples_ready",
        "generation.completed",
    ]
    assert credits.book.total("debit", "alice") == Decimal("1.25")


async def test_requests_are_accepted_while_the_broker_is_away_and_published_once_it_is_back(
    pg: str, broker: Broker, rabbitmq_url: str, tmp_path: Path
) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.open()
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
    async with production_service(pg, broker, tmp_path, rabbitmq_url=url) as (api, container):
        before = [(await api.created(user=f"u{i}"))["id"] for i in range(5)]
        await eventually(lambda: drained(container))

        await proxy.cut()
        during = [(await api.created(user=f"v{i}"))["id"] for i in range(20)]
        await asyncio.sleep(1.0)
        assert await pending_outbox(container) >= 20  # nothing was lost: all kept in the outbox

        await proxy.open()
        await eventually(lambda: drained(container), within=30)
        published = job_ids(await broker.drain_jobs())
    await proxy.cut()

    expected = {j["job_id"] for j in await _jobs_of(api, before + during)}
    assert len(published) == len(set(published)) == 25  # none duplicated
    assert set(published) == expected  # none lost


async def _jobs_of(api, request_ids):  # type: ignore[no-untyped-def]
    return [j for j in await api.jobs() if j["request_id"] in set(request_ids)]


async def test_two_relays_publish_every_outbox_row_exactly_once(
    pg: str, broker: Broker, tmp_path: Path
) -> None:
    from creativeflow.services.aigeneration.infrastructure.database.db_config import create_engine

    engine = create_engine(pg)
    clock = SystemClock()
    async with SqlaUnitOfWork(engine, clock) as uow:
        for n in range(300):
            job_id = f"job-{n:04d}"
            body = {"job_id": job_id, "n": n}
            uow.outbox.add(OutboxMessage("job", job_id, body, {"message_id": job_id}))
        await uow.commit()
    topology = RabbitMqTopology(job_exchange=broker.exchange, job_queue=broker.queue)
    publishers = [RabbitMqPublisher(broker.url, topology) for _ in range(2)]
    relays = [
        OutboxRelay(
            SqlaOutboxStore(engine, clock),
            {"job": lambda row, p=p: p.dispatch(row.payload, row.headers)},
            clock,
            batch_size=16,
        )
        for p in publishers
    ]
    await asyncio.gather(*(relay.drain() for relay in relays))
    for publisher in publishers:
        await publisher.close()
    await engine.dispose()
    published = job_ids(await broker.drain_jobs())
    assert len(published) == 300
    assert sorted(published) == [f"job-{n:04d}" for n in range(300)]


async def test_an_unroutable_job_stays_in_the_outbox_and_is_retried(
    pg: str, broker: Broker, tmp_path: Path
) -> None:
    async with production_service(pg, broker, tmp_path, background=False) as (api, container):
        await api.created()
        await container.relay.run_once()  # declares the topology and publishes the first job
        # the queue's binding disappears (an operator mistake): the broker returns the message
        connection = await aio_pika.connect(broker.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(broker.queue)
            await queue.unbind(broker.exchange, "generation.job")
        await api.created(user="bob")
        await container.relay.run_once()
        rows = await api.outbox_rows("job")
        undelivered = [r for r in rows if r["delivered_at"] is None]
        assert len(undelivered) == 1
        assert undelivered[0]["attempts"] == 1
        assert undelivered[0]["last_error"]


async def test_credit_service_down_at_create_is_503_with_nothing_charged_or_dispatched(
    pg: str, broker: Broker, credits: CreditServiceStub, tmp_path: Path
) -> None:
    async with production_service(pg, broker, tmp_path, credits=credits) as (api, _container):
        await credits.stop()
        before = await api.snapshot()
        response = await api.create()
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "dependency_unavailable"
        assert int(response.headers["retry-after"]) > 0
        assert await api.snapshot() == before
        await credits.start()
    assert credits.book.entries == {}
    assert await broker.drain_jobs() == []


async def test_a_debit_whose_answer_is_lost_is_settled_to_zero(
    pg: str, broker: Broker, credits: CreditServiceStub, tmp_path: Path
) -> None:
    async with production_service(pg, broker, tmp_path, credits=credits) as (api, container):
        credits.behaviour.status, credits.behaviour.only = 500, {"debit"}
        response = await api.create()
        assert response.status_code == 503
        (request,) = (await api.http.get("/api/v1/generation-requests", headers=api.auth())).json()[
            "items"
        ]
        assert (request["status"], request["error_code"]) == ("failed", "dependency_unavailable")
        credits.behaviour.status = None
        await eventually(lambda: drained(container))
    jobs = [m for m in await broker.drain_jobs()]
    assert jobs == []
    # the settlement replayed the debit (same key) and refunded it: the balance is whole
    assert credits.book.balance("alice") == Decimal(10)
    assert credits.book.total("debit") == credits.book.total("refund") == Decimal("0.25")


async def test_a_refund_while_the_credit_service_is_down_arrives_once_it_is_back(
    pg: str, broker: Broker, credits: CreditServiceStub, tmp_path: Path
) -> None:
    async with production_service(pg, broker, tmp_path, credits=credits) as (api, container):
        request_id = (await api.created())["id"]
        job = await api.last_job(request_id)
        await credits.stop()
        error = {
            "request_id": request_id,
            "job_id": job["job_id"],
            "error_code": "model_error",
            "error_message": "boom",
            "retryable": True,
        }
        assert (await api.callback("error", error)).json() == {"result": "applied"}
        await asyncio.sleep(1.5)  # the relay tries and fails meanwhile
        assert any(r["delivered_at"] is None for r in await api.outbox_rows("refund"))
        await credits.start()
        await eventually(lambda: drained(container), within=30)
    refunds = [body for kind, body in credits.calls if kind == "refund"]
    assert {r["idempotency_key"] for r in refunds} == {f"{request_id}:samples:1:refund"}
    assert credits.book.total("refund") == Decimal("0.25")
    assert credits.book.balance("alice") == Decimal(10)


class CrashAfterDebit:
    """The credit call succeeds, then the process "dies" before the next commit."""

    def __init__(self, real: object) -> None:
        self._real = real

    async def get_account(self, user_id: str) -> CreditAccount:
        return await self._real.get_account(user_id)  # type: ignore[attr-defined,no-any-return]

    async def debit(self, debit: Debit) -> None:
        await self._real.debit(debit)  # type: ignore[attr-defined]
        raise SystemExit("killed between debit and commit")

    async def refund(self, refund: Refund) -> None:
        await self._real.refund(refund)  # type: ignore[attr-defined]


async def test_a_crash_between_debit_and_commit_is_recovered_with_exactly_one_debit(
    pg: str, broker: Broker, credits: CreditServiceStub, tmp_path: Path
) -> None:
    from datetime import timedelta

    async with production_service(pg, broker, tmp_path, credits=credits) as (api, container):
        settings = container.settings
        config = orchestration_config(settings)
        staging = CommitStaging(config, container.api.links, container.clock)
        uow = unit_of_work_factory(container.engine, container.clock, staging)
        crash_after_debit = CrashAfterDebit(container.credits)
        crashing = UseCases(
            uow,
            SagaCharger(uow, crash_after_debit, container.clock, config),  # type: ignore[arg-type]
            container.clock,
            config,
            OutputCheck(container.storage, FakeRemoteImages(), settings.max_asset_bytes),
        )
        with pytest.raises(SystemExit):
            await crashing.initiate_generation(CreateGeneration("alice", "p1", parameters()))
        (stuck,) = (await api.http.get("/api/v1/generation-requests", headers=api.auth())).json()[
            "items"
        ]
        assert stuck["status"] == "validating_credits"

        # a restarted replica's sweep re-drives it with the same idempotency key
        assert await container.sweeper.sweeps.recover_stalled_requests(timedelta(0)) == 1
        assert await container.sweeper.sweeps.recover_stalled_requests(timedelta(0)) == 0
        assert (await api.get(stuck["id"])).json()["status"] == "processing_samples"
        await eventually(lambda: drained(container))
    debits = [b for kind, b in credits.calls if kind == "debit"]
    assert len(debits) == 2 and len({d["idempotency_key"] for d in debits}) == 1
    assert credits.book.total("debit") == Decimal("0.25")
    assert len(job_ids(await broker.drain_jobs())) == 1


async def test_notifications_wait_out_an_outage_and_callbacks_never_fail(
    pg: str, broker: Broker, notifications: NotificationServiceStub, tmp_path: Path
) -> None:
    async with production_service(pg, broker, tmp_path, notifications=notifications) as (
        api,
        container,
    ):
        await notifications.stop()
        request_id = await api.until_awaiting_selection()
        await api.action(
            request_id, "select-sample", {"selected_sample_id": await api.sample_id(request_id, 0)}
        )
        response = await api.callback("final", await api.final_payload(request_id))
        assert (response.status_code, response.json()) == (200, {"result": "applied"})
        await asyncio.sleep(1.0)
        assert notifications.calls == []
        await notifications.start()
        await eventually(lambda: drained(container), within=30)
    # after an outage both are retried; delivery is at least once, not in order
    kinds = sorted(body["type"] for _, body in notifications.calls)
    assert kinds == ["generation.completed", "generation.samples_ready"]
    assert {body["payload"]["request_id"] for _, body in notifications.calls} == {request_id}


async def test_the_tier_from_the_credit_service_sets_the_price(
    pg: str, broker: Broker, credits: CreditServiceStub, tmp_path: Path
) -> None:
    credits.book.tiers["alice"] = "pro"
    async with production_service(
        pg, broker, tmp_path, credits=credits, ENABLE_ADVANCED_MODEL_SELECTOR=True
    ) as (api, _container):
        request_id = await api.until_awaiting_selection()
        await api.action(
            request_id, "select-sample", {"selected_sample_id": await api.sample_id(request_id, 0)}
        )
        await api.callback("final", await api.final_payload(request_id))
        request_id = await api.until_awaiting_selection()
        await api.action(
            request_id,
            "select-sample",
            {"selected_sample_id": await api.sample_id(request_id, 0), "resolution": "high"},
        )
        jobs = await api.jobs()
    assert credits.book.total("debit", "alice") == Decimal(2)  # only the 4K final
    assert [j["model"] for j in jobs] == [
        "sdxl-turbo",
        "sdxl-1.0",
        "sdxl-turbo",
        "sdxl-refiner+esrgan-4x",
    ]


async def test_a_batch_is_one_debit_at_the_credit_service(
    pg: str, broker: Broker, credits: CreditServiceStub, tmp_path: Path
) -> None:
    campaign = {"requests": [{**VALID_CREATE, "format": f} for f in ("tiktok", "pinterest_pin")]}
    async with production_service(pg, broker, tmp_path, credits=credits) as (api, container):
        credits.book.balances["alice"] = Decimal("0.4")  # short of the sum (0.5)
        before = await api.snapshot()
        url = "/api/v1/generation-requests/batch"
        response = await api.http.post(url, json=campaign, headers=api.auth())
        assert response.status_code == 402
        assert await api.snapshot() == before
        assert [c for c in credits.calls if c[0] == "debit"] == []

        credits.book.balances["alice"] = Decimal(10)
        response = await api.http.post(url, json=campaign, headers=api.auth())
        assert response.status_code == 201, response.text
        await eventually(lambda: drained(container))
    (debit,) = [body for kind, body in credits.calls if kind == "debit"]
    assert Decimal(debit["amount"]) == Decimal("0.5")
    assert debit["idempotency_key"].startswith("batch:")
    assert debit["action_type"] == "generation.batch"
    assert len(await broker.drain_jobs()) == 2


async def reject_every_job(broker: Broker) -> list[str]:
    """What n8n does with a job it fails on for good: reject without requeue (dead-lettered)."""
    connection = await aio_pika.connect(broker.url)
    rejected = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(broker.queue)
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            rejected.append(message.message_id or "")
            await message.reject(requeue=False)
    return rejected


async def test_dead_letters_are_read_without_loss_and_redriven_only_while_current(
    pg: str, broker: Broker, tmp_path: Path
) -> None:
    async with production_service(pg, broker, tmp_path) as (api, container):
        live = (await api.created())["id"]
        stale = (await api.created(user="bob"))["id"]
        await eventually(lambda: drained(container))
        assert len(await reject_every_job(broker)) == 2
        await api.action(stale, "cancel", user="bob")  # its job is no longer worth rendering
        url = "/api/v1/admin/dead-letters"
        await eventually(lambda: _dead_letters(api, url, 2))
        for _ in range(2):  # reading takes nothing off the queue
            items = (await api.http.get(url, headers=api.admin_auth())).json()["items"]
            assert {item["request_id"] for item in items} == {live, stale}
        by_request = {item["request_id"]: item for item in items}
        assert by_request[live]["reason"] == "rejected" and by_request[live]["deaths"] == 1
        assert "aigen_dead_letter_jobs 2.0" in (await api.http.get("/metrics")).text

        reason = {"reason": "n8n fixed; retry"}
        for request_id, outcome in ((live, "redriven"), (stale, "dropped")):
            job_id = by_request[request_id]["job_id"]
            response = await api.http.post(
                f"{url}/{job_id}/redrive", json=reason, headers=api.admin_auth()
            )
            assert response.json() == {"outcome": outcome}, response.text
        assert (await api.http.get(url, headers=api.admin_auth())).json() == {"items": []}
        assert "aigen_dead_letter_jobs 0.0" in (await api.http.get("/metrics")).text
        again = await api.http.post(
            f"{url}/{by_request[live]['job_id']}/redrive", json=reason, headers=api.admin_auth()
        )
        assert again.status_code == 404
    requeued = await broker.drain_jobs()
    assert [m.message_id for m in requeued] == [by_request[live]["job_id"]]  # the live one only
    assert json.loads(requeued[0].body)["request_id"] == live


async def _dead_letters(api: ApiDriver, url: str, count: int) -> bool:
    items = (await api.http.get(url, headers=api.admin_auth())).json()["items"]
    return len(items) == count

"""The use cases over in-memory fakes: statuses, the ledger and the outbox after each. Every
test runs with both chargers: the saga (credits elsewhere) and the in-transaction charger
(credits in our own database); where they differ, the test says how."""

from decimal import Decimal

import pytest

from creativeflow.services.aigeneration.application.assets import ReportedImage
from creativeflow.services.aigeneration.application.dtos import (
    CallbackUrls,
    CreateGeneration,
    FinalResult,
    JobError,
    OrchestrationConfig,
    SamplesResult,
    SelectSample,
)
from creativeflow.services.aigeneration.application.errors import (
    DependencyUnavailable,
    InsufficientCredits,
    NotFound,
)
from creativeflow.services.aigeneration.application.model_selector import ModelSelector
from creativeflow.services.aigeneration.domain.errors import InvalidStateTransition
from creativeflow.services.aigeneration.domain.formats import Resolution
from creativeflow.services.aigeneration.domain.models import CallbackOutcome, GenerationStatus
from creativeflow.services.aigeneration.domain.pricing import SubscriptionTier

from ..builders import parameters
from ..fakes import FakeAssetStorage, FakeClock, FakeCreditGateway, FakeDatabase
from ..orchestration import service_over_fakes, upload_outputs

URLS = CallbackUrls("http://cb/samples", "http://cb/final", "http://cb/error")
SAGA, IN_TRANSACTION = "saga", "in_transaction"


class World:
    def __init__(self, charging: str = SAGA, refund_on_failure: bool = True) -> None:
        self.saga = charging == SAGA
        self.db = FakeDatabase()
        self.credits = FakeCreditGateway()
        self.clock = FakeClock()
        config = OrchestrationConfig(
            URLS, ModelSelector("model-x"), refund_on_system_failure=refund_on_failure
        )
        ids = iter(f"id-{n}" for n in range(1000))
        self.storage = FakeAssetStorage()
        self.service = service_over_fakes(
            self.db,
            self.credits,
            self.clock,
            config,
            lambda: next(ids),
            self.storage,
            local_credits=None if self.saga else self.credits,
        )

    def outbox(self, destination: str) -> list[dict]:
        return [m.payload for m in self.db.outbox if m.destination == destination]

    def balance(self, user: str = "alice") -> Decimal:
        return self.credits.balances[user]

    async def create(self, user: str = "alice") -> str:
        request = await self.service.initiate_generation(
            CreateGeneration(user, "p1", parameters(), correlation_id="corr-1")
        )
        return request.id

    def job_id(self, request_id: str) -> str:
        return self.db.requests[request_id].jobs[-1].job_id

    def uploaded(self, request_id: str, job_id: str | None = None) -> tuple[ReportedImage, ...]:
        """n8n's part: the job's images at its upload targets."""
        request = self.db.requests[request_id]
        job = request.find_job(job_id or self.job_id(request_id))
        assert job is not None
        return upload_outputs(self.storage, request, job)

    async def samples_arrive(self, request_id: str) -> CallbackOutcome:
        return await self.service.process_n8n_sample_callback(
            SamplesResult(request_id, self.job_id(request_id), self.uploaded(request_id), "m")
        )

    def sample_id(self, request_id: str, index: int = 1) -> str:
        return self.db.requests[request_id].samples[index].asset_id

    async def select(self, request_id: str, resolution: Resolution = Resolution.STANDARD) -> None:
        sample = f"{self.job_id(request_id)}-1"  # the second output of the newest samples job
        if self.db.requests[request_id].samples:
            sample = self.sample_id(request_id)
        await self.service.select_sample_and_initiate_final(
            SelectSample(request_id, "alice", sample, resolution)
        )


@pytest.fixture(params=[SAGA, IN_TRANSACTION])
def charging(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(charging: str) -> World:
    return World(charging)


async def test_a_new_request_is_charged_and_its_sample_job_dispatched(world: World) -> None:
    request_id = await world.create()
    request = world.db.requests[request_id]
    assert request.status == "processing_samples"
    assert world.balance() == Decimal("9.75")
    (job,) = world.outbox("job")
    assert job["job_type"] == "samples"
    assert (job["width"], job["height"], job["num_samples"]) == (512, 512, 4)
    assert job["callback_urls"] == {
        "samples": URLS.samples,
        "final": URLS.final,
        "error": URLS.error,
    }
    assert job["model"] == "model-x"
    assert [e["event"] for e in world.outbox("event")] == ["generation.requested"]


async def test_the_whole_flow_charges_each_step_once(world: World) -> None:
    request_id = await world.create()
    assert await world.samples_arrive(request_id) is CallbackOutcome.APPLIED
    await world.select(request_id, Resolution.HIGH)
    final_job = world.outbox("job")[-1]
    assert (final_job["width"], final_job["height"]) == (3840, 3840)
    assert final_job["selected_sample"]["asset_id"] == world.sample_id(request_id)
    (final,) = world.uploaded(request_id)
    outcome = await world.service.process_n8n_final_asset_callback(
        FinalResult(request_id, world.job_id(request_id), final, "m2")
    )
    assert outcome is CallbackOutcome.APPLIED
    assert world.db.requests[request_id].status == "completed"
    assert world.balance() == Decimal("10") - Decimal("0.25") - Decimal("2")
    assert [n["type"] for n in world.outbox("notification")] == [
        "generation.samples_ready",
        "generation.completed",
    ]


async def test_pro_users_pay_nothing_for_samples_and_standard_finals(world: World) -> None:
    world.credits.tiers["alice"] = SubscriptionTier.PRO
    request_id = await world.create()
    await world.samples_arrive(request_id)
    await world.select(request_id)
    assert world.balance() == Decimal(10)
    assert world.credits.ledger == {}


async def test_a_short_balance_is_refused_before_anything_is_stored(world: World) -> None:
    world.credits.balances["alice"] = Decimal("0.1")
    with pytest.raises(InsufficientCredits):
        await world.create()
    assert world.db.requests == {} and world.db.outbox == []


async def test_a_debit_declined_by_a_race_charges_and_dispatches_nothing(world: World) -> None:
    world.credits.decline_next_debit = True
    with pytest.raises(InsufficientCredits):
        await world.create()
    if world.saga:  # the step was committed before the debit: it fails, uncharged
        (request,) = world.db.requests.values()
        assert request.status == "failed" and request.error_code == "insufficient_credits"
    else:  # the debit was in the step's transaction: it rolled back with it
        assert world.db.requests == {}
    assert world.outbox("job") == [] and world.outbox("refund") == []
    assert world.credits.ledger == {}


async def test_an_unreachable_credit_service_charges_and_dispatches_nothing(world: World) -> None:
    world.credits.down = True
    with pytest.raises(DependencyUnavailable):
        await world.create()
    assert world.db.requests == {} and world.outbox("job") == []


async def test_a_model_error_fails_the_step_and_refunds_it(world: World) -> None:
    request_id = await world.create()
    outcome = await world.service.handle_n8n_error(
        JobError(request_id, world.job_id(request_id), "model_error", "boom", True)
    )
    assert outcome is CallbackOutcome.APPLIED
    request = world.db.requests[request_id]
    assert (request.status, request.retryable) == ("failed", True)
    (refund,) = world.outbox("refund")
    assert refund["amount"] == "0.25"
    assert refund["idempotency_key"] == f"{request_id}:samples:1:refund"


async def test_refunds_on_failure_can_be_switched_off(charging: str) -> None:
    world = World(charging, refund_on_failure=False)
    request_id = await world.create()
    await world.service.handle_n8n_error(
        JobError(request_id, world.job_id(request_id), "model_error", "boom", True)
    )
    assert world.outbox("refund") == []


async def test_a_content_refusal_is_not_refunded(world: World) -> None:
    request_id = await world.create()
    await world.service.handle_n8n_error(
        JobError(request_id, world.job_id(request_id), "content_policy_violation", "no", False)
    )
    assert world.db.requests[request_id].status == "content_rejected"
    assert world.outbox("refund") == []
    assert world.outbox("notification")[-1]["type"] == "generation.content_rejected"


async def test_cancelling_the_final_refunds_its_price(world: World) -> None:
    request_id = await world.create()
    await world.samples_arrive(request_id)
    await world.select(request_id)
    await world.service.cancel(request_id, "alice")
    assert world.db.requests[request_id].status == "cancelled"
    (refund,) = world.outbox("refund")
    assert (refund["amount"], refund["reason"]) == ("1", "cancelled")


async def test_a_repeated_callback_changes_nothing_more(world: World) -> None:
    request_id = await world.create()
    await world.samples_arrive(request_id)
    commits, outbox = world.db.commits, list(world.db.outbox)
    assert await world.samples_arrive(request_id) is CallbackOutcome.DUPLICATE
    assert (world.db.commits, world.db.outbox) == (commits, outbox)


async def test_a_regeneration_is_a_new_charged_round_and_old_results_are_ignored(
    world: World,
) -> None:
    request_id = await world.create()
    await world.samples_arrive(request_id)
    first_job = world.job_id(request_id)
    await world.service.trigger_sample_regeneration(request_id, "alice")
    request = world.db.requests[request_id]
    assert (request.status, request.sample_round) == ("processing_samples", 2)
    assert world.balance() == Decimal("9.5")
    late = SamplesResult(request_id, first_job, world.uploaded(request_id, first_job), "m")
    assert await world.service.process_n8n_sample_callback(late) is CallbackOutcome.DUPLICATE


async def test_another_users_request_does_not_exist_for_them(world: World) -> None:
    request_id = await world.create()
    with pytest.raises(NotFound):
        await world.service.get_generation_status(request_id, "mallory")
    with pytest.raises(NotFound):
        await world.service.cancel(request_id, "mallory")
    assert world.db.requests[request_id].status == "processing_samples"


async def test_selecting_before_the_samples_is_an_invalid_state(world: World) -> None:
    request_id = await world.create()
    with pytest.raises(InvalidStateTransition):
        await world.select(request_id)
    assert world.balance() == Decimal("9.75")


async def test_with_local_credits_a_step_is_one_commit() -> None:
    world = World(IN_TRANSACTION)
    request_id = await world.create()
    assert world.db.requests[request_id].status == "processing_samples"
    assert world.db.commits == 1
    assert world.balance() == Decimal("9.75")
    await world.samples_arrive(request_id)
    commits = world.db.commits
    await world.select(request_id, Resolution.HIGH)
    assert world.db.commits == commits + 1
    assert world.db.requests[request_id].status == "processing_final"
    assert world.balance() == Decimal("7.75")


def campaign(user: str = "alice", count: int = 3) -> list[CreateGeneration]:
    return [CreateGeneration(user, "p1", parameters()) for _ in range(count)]


async def test_a_batch_is_charged_by_one_debit_for_the_sum(world: World) -> None:
    requests = await world.service.initiate_batch(campaign())
    assert {r.status for r in requests} == {GenerationStatus.PROCESSING_SAMPLES}
    ((key, amount),) = world.credits.ledger.items()
    assert key.startswith("batch:") and amount == Decimal("-0.75")
    assert len(world.outbox("job")) == 3


async def test_a_batch_debit_declined_after_the_price_check_charges_no_item(world: World) -> None:
    world.credits.decline_next_debit = True  # the balance fell between the check and the debit
    with pytest.raises(InsufficientCredits):
        await world.service.initiate_batch(campaign())
    if world.saga:  # every item was committed before the debit: each fails
        assert {r.status for r in world.db.requests.values()} == {GenerationStatus.FAILED}
    else:  # nothing was committed
        assert world.db.requests == {}
    assert world.credits.ledger == {} and world.outbox("job") == []


async def test_a_batch_debit_lost_in_flight_is_settled_item_by_item() -> None:
    world = World(SAGA)  # only a debit over the network can lose its answer
    world.credits.lose_next_debit_answer = True
    with pytest.raises(DependencyUnavailable):
        await world.service.initiate_batch(campaign(count=2))
    assert {r.status for r in world.db.requests.values()} == {GenerationStatus.FAILED}
    assert world.outbox("job") == []
    # each item settles: the batch debit replayed (its key: once), its own price refunded
    settles = world.outbox("settle")
    assert {s["debit"]["idempotency_key"] for s in settles} == {next(iter(world.credits.ledger))}
    assert sorted(s["refund"]["idempotency_key"] for s in settles) == sorted(
        f"{r}:samples:1:refund" for r in world.db.requests
    )
    assert sum(Decimal(s["refund"]["amount"]) for s in settles) == Decimal("0.5")

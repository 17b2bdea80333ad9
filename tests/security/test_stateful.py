"""Random sequences of creates, selections, regenerations, cancels and callbacks (duplicate,
stale, out of order, replayed), through the use cases over in-memory fakes of its
ports. After every step: statuses moved only along the contract's table; credits charged
minus refunded equal the price of the steps delivered or in flight; no request has more than
one job in flight; a refused move changed nothing."""

import asyncio
import copy
import itertools
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from creativeflow.services.aigeneration.application.assets import ReportedImage
from creativeflow.services.aigeneration.application.credit_moves import refund_from_payload
from creativeflow.services.aigeneration.application.dtos import (
    CallbackUrls,
    CreateGeneration,
    FinalResult,
    JobError,
    OrchestrationConfig,
    SamplesResult,
    SelectSample,
    VarySample,
)
from creativeflow.services.aigeneration.application.errors import ApplicationError
from creativeflow.services.aigeneration.application.model_selector import ModelSelector
from creativeflow.services.aigeneration.application.ports import Destination
from creativeflow.services.aigeneration.domain.errors import DomainError
from creativeflow.services.aigeneration.domain.formats import Resolution
from creativeflow.services.aigeneration.domain.models import GenerationStatus as S
from creativeflow.services.aigeneration.domain.models import JobState, Strength

from ..builders import parameters
from ..fakes import FakeAssetStorage, FakeClock, FakeCreditGateway, FakeDatabase
from ..figures import count
from ..orchestration import service_over_fakes, upload_outputs

# Moves visible between two use cases (transient saga statuses never outlive a call here).
VISIBLE_MOVES = {
    (S.PROCESSING_SAMPLES, S.AWAITING_SELECTION),
    (S.PROCESSING_SAMPLES, S.FAILED),
    (S.PROCESSING_SAMPLES, S.CONTENT_REJECTED),
    (S.PROCESSING_SAMPLES, S.CANCELLED),
    (S.AWAITING_SELECTION, S.PROCESSING_SAMPLES),
    (S.AWAITING_SELECTION, S.PROCESSING_FINAL),
    (S.AWAITING_SELECTION, S.CANCELLED),
    (S.AWAITING_SELECTION, S.FAILED),  # a declined debit of the next step
    (S.PROCESSING_FINAL, S.COMPLETED),
    (S.PROCESSING_FINAL, S.FAILED),
    (S.PROCESSING_FINAL, S.CONTENT_REJECTED),
    (S.PROCESSING_FINAL, S.CANCELLED),
    (S.FAILED, S.PROCESSING_SAMPLES),
    (S.FAILED, S.PROCESSING_FINAL),
    (S.FAILED, S.CANCELLED),
    # contract 1.1: more rounds, variations and finals after a final
    (S.COMPLETED, S.PROCESSING_SAMPLES),
    (S.COMPLETED, S.PROCESSING_FINAL),
    (S.COMPLETED, S.FAILED),  # a declined debit of the next step
}
USERS = ["ann", "ben"]


class GenerationMachine(RuleBasedStateMachine):
    LOCAL_CREDITS = False  # the saga charges (credits elsewhere)

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db = FakeDatabase()
        self.credits = FakeCreditGateway(balance=Decimal(6))
        config = OrchestrationConfig(
            CallbackUrls("http://cb/s", "http://cb/f", "http://cb/e"), ModelSelector("m")
        )
        ids = (f"id-{n:05d}" for n in itertools.count())  # deterministic: Hypothesis replays
        self.storage = FakeAssetStorage()
        self.service = service_over_fakes(
            self.db,
            self.credits,
            FakeClock(),
            config,
            lambda: next(ids),
            self.storage,
            local_credits=self.credits if self.LOCAL_CREDITS else None,
        )
        self.seen_status: dict[str, S] = {}
        self.delivered_refunds: set[str] = set()
        self.sent_webhooks: list[str] = []

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coroutine: Any) -> None:
        """Run a use case; a refused one must leave every stored thing as it was."""
        count("stateful_steps")
        before = self.snapshot()
        try:
            self.loop.run_until_complete(coroutine)
        except (ApplicationError, DomainError):
            assert self.snapshot() == before, "a refused move changed the stored state"

    def snapshot(self) -> tuple[Any, ...]:
        requests = {key: copy.deepcopy(vars(r)) for key, r in self.db.requests.items()}
        return requests, len(self.db.outbox), dict(self.credits.ledger)

    def request_ids(self) -> list[str]:
        return sorted(self.db.requests)

    def uploaded(self, request_id: str, job_id: str) -> tuple[ReportedImage, ...]:
        """n8n's part of any job, current or stale: its images at its upload targets (the
        sizes the job asked for; a mismatch is refused, the bad-input tests cover that)."""
        request = self.db.requests[request_id]
        job = request.find_job(job_id)
        if job is None:
            return (ReportedImage(asset_id=f"{job_id}-0"),)
        return upload_outputs(self.storage, request, job)

    def job_of(self, request_id: str, pick: int) -> str:
        jobs = self.db.requests[request_id].jobs
        return jobs[pick % len(jobs)].job_id if jobs else "no-such-job"

    # --- what users do -------------------------------------------------------------------

    @rule(user=st.sampled_from(USERS))
    def create(self, user: str) -> None:
        self.run(self.service.initiate_generation(CreateGeneration(user, "p", parameters())))

    @precondition(lambda self: self.db.requests)
    @rule(data=st.data(), sample=st.integers(0, 4), high=st.booleans())
    def select(self, data: st.DataObject, sample: int, high: bool) -> None:
        request_id = data.draw(st.sampled_from(self.request_ids()))
        request = self.db.requests[request_id]
        # 4 is never a real sample
        sample_id = request.samples[sample].asset_id if sample < len(request.samples) else "nope"
        resolution = Resolution.HIGH if high else Resolution.STANDARD
        command = SelectSample(request_id, request.user_id, sample_id, resolution)
        self.run(self.service.select_sample_and_initiate_final(command))

    @precondition(lambda self: self.db.requests)
    @rule(data=st.data())
    def regenerate(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(self.request_ids()))
        user = self.db.requests[request_id].user_id
        self.run(self.service.trigger_sample_regeneration(request_id, user))

    @precondition(lambda self: self.db.requests)
    @rule(data=st.data(), sample=st.integers(0, 4), strong=st.booleans())
    def vary(self, data: st.DataObject, sample: int, strong: bool) -> None:
        request_id = data.draw(st.sampled_from(self.request_ids()))
        request = self.db.requests[request_id]
        rounds = [s for job in request.rounds for s in job.outputs]  # any sample of any round
        sample_id = rounds[sample].asset_id if sample < len(rounds) else "nope"
        strength = Strength.STRONG if strong else Strength.SUBTLE
        command = VarySample(request_id, request.user_id, sample_id, strength)
        self.run(self.service.vary_sample(command))

    @precondition(lambda self: self.db.requests)
    @rule(data=st.data(), as_owner=st.booleans())
    def cancel(self, data: st.DataObject, as_owner: bool) -> None:
        request_id = data.draw(st.sampled_from(self.request_ids()))
        user = self.db.requests[request_id].user_id if as_owner else "mallory"
        self.run(self.service.cancel(request_id, user))

    # --- what n8n does: any job of the request, current or stale, possibly replayed -------

    @precondition(lambda self: self.db.requests)
    @rule(data=st.data(), pick=st.integers(0, 5), replay=st.booleans())
    def samples_arrive(self, data: st.DataObject, pick: int, replay: bool) -> None:
        request_id = data.draw(st.sampled_from(self.request_ids()))
        job_id = self.job_of(request_id, pick)
        result = SamplesResult(
            request_id,
            job_id,
            self.uploaded(request_id, job_id),
            webhook_id=self.webhook_id(replay),
        )
        self.run(self.service.process_n8n_sample_callback(result))

    @precondition(lambda self: self.db.requests)
    @rule(data=st.data(), pick=st.integers(0, 5), replay=st.booleans())
    def final_arrives(self, data: st.DataObject, pick: int, replay: bool) -> None:
        request_id = data.draw(st.sampled_from(self.request_ids()))
        job_id = self.job_of(request_id, pick)
        uploaded = self.uploaded(request_id, job_id)
        result = FinalResult(
            request_id,
            job_id,
            uploaded[0] if uploaded else ReportedImage(asset_id="nope"),
            webhook_id=self.webhook_id(replay),
        )
        self.run(self.service.process_n8n_final_asset_callback(result))

    @precondition(lambda self: self.db.requests)
    @rule(
        data=st.data(),
        pick=st.integers(0, 5),
        code=st.sampled_from(["model_error", "timeout", "content_policy_violation"]),
        replay=st.booleans(),
    )
    def error_arrives(self, data: st.DataObject, pick: int, code: str, replay: bool) -> None:
        request_id = data.draw(st.sampled_from(self.request_ids()))
        error = JobError(
            request_id,
            self.job_of(request_id, pick),
            code,
            "x",
            code != "content_policy_violation",
            webhook_id=self.webhook_id(replay),
        )
        self.run(self.service.handle_n8n_error(error))

    def webhook_id(self, replay: bool) -> str:
        if replay and self.sent_webhooks:
            return self.sent_webhooks[-1]
        self.sent_webhooks.append(f"msg_{len(self.sent_webhooks)}")
        return self.sent_webhooks[-1]

    # --- the relay delivers refunds -----------------------------------------------------

    @rule()
    def relay_delivers_refunds(self) -> None:
        for message in self.db.outbox:
            if (
                message.destination == Destination.REFUND
                and message.key not in self.delivered_refunds
            ):
                self.loop.run_until_complete(
                    self.credits.refund(refund_from_payload(message.payload))
                )
                self.delivered_refunds.add(message.key)

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def statuses_move_only_along_the_table(self) -> None:
        count("stateful_invariant_checks")
        for request_id, request in self.db.requests.items():
            previous = self.seen_status.get(request_id)
            if previous is not None and previous != request.status:
                assert (previous, request.status) in VISIBLE_MOVES, (previous, request.status)
            self.seen_status[request_id] = request.status

    @invariant()
    def no_request_has_two_jobs_in_flight(self) -> None:
        for request in self.db.requests.values():
            assert sum(job.state.is_active for job in request.jobs) <= 1

    @invariant()
    def charged_minus_refunded_is_the_price_of_steps_delivered_or_in_flight(self) -> None:
        self.relay_delivers_refunds()
        net = -sum(self.credits.ledger.values(), Decimal(0))
        owed = Decimal(0)
        for request in self.db.requests.values():
            for job in request.jobs:
                delivered = job.state in (JobState.DISPATCHED, JobState.SUCCEEDED)
                refused = (
                    job.state is JobState.FAILED
                    and request.status == S.CONTENT_REJECTED
                    and job is request.jobs[-1]
                )
                owed += job.price if delivered or refused else Decimal(0)
        assert net == owed, (net, owed)


class LocalCreditsMachine(GenerationMachine):
    LOCAL_CREDITS = True  # the in-transaction charger (credits in our own database)


EXPLORATION = settings(
    max_examples=150,
    database=None,  # every run explores afresh; a failure prints its reproduction
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
GenerationMachine.TestCase.settings = EXPLORATION
LocalCreditsMachine.TestCase.settings = EXPLORATION
test_random_sequences_keep_every_invariant = GenerationMachine.TestCase
test_random_sequences_keep_every_invariant_with_local_credits = LocalCreditsMachine.TestCase

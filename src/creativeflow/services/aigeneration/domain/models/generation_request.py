"""The GenerationRequest aggregate: the only place a request's status changes.

Every move, the user's and the system's, is checked against the status table
(`status_table.MOVES`) before it touches anything, and the status it lands in is the table's:
a move that is not allowed raises and leaves the request exactly as it was.

A request is a creative session (contract 1.1 §7): rounds of samples (fresh, or variations of
one sample) and any number of finals, each a job. The jobs are the record: every round, every
final and every image they delivered are read from them, so nothing a round made is lost."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from ..errors import (
    ErrorCode,
    InvalidStateTransition,
    InvalidValue,
)
from ..events import (
    AssetsExpired,
    AssetsExpiring,
    ContentRejected,
    DomainEvent,
    FinalAssetReady,
    GenerationCancelled,
    GenerationFailed,
    GenerationRequested,
    JobDispatched,
    RequestDeleted,
    SamplesReady,
)
from ..formats import Resolution
from .asset_info import AssetInfo
from .generation_parameters import GenerationParameters
from .generation_status import GenerationStatus as S
from .job import SAMPLES_PER_ROUND, Charge, Job, JobState, JobType, Strength
from .request_record import CallbackOutcome, RequestRecord
from .status_table import NAMES_A_SAMPLE, Move, target


@dataclass(eq=False)
class GenerationRequest(RequestRecord):
    @classmethod
    def create(
        cls,
        *,
        request_id: str,
        user_id: str,
        project_id: str,
        parameters: GenerationParameters,
        now: datetime,
        correlation_id: str | None = None,
    ) -> "GenerationRequest":
        request = cls(
            id=request_id,
            user_id=user_id,
            project_id=project_id,
            parameters=parameters,
            status=S.PENDING,
            created_at=now,
            updated_at=now,
            correlation_id=correlation_id,
        )
        request.events.append(GenerationRequested(request_id, user_id))
        return request

    # --- starting a step: charge first, then dispatch ------------------------------------------

    def start_credit_check(
        self,
        job_id: str,
        price: Decimal,
        now: datetime,
        model: str | None = None,
        *,
        batch: tuple[str, Decimal] | None = None,  # its batch's id and sum, charged as one
    ) -> None:
        self._check(Move.START)
        batch_id, batch_total = batch or (None, None)
        job = Job(
            job_id,
            JobType.SAMPLES,
            self.sample_round,
            price,
            now,
            model=model,
            seed=self.parameters.seed,
            batch_id=batch_id,
            batch_total=batch_total,
        )
        self._open_job(Move.START, job, now)

    def regenerate(
        self,
        job_id: str,
        price: Decimal,
        now: datetime,
        model: str | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        """A new round from the prompt, with a new seed."""
        self.ensure_can(Move.REGENERATE)
        self.sample_round += 1
        job = Job(job_id, JobType.SAMPLES, self.sample_round, price, now, model=model, seed=seed)
        self._open_job(Move.REGENERATE, job, now)

    def vary(
        self,
        sample_id: str,
        strength: Strength,
        prompt: str | None,
        job_id: str,
        price: Decimal,
        now: datetime,
        model: str | None = None,
    ) -> None:
        """A new round made from one sample (image to image), with that sample's seed."""
        source = self._sample_for(Move.VARY, sample_id, "sample_id")
        self.sample_round += 1
        job = Job(
            job_id,
            JobType.SAMPLES,
            self.sample_round,
            price,
            now,
            model=model,
            seed=source.seed,
            source_sample_id=sample_id,
            strength=strength,
            prompt=prompt,
        )
        self._open_job(Move.VARY, job, now)

    def select_sample(
        self,
        sample_id: str,
        resolution: Resolution,
        output_format: str,
        job_id: str,
        price: Decimal,
        now: datetime,
        model: str | None = None,
    ) -> None:
        """A final from one sample of any round; each selection is a final of its own."""
        sample = self._sample_for(Move.SELECT, sample_id, "selected_sample_id")
        self.final_round += 1
        job = Job(
            job_id,
            JobType.FINAL,
            self.final_round,
            price,
            now,
            resolution=resolution,
            output_format=output_format,
            selected_sample_id=sample_id,
            model=model,
            seed=sample.seed,
        )
        self._open_job(Move.SELECT, job, now)

    def ensure_can(
        self, move: Move, sample_id: str | None = None, field: str = "selected_sample_id"
    ) -> None:
        """Raise unless the status table allows `move` now, naming a sample of this request
        (of any round) where the move needs one."""
        self._check(move)
        if move not in NAMES_A_SAMPLE:
            return
        if not self.samples:  # none delivered, or deleted by the retention sweep
            raise InvalidStateTransition(move, "without samples")
        if self.find_sample(sample_id or "") is None:
            raise InvalidValue(field, "is not a sample of this request")

    def _sample_for(self, move: Move, sample_id: str, field: str) -> AssetInfo:
        self.ensure_can(move, sample_id, field)
        sample = self.find_sample(sample_id)
        assert sample is not None, "ensure_can found it"
        return sample

    def credits_charged(self, now: datetime) -> None:
        self._move(Move.CHARGED, now)

    def credits_declined(self, now: datetime) -> None:
        """The debit was refused (the balance fell short since it was checked)."""
        self._check(Move.DECLINED)
        self._finish_job(JobState.FAILED, now)
        self._set_error(
            ErrorCode.INSUFFICIENT_CREDITS, "Not enough credits for this step.", retryable=True
        )
        self._move(Move.DECLINED, now)
        self.events.append(
            GenerationFailed(
                self.id, self.user_id, ErrorCode.INSUFFICIENT_CREDITS, "", Decimal(0), None
            )
        )

    def job_dispatched(self, now: datetime, deadline: datetime) -> None:
        job = self._active_job()
        move = Move.DISPATCH_SAMPLES if job.job_type is JobType.SAMPLES else Move.DISPATCH_FINAL
        self._check(move)
        job = replace(job, state=JobState.DISPATCHED, dispatched_at=now, deadline=deadline)
        self.jobs = (*self.jobs[:-1], job)
        self._move(move, now)
        self.events.append(JobDispatched(self.id, self.user_id, job))

    # --- results from n8n --------------------------------------------------------------------

    def apply_samples(
        self, job_id: str, samples: Sequence[AssetInfo], ai_model_used: str | None, now: datetime
    ) -> CallbackOutcome:
        outcome = self.result_outcome(job_id, JobType.SAMPLES)
        if outcome is not CallbackOutcome.APPLIED:
            return outcome
        if not 1 <= len(samples) <= SAMPLES_PER_ROUND:
            raise InvalidValue("samples", f"must hold 1..{SAMPLES_PER_ROUND} assets")
        if len({sample.asset_id for sample in samples}) != len(samples):
            raise InvalidValue("samples", "asset ids must be distinct")
        self._ensure_output_fits(samples)
        self.ai_model_used = ai_model_used or self._active_job().model
        self._finish_job(JobState.SUCCEEDED, now, self._with_seeds(samples))
        self._clear_error()
        self._move(Move.SAMPLES_READY, now)
        self.events.append(SamplesReady(self.id, self.user_id, self.sample_round))
        return outcome

    def apply_final(
        self, job_id: str, asset: AssetInfo, ai_model_used: str | None, now: datetime
    ) -> CallbackOutcome:
        outcome = self.result_outcome(job_id, JobType.FINAL)
        if outcome is not CallbackOutcome.APPLIED:
            return outcome
        self._ensure_output_fits([asset])
        self.ai_model_used = ai_model_used or self._active_job().model
        job = self._active_job()
        if asset.seed is None:  # a final is its sample, refined: it keeps the sample's seed
            asset = replace(asset, seed=job.seed)
        self._finish_job(JobState.SUCCEEDED, now, (asset,))
        self._clear_error()
        self._move(Move.FINAL_READY, now)
        self.events.append(FinalAssetReady(self.id, self.user_id))
        return outcome

    def fail(
        self, job_id: str, error_code: str, error_message: str, retryable: bool, now: datetime
    ) -> CallbackOutcome:
        """n8n reported an error for a job: content refusals are final, the rest refundable."""
        job = self._known_job(job_id, expected=None)
        if job.state is JobState.FAILED:
            return CallbackOutcome.DUPLICATE
        if job is not self.current_job or job.state is not JobState.DISPATCHED:
            return CallbackOutcome.IGNORED
        if error_code == ErrorCode.CONTENT_POLICY_VIOLATION:
            self._check(Move.REJECT)
            self._finish_job(JobState.FAILED, now)
            self._set_error(error_code, error_message, retryable=False)
            self._move(Move.REJECT, now)
            self.events.append(ContentRejected(self.id, self.user_id, error_code, error_message))
        else:
            self.fail_step(error_code, error_message, retryable, now)
        return CallbackOutcome.APPLIED

    def fail_step(
        self,
        error_code: str,
        error_message: str,
        retryable: bool,
        now: datetime,
        *,
        charge: Charge = Charge.TAKEN,
        move: Move = Move.FAIL,
    ) -> None:
        """A system-side failure of the step in flight (model, broker, timeout): refundable."""
        self._check(move)
        job = self._active_job()
        self._finish_job(JobState.FAILED, now)
        self._set_error(error_code, error_message, retryable)
        self._move(move, now)
        refundable = job.price if charge is Charge.TAKEN else Decimal(0)
        unsettled = job.price if charge is Charge.UNKNOWN else Decimal(0)
        self.events.append(
            GenerationFailed(
                self.id, self.user_id, error_code, error_message, refundable, job.job_id, unsettled
            )
        )

    def time_out(self, now: datetime) -> bool:
        """Fail the job in flight if its deadline has passed; False when there is nothing to do."""
        job = self.current_job
        if target(self.status, Move.TIME_OUT) is None or job is None or job.deadline is None:
            return False
        if job.deadline > now:
            return False
        message = "The generation took longer than its deadline."
        self.fail_step("timeout", message, True, now, move=Move.TIME_OUT)
        return True

    def cancel(self, now: datetime) -> None:
        self.ensure_can(Move.CANCEL)
        job = self.current_job
        if job is not None:
            self._finish_job(JobState.CANCELLED, now)
        self._move(Move.CANCEL, now)
        refundable = job.price if job is not None else Decimal(0)
        job_id = job.job_id if job is not None else None
        self.events.append(GenerationCancelled(self.id, self.user_id, refundable, job_id))

    def delete(self, now: datetime) -> bool:
        """A tombstone (contract §6): the prompt and texts erased, the images let go (the
        event names every image its jobs could have made), the costs kept so credits still add
        up. False when it is deleted already: a repeated DELETE changes nothing."""
        if self.status is S.DELETED:
            return False
        self.ensure_can(Move.DELETE)
        images = self._release_images()
        self.parameters = replace(
            self.parameters, prompt="", style_guidance=None, negative_prompt=None
        )
        self.jobs = tuple(replace(job, prompt=None) for job in self.jobs)
        self.error_message = None
        self._move(Move.DELETE, now)
        self.events.append(RequestDeleted(self.id, self.user_id, images))
        return True

    def expire_assets(self, now: datetime) -> bool:
        """Retention (contract §6): the images go, the request and its texts stay, showing
        `assets_expired_at`. Not while a job is in flight (the next sweep takes it)."""
        if self.assets_expired_at is not None or self.status is S.DELETED:
            return False
        if self.status.is_processing:
            return False
        images = self._release_images()
        self.assets_expired_at = now
        self.updated_at = now
        self.events.append(AssetsExpired(self.id, self.user_id, images))
        return True

    def notice_retention(self, now: datetime, expires_at: datetime) -> bool:
        """Tell the owner once, ahead, when the images will be deleted."""
        if self.retention_notice_at is not None or self.assets_expired_at is not None:
            return False
        if self.status is S.DELETED:
            return False
        self.retention_notice_at = now
        self.events.append(AssetsExpiring(self.id, self.user_id, expires_at))
        return True

    def _release_images(self) -> tuple[tuple[str, str], ...]:
        """Every image its jobs could have made (uploaded or not), let go of."""
        images = tuple(
            dict.fromkeys(
                (asset_id, job.output_format) for job in self.jobs for asset_id in job.output_ids
            )
        )
        self.jobs = tuple(replace(job, outputs=()) for job in self.jobs)
        return images

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events

    # --- helpers -----------------------------------------------------------------------------

    def _check(self, move: Move) -> None:
        """Raise unless the status table allows `move` now (before anything is changed)."""
        if target(self.status, move) is None:
            raise InvalidStateTransition(move, self.status)

    def _open_job(self, move: Move, job: Job, now: datetime) -> None:
        self._clear_error()
        self.jobs = (*self.jobs, job)
        self._move(move, now)

    def _finish_job(
        self, state: JobState, now: datetime, outputs: tuple[AssetInfo, ...] = ()
    ) -> None:
        job = self._active_job().moved_to(state, now)
        self.jobs = (*self.jobs[:-1], replace(job, outputs=outputs))

    def _set_error(self, code: str, message: str, retryable: bool) -> None:
        self.error_code, self.error_message, self.retryable = code, message, retryable

    def _clear_error(self) -> None:
        self.error_code = self.error_message = None
        self.retryable = None

    def _move(self, move: Move, now: datetime) -> None:
        """The only assignment of `status`: where the table takes `move` from here."""
        status = target(self.status, move)
        if status is None:
            raise InvalidStateTransition(move, self.status)
        self.status = status
        self.updated_at = now
        if status.ends_stream and self.finished_at is None:  # total_ms: to the first end
            self.finished_at = now

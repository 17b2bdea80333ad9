"""What a request holds and shows: its fields, its jobs (the record of every round and final),
and what is read from them. The moves are the aggregate's (generation_request.py): nothing
here changes a request."""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ..errors import InvalidOutput, InvalidStateTransition, JobKindMismatch, UnknownJob
from ..events import DomainEvent
from ..formats import Dimensions, Resolution, final_size, sample_size
from .asset_info import AssetInfo
from .generation_parameters import GenerationParameters
from .generation_status import GenerationStatus as S
from .job import Job, JobState, JobType
from .status_table import Move, target


class CallbackOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this job's result was already applied
    IGNORED = "ignored"  # the job is no longer current: regenerated, cancelled or timed out


@dataclass(eq=False)
class RequestRecord:
    id: str
    user_id: str
    project_id: str
    parameters: GenerationParameters
    status: S
    created_at: datetime
    updated_at: datetime
    correlation_id: str | None = None
    sample_round: int = 1
    final_round: int = 0
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool | None = None
    ai_model_used: str | None = None
    jobs: tuple[Job, ...] = ()
    finished_at: datetime | None = None
    assets_expired_at: datetime | None = None  # its images deleted by the retention sweep
    retention_notice_at: datetime | None = None  # its owner told ahead
    version: int = 0
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def current_job(self) -> Job | None:
        """The job in flight, if any: there is never more than one."""
        if self.jobs and self.jobs[-1].state.is_active:
            return self.jobs[-1]
        return None

    def renders(self, job_id: str) -> bool:
        """Whether `job_id` is the job to render now: dispatched and still in flight (not
        cancelled, superseded or timed out). n8n asks this before it calls the model."""
        job = self.current_job
        return job is not None and job.job_id == job_id and job.state is JobState.DISPATCHED

    def find_job(self, job_id: str) -> Job | None:
        return next((job for job in self.jobs if job.job_id == job_id), None)

    @property
    def rounds(self) -> tuple[Job, ...]:
        """Every round of samples, oldest first (a round whose job failed has no images)."""
        return tuple(job for job in self.jobs if job.job_type is JobType.SAMPLES)

    @property
    def finals(self) -> tuple[Job, ...]:
        """Every final delivered, oldest first."""
        return tuple(j for j in self.jobs if j.job_type is JobType.FINAL and j.outputs)

    @property
    def samples(self) -> tuple[AssetInfo, ...]:
        """The newest round that delivered samples."""
        delivered = [job.outputs for job in self.rounds if job.outputs]
        return delivered[-1] if delivered else ()

    @property
    def final_asset(self) -> AssetInfo | None:
        """The newest final."""
        return self.finals[-1].outputs[0] if self.finals else None

    def find_sample(self, sample_id: str) -> AssetInfo | None:
        """A sample of any round."""
        for job in self.rounds:
            for sample in job.outputs:
                if sample.asset_id == sample_id:
                    return sample
        return None

    def _newest(self, job_type: JobType) -> Job | None:
        jobs = [job for job in self.jobs if job.job_type is job_type]
        return jobs[-1] if jobs else None

    @property
    def selected_sample_id(self) -> str | None:
        """The sample of the newest final job."""
        final = self._newest(JobType.FINAL)
        return final.selected_sample_id if final else None

    @property
    def credits_cost_sample(self) -> Decimal | None:
        job = self._newest(JobType.SAMPLES)
        return job.price if job else None

    @property
    def credits_cost_final(self) -> Decimal | None:
        job = self._newest(JobType.FINAL)
        return job.price if job else None

    def last_duration_ms(self, job_type: JobType) -> int | None:
        done = [j for j in self.jobs if j.job_type is job_type and j.state is JobState.SUCCEEDED]
        return done[-1].duration_ms if done else None

    @property
    def total_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return int((self.finished_at - self.created_at).total_seconds() * 1000)

    def output_size(self, job: Job) -> Dimensions:
        """The exact pixel size `job` must deliver."""
        native = self.parameters.dimensions
        if job.job_type is JobType.SAMPLES:
            return sample_size(native)
        return final_size(native, job.resolution or Resolution.STANDARD)

    def result_outcome(self, job_id: str, kind: JobType) -> CallbackOutcome:
        """What a result for `job_id` would do now, without doing it: decided before any image
        of it is checked, so a stale or repeated callback costs no storage round trip."""
        job = self._known_job(job_id, expected=kind)
        if job.state is JobState.SUCCEEDED:
            return CallbackOutcome.DUPLICATE
        ready = Move.SAMPLES_READY if kind is JobType.SAMPLES else Move.FINAL_READY
        if job is not self.current_job or target(self.status, ready) is None:
            return CallbackOutcome.IGNORED
        return CallbackOutcome.APPLIED

    def _known_job(self, job_id: str, expected: JobType | None) -> Job:
        job = self.find_job(job_id)
        if job is None or job.state is JobState.CHARGING:
            raise UnknownJob(job_id)
        if expected is not None and job.job_type is not expected:
            raise JobKindMismatch(job_id, expected, job.job_type)
        return job

    def _ensure_output_fits(self, assets: Sequence[AssetInfo]) -> None:
        """Invalid output is the system's failure, never applied: the size and format must be
        exactly the job's (a 4096x4096 "sample" of a 512x512 job is refused)."""
        job = self._active_job()
        size = str(self.output_size(job))
        problems = {}
        for asset in assets:
            if asset.asset_id not in job.output_ids:
                problems[asset.asset_id] = "is not an output of this job"
            elif asset.resolution != size:
                problems[asset.asset_id] = f"is {asset.resolution}, the job asked for {size}"
            elif asset.format != job.output_format:
                problems[asset.asset_id] = (
                    f"is {asset.format}, the job asked for {job.output_format}"
                )
        if problems:
            raise InvalidOutput(problems)

    def _active_job(self) -> Job:
        job = self.current_job
        if job is None:  # the status table makes this unreachable; say so loudly if not
            raise InvalidStateTransition("continue", f"{self.status} without a job in flight")
        return job

    def _with_seeds(self, samples: Sequence[AssetInfo]) -> tuple[AssetInfo, ...]:
        """Each sample with its seed: the one its callback reported, else round seed + index."""
        job = self._active_job()
        return tuple(
            s if s.seed is not None else replace(s, seed=job.seed_of(s.asset_id)) for s in samples
        )

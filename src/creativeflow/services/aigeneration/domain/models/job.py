"""A unit of work handed to n8n: one sample round or one final render."""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ..formats import Resolution
from .asset_info import MAX_SEED, AssetInfo

SAMPLES_PER_ROUND = 4


class JobType(StrEnum):
    SAMPLES = "samples"
    FINAL = "final"


class Strength(StrEnum):
    """How far a variation may move from its sample (Midjourney's Vary subtle / strong)."""

    SUBTLE = "subtle"
    STRONG = "strong"


class Charge(StrEnum):
    """What is known about the debit of a step that fails."""

    TAKEN = "taken"
    NOT_TAKEN = "not_taken"
    UNKNOWN = "unknown"  # the credit service may have applied it before the call failed


class JobState(StrEnum):
    CHARGING = "charging"  # created, its price being debited
    DISPATCHED = "dispatched"  # the job message is committed to the outbox
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in (JobState.CHARGING, JobState.DISPATCHED)


@dataclass(frozen=True)
class Job:
    job_id: str
    job_type: JobType
    round: int  # sample round for samples; the final attempt number for finals
    price: Decimal
    created_at: datetime
    state: JobState = JobState.CHARGING
    dispatched_at: datetime | None = None
    deadline: datetime | None = None
    finished_at: datetime | None = None
    resolution: Resolution | None = None
    output_format: str = "png"
    selected_sample_id: str | None = None  # a final's sample
    model: str | None = None
    seed: int | None = None  # the round's seed; a variation's or final's: its sample's seed
    source_sample_id: str | None = None  # a variation's sample
    strength: Strength | None = None  # a variation's
    prompt: str | None = None  # a variation's own prompt, when it gave one
    outputs: tuple[AssetInfo, ...] = ()  # the images it delivered
    batch_id: str | None = None  # charged by its batch's one debit (contract §7)
    batch_total: Decimal | None = None  # that debit's amount: the batch's sum

    @property
    def is_variation(self) -> bool:
        return self.source_sample_id is not None

    @property
    def charge_key(self) -> str:
        """Idempotency key of this job's debit: `{request_id}:{step}:{round}` without the id."""
        return f"{self.job_type}:{self.round}"

    @property
    def output_ids(self) -> tuple[str, ...]:
        """The asset ids of the images this job must deliver (its upload targets)."""
        count = SAMPLES_PER_ROUND if self.job_type is JobType.SAMPLES else 1
        return tuple(f"{self.job_id}-{index}" for index in range(count))

    @property
    def duration_ms(self) -> int | None:
        if self.dispatched_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.dispatched_at).total_seconds() * 1000)

    def seed_of(self, asset_id: str) -> int | None:
        """The seed of an output its callback did not report: the round's seed + its index."""
        if self.seed is None or asset_id not in self.output_ids:
            return None
        return (self.seed + self.output_ids.index(asset_id)) % (MAX_SEED + 1)

    def moved_to(self, state: JobState, now: datetime) -> "Job":
        finished = None if state.is_active else now
        return replace(self, state=state, finished_at=finished)

"""What happened to a request. The aggregate records them; the application turns them into
outbox rows (job messages, domain events, notifications, refunds) in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # the aggregate imports this module; a runtime import would be circular
    from .models.job import Job


@dataclass(frozen=True)
class DomainEvent:
    name: ClassVar[str] = ""  # routing key on the generation_events exchange, if published
    request_id: str
    user_id: str


@dataclass(frozen=True)
class GenerationRequested(DomainEvent):
    name: ClassVar[str] = "generation.requested"


@dataclass(frozen=True)
class JobDispatched(DomainEvent):
    job: Job


@dataclass(frozen=True)
class SamplesReady(DomainEvent):
    name: ClassVar[str] = "generation.samples_ready"
    sample_round: int


@dataclass(frozen=True)
class FinalAssetReady(DomainEvent):
    name: ClassVar[str] = "generation.completed"


@dataclass(frozen=True)
class GenerationFailed(DomainEvent):
    """A system-side failure: the failed step's price is refundable."""

    name: ClassVar[str] = "generation.failed"
    error_code: str
    error_message: str
    refundable: Decimal
    job_id: str | None
    unsettled: Decimal = Decimal(0)  # a charge whose outcome is unknown: settle, then refund


@dataclass(frozen=True)
class ContentRejected(DomainEvent):
    """The model refused the prompt: not refunded (REQ-016)."""

    name: ClassVar[str] = "generation.failed"
    error_code: str
    error_message: str


@dataclass(frozen=True)
class GenerationCancelled(DomainEvent):
    name: ClassVar[str] = "generation.cancelled"
    refundable: Decimal
    job_id: str | None


@dataclass(frozen=True)
class ImagesReleased(DomainEvent):
    """Images the request lets go of: their rows go at once, the objects through the outbox."""

    images: tuple[tuple[str, str], ...]  # (asset id, format) of every image its jobs could make


@dataclass(frozen=True)
class RequestDeleted(ImagesReleased):
    """Its texts erased and its images to be deleted from storage (contract §6)."""

    name: ClassVar[str] = "generation.deleted"


@dataclass(frozen=True)
class AssetsExpired(ImagesReleased):
    """Its images were older than ASSET_RETENTION_DAYS (contract §6): deleted, texts kept."""

    name: ClassVar[str] = "generation.assets_expired"


@dataclass(frozen=True)
class AssetsExpiring(DomainEvent):
    """Its owner is told ahead (ASSET_RETENTION_NOTICE_DAYS) when its images will be deleted."""

    name: ClassVar[str] = "generation.assets_expiring"
    expires_at: datetime

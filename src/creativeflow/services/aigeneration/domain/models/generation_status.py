from enum import StrEnum


class GenerationStatus(StrEnum):
    PENDING = "pending"
    VALIDATING_CREDITS = "validating_credits"
    PUBLISHING_TO_QUEUE = "publishing_to_queue"
    PROCESSING_SAMPLES = "processing_samples"
    AWAITING_SELECTION = "awaiting_selection"
    PROCESSING_FINAL = "processing_final"
    COMPLETED = "completed"
    FAILED = "failed"
    CONTENT_REJECTED = "content_rejected"
    CANCELLED = "cancelled"
    DELETED = "deleted"  # a tombstone: texts erased, images deleted, costs kept

    @property
    def ends_stream(self) -> bool:
        """The event stream closes after this status (a later move is watched on a new one)."""
        return self in TERMINAL_STATUSES or self is GenerationStatus.COMPLETED

    @property
    def is_processing(self) -> bool:
        """Work is under way for the request: it counts against the user's active limit."""
        return self in PROCESSING_STATUSES


TERMINAL_STATUSES = frozenset(
    {GenerationStatus.CONTENT_REJECTED, GenerationStatus.CANCELLED, GenerationStatus.DELETED}
)
PROCESSING_STATUSES = frozenset(
    {
        GenerationStatus.PENDING,
        GenerationStatus.VALIDATING_CREDITS,
        GenerationStatus.PUBLISHING_TO_QUEUE,
        GenerationStatus.PROCESSING_SAMPLES,
        GenerationStatus.PROCESSING_FINAL,
    }
)

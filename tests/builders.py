"""Requests in every status, built only through the aggregate's own moves."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from creativeflow.services.aigeneration.domain.formats import Dimensions, Resolution
from creativeflow.services.aigeneration.domain.models import (
    AssetInfo,
    GenerationParameters,
    GenerationRequest,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SAMPLE_PRICE = Decimal("0.25")
FINAL_PRICE = Decimal("1")


def parameters(format: str = "instagram_post") -> GenerationParameters:
    return GenerationParameters(
        prompt="a red fox in a neon city", format=format, dimensions=Dimensions(1080, 1080)
    )


def samples(job_id: str = "job-1", count: int = 4) -> list[AssetInfo]:
    """The images a samples job delivers: its output ids, at the sample size."""
    return [AssetInfo(f"{job_id}-{i}", 512, 512, "png", 1000, "ab" * 32) for i in range(count)]


def final_asset(resolution: str = "1080x1080", job_id: str = "job-2") -> AssetInfo:
    width, height = (int(edge) for edge in resolution.split("x"))
    return AssetInfo(f"{job_id}-0", width, height, "png", 5000, "cd" * 32)


def pending() -> GenerationRequest:
    return GenerationRequest.create(
        request_id="req-1", user_id="alice", project_id="p1", parameters=parameters(), now=T0
    )


def validating_credits() -> GenerationRequest:
    request = pending()
    request.start_credit_check("job-1", SAMPLE_PRICE, T0)
    return request


def publishing_to_queue() -> GenerationRequest:
    request = validating_credits()
    request.credits_charged(T0)
    return request


def processing_samples() -> GenerationRequest:
    request = publishing_to_queue()
    request.job_dispatched(T0, T0 + timedelta(minutes=2))
    return request


def awaiting_selection() -> GenerationRequest:
    request = processing_samples()
    request.apply_samples("job-1", samples(), "model-a", T0 + timedelta(seconds=5))
    return request


def processing_final(resolution: Resolution = Resolution.STANDARD) -> GenerationRequest:
    request = awaiting_selection()
    request.select_sample("job-1-2", resolution, "png", "job-2", FINAL_PRICE, T0)
    request.credits_charged(T0)
    request.job_dispatched(T0 + timedelta(seconds=6), T0 + timedelta(minutes=10))
    return request


def completed() -> GenerationRequest:
    request = processing_final()
    request.apply_final("job-2", final_asset(), "model-b", T0 + timedelta(seconds=20))
    return request


def failed_with_samples() -> GenerationRequest:
    request = processing_final()
    request.fail("job-2", "model_error", "boom", True, T0 + timedelta(seconds=9))
    return request


def failed_without_samples() -> GenerationRequest:
    request = processing_samples()
    request.fail("job-1", "model_error", "boom", True, T0 + timedelta(seconds=3))
    return request


def content_rejected() -> GenerationRequest:
    request = processing_samples()
    request.fail("job-1", "content_policy_violation", "no", False, T0 + timedelta(seconds=3))
    return request


def cancelled() -> GenerationRequest:
    request = awaiting_selection()
    request.cancel(T0 + timedelta(seconds=30))
    return request


def deleted() -> GenerationRequest:
    request = completed()
    request.delete(T0 + timedelta(seconds=40))
    return request


BUILDERS = {
    "pending": pending,
    "validating_credits": validating_credits,
    "publishing_to_queue": publishing_to_queue,
    "processing_samples": processing_samples,
    "awaiting_selection": awaiting_selection,
    "processing_final": processing_final,
    "completed": completed,
    "failed_with_samples": failed_with_samples,
    "failed_without_samples": failed_without_samples,
    "content_rejected": content_rejected,
    "cancelled": cancelled,
    "deleted": deleted,
}

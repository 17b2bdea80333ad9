"""Callbacks apply once, to the current job only; repeats are duplicates, stale ones ignored."""

from datetime import timedelta
from decimal import Decimal

import pytest

from creativeflow.services.aigeneration.domain.errors import DomainError, UnknownJob
from creativeflow.services.aigeneration.domain.events import ContentRejected, GenerationFailed
from creativeflow.services.aigeneration.domain.models import CallbackOutcome as Outcome

from ..builders import BUILDERS, SAMPLE_PRICE, T0, final_asset, samples

LATER = T0 + timedelta(minutes=1)


def test_samples_apply_once_then_are_duplicates() -> None:
    request = BUILDERS["processing_samples"]()
    assert request.apply_samples("job-1", samples(), "m", LATER) is Outcome.APPLIED
    assert request.status == "awaiting_selection"
    assert request.apply_samples("job-1", samples(), "m", LATER) is Outcome.DUPLICATE


def test_samples_of_a_replaced_round_are_ignored() -> None:
    request = BUILDERS["failed_without_samples"]()
    request.regenerate("job-2", SAMPLE_PRICE, LATER)
    request.credits_charged(LATER)
    request.job_dispatched(LATER, LATER + timedelta(minutes=2))
    assert request.apply_samples("job-1", samples("job-1"), "m", LATER) is Outcome.IGNORED
    assert request.status == "processing_samples"


def test_a_result_after_cancel_is_ignored() -> None:
    request = BUILDERS["processing_final"]()
    request.cancel(LATER)
    assert request.apply_final("job-2", final_asset(), "m", LATER) is Outcome.IGNORED
    assert request.status == "cancelled"


def test_a_late_error_after_the_final_is_ignored() -> None:
    request = BUILDERS["completed"]()
    assert request.fail("job-2", "model_error", "late", True, LATER) is Outcome.IGNORED
    assert request.status == "completed"


def test_an_error_applies_once_and_its_repeat_is_a_duplicate() -> None:
    request = BUILDERS["processing_final"]()
    request.pull_events()
    assert request.fail("job-2", "model_error", "x", True, LATER) is Outcome.APPLIED
    (event,) = request.pull_events()
    assert isinstance(event, GenerationFailed)
    assert event.refundable == Decimal("1")
    assert request.fail("job-2", "model_error", "x", True, LATER) is Outcome.DUPLICATE
    assert request.pull_events() == []


def test_a_content_refusal_is_terminal_and_not_refundable() -> None:
    request = BUILDERS["processing_samples"]()
    request.pull_events()
    request.fail("job-1", "content_policy_violation", "no", False, LATER)
    assert request.status == "content_rejected"
    assert request.retryable is False
    (event,) = request.pull_events()
    assert isinstance(event, ContentRejected)


def test_a_callback_for_a_job_never_dispatched_is_refused() -> None:
    request = BUILDERS["processing_samples"]()
    with pytest.raises(UnknownJob):
        request.apply_samples("job-x", samples(), "m", LATER)


def test_a_samples_callback_for_a_final_job_is_refused() -> None:
    request = BUILDERS["processing_final"]()
    with pytest.raises(DomainError):
        request.apply_samples("job-2", samples(), "m", LATER)


def test_the_final_records_its_timing() -> None:
    request = BUILDERS["completed"]()
    assert request.final_asset == final_asset()
    assert request.total_ms == 20_000

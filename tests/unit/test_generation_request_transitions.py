"""Every status x every move of the contract's table: allowed moves land where the table says
and record events; every other move raises and leaves the request exactly as it was."""

import copy
from collections.abc import Callable
from datetime import timedelta

import pytest

from creativeflow.services.aigeneration.domain.errors import DomainError
from creativeflow.services.aigeneration.domain.formats import Resolution
from creativeflow.services.aigeneration.domain.models import (
    MOVES,
    GenerationRequest,
    GenerationStatus,
    JobState,
    Move,
    Strength,
)
from creativeflow.services.aigeneration.domain.models.status_table import USER_MOVES, lands

from ..builders import BUILDERS, FINAL_PRICE, SAMPLE_PRICE, T0

LATER = T0 + timedelta(minutes=1)

ACTIONS: dict[str, Callable[[GenerationRequest], object]] = {
    "start_credit_check": lambda r: r.start_credit_check("job-new", SAMPLE_PRICE, LATER),
    "regenerate": lambda r: r.regenerate("job-new", SAMPLE_PRICE, LATER),
    "select_sample": lambda r: r.select_sample(
        "job-1-0", Resolution.HIGH, "png", "job-new", FINAL_PRICE, LATER
    ),
    "vary": lambda r: r.vary("job-1-0", Strength.STRONG, None, "job-new", SAMPLE_PRICE, LATER),
    "credits_charged": lambda r: r.credits_charged(LATER),
    "credits_declined": lambda r: r.credits_declined(LATER),
    "job_dispatched": lambda r: r.job_dispatched(LATER, LATER + timedelta(minutes=2)),
    "fail_step": lambda r: r.fail_step("timeout", "too slow", True, LATER),
    "cancel": lambda r: r.cancel(LATER),
    "delete": lambda r: r.delete(LATER),
}

# (status the request is in, action) -> status it moves to. Everything absent is refused.
ALLOWED = {
    ("pending", "start_credit_check"): "validating_credits",
    ("validating_credits", "credits_charged"): "publishing_to_queue",
    ("validating_credits", "credits_declined"): "failed",
    ("validating_credits", "fail_step"): "failed",
    ("publishing_to_queue", "job_dispatched"): "processing_samples",
    ("publishing_to_queue", "fail_step"): "failed",
    ("processing_samples", "fail_step"): "failed",
    ("processing_samples", "cancel"): "cancelled",
    ("awaiting_selection", "regenerate"): "validating_credits",
    ("awaiting_selection", "select_sample"): "validating_credits",
    ("awaiting_selection", "vary"): "validating_credits",
    ("awaiting_selection", "cancel"): "cancelled",
    ("completed", "regenerate"): "validating_credits",
    ("completed", "select_sample"): "validating_credits",
    ("completed", "vary"): "validating_credits",
    ("processing_final", "fail_step"): "failed",
    ("processing_final", "cancel"): "cancelled",
    ("failed_with_samples", "regenerate"): "validating_credits",
    ("failed_with_samples", "select_sample"): "validating_credits",
    ("failed_with_samples", "vary"): "validating_credits",
    ("failed_with_samples", "cancel"): "cancelled",
    ("failed_without_samples", "regenerate"): "validating_credits",
    ("failed_without_samples", "cancel"): "cancelled",
    **{
        (state, "delete"): "deleted"
        for state in (
            "awaiting_selection",
            "completed",
            "failed_with_samples",
            "failed_without_samples",
            "content_rejected",
            "cancelled",
        )
    },
}

CASES = [(state, action) for state in BUILDERS for action in ACTIONS]


def snapshot(request: GenerationRequest) -> dict[str, object]:
    return copy.deepcopy(vars(request))


@pytest.mark.parametrize(("state", "action"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
def test_each_move_is_allowed_exactly_where_the_table_says(state: str, action: str) -> None:
    request = BUILDERS[state]()
    request.pull_events()
    before = snapshot(request)

    if (state, action) == ("deleted", "delete"):  # a repeated DELETE: 204, nothing changed
        assert ACTIONS[action](request) is False
        assert snapshot(request) == before
    elif (state, action) in ALLOWED:
        ACTIONS[action](request)
        assert request.status == ALLOWED[(state, action)]
        assert request.updated_at == LATER
        assert len([j for j in request.jobs if j.state.is_active]) <= 1
    else:
        with pytest.raises(DomainError):
            ACTIONS[action](request)
        assert snapshot(request) == before


@pytest.mark.parametrize(
    ("state", "action"),
    [k for k in ALLOWED if k[1] in {"credits_declined", "fail_step", "cancel"}],
)
def test_moves_that_end_a_step_record_an_event(state: str, action: str) -> None:
    request = BUILDERS[state]()
    request.pull_events()
    ACTIONS[action](request)
    assert request.pull_events(), "a status change that ends a step must be announced"


def test_a_regeneration_starts_a_new_round_and_keeps_the_old_one() -> None:
    request = BUILDERS["awaiting_selection"]()
    old = request.samples
    request.regenerate("job-2", SAMPLE_PRICE, LATER, seed=7)
    assert request.sample_round == 2
    assert request.samples == old  # the newest round that delivered, until the new one does
    assert [job.round for job in request.rounds] == [1, 2]
    assert request.current_job is not None
    assert request.current_job.charge_key == "samples:2"
    assert request.current_job.seed == 7


# Contract 1.1 §7, the user moves' table, copied row by row: status -> (select-sample,
# regenerate, vary, cancel, DELETE); "-" = 409 invalid_state. "failed" is split as the contract
# splits it; `deleted` answers a DELETE with 204 and changes nothing (no move).
SAMP, FIN, GONE = "processing_samples", "processing_final", "deleted"
CONTRACT_TABLE = {
    "pending": ("-", "-", "-", "-", "-"),
    "validating_credits": ("-", "-", "-", "-", "-"),
    "publishing_to_queue": ("-", "-", "-", "-", "-"),
    "processing_samples": ("-", "-", "-", "cancelled", "-"),
    "processing_final": ("-", "-", "-", "cancelled", "-"),
    "awaiting_selection": (FIN, SAMP, SAMP, "cancelled", GONE),
    "completed": (FIN, SAMP, SAMP, "-", GONE),
    "failed_with_samples": (FIN, SAMP, SAMP, "cancelled", GONE),
    "failed_without_samples": ("-", SAMP, "-", "cancelled", GONE),
    "content_rejected": ("-", "-", "-", "-", GONE),
    "cancelled": ("-", "-", "-", "-", GONE),
    "deleted": ("-", "-", "-", "-", "-"),
}
TABLE_MOVES = (Move.SELECT, Move.REGENERATE, Move.VARY, Move.CANCEL, Move.DELETE)


def test_the_status_table_is_the_contracts() -> None:
    """The data the aggregate reads is the contract's table (the samples condition aside): a
    user's move, charged and dispatched, lands where the contract says."""
    for row, targets in CONTRACT_TABLE.items():
        status = GenerationStatus(
            row.removesuffix("_with_samples").removesuffix("_without_samples")
        )
        for move, expected in zip(TABLE_MOVES, targets, strict=True):
            if row == "failed_without_samples" and move in (Move.SELECT, Move.VARY):
                continue  # the table's row allows it; the missing sample refuses it
            assert (lands(status, move) or "-") == expected, (row, move)
    assert {status for status, _ in MOVES} <= set(GenerationStatus)
    assert set(TABLE_MOVES) == set(USER_MOVES)


# The system's moves, as the contract describes them: a step's charge and dispatch; callbacks
# move processing_samples -> awaiting_selection and processing_final -> completed (an error ->
# failed, a policy refusal -> content_rejected); the deadline sweep and the admin "fail" move a
# step under way to failed. Every (status, system move) not listed here is refused.
SYSTEM_TABLE = {
    ("pending", Move.START): "validating_credits",
    ("validating_credits", Move.CHARGED): "publishing_to_queue",
    ("validating_credits", Move.DECLINED): "failed",
    ("publishing_to_queue", Move.DISPATCH_SAMPLES): "processing_samples",
    ("publishing_to_queue", Move.DISPATCH_FINAL): "processing_final",
    ("processing_samples", Move.SAMPLES_READY): "awaiting_selection",
    ("processing_final", Move.FINAL_READY): "completed",
    ("processing_samples", Move.REJECT): "content_rejected",
    ("processing_final", Move.REJECT): "content_rejected",
    ("validating_credits", Move.FAIL): "failed",
    ("publishing_to_queue", Move.FAIL): "failed",
    ("processing_samples", Move.FAIL): "failed",
    ("processing_final", Move.FAIL): "failed",
    ("processing_samples", Move.TIME_OUT): "failed",
    ("processing_final", Move.TIME_OUT): "failed",
}


def test_the_status_table_holds_every_system_move_and_no_other() -> None:
    system_moves = [move for move in Move if move not in USER_MOVES]
    for status in GenerationStatus:
        for move in system_moves:
            expected = SYSTEM_TABLE.get((status.value, move))
            assert MOVES.get((status, move)) == expected, (status, move)


def test_a_users_move_starts_its_step_by_charging_it() -> None:
    for (status, move), moved in MOVES.items():
        if move in (Move.SELECT, Move.REGENERATE, Move.VARY):
            assert moved is GenerationStatus.VALIDATING_CREDITS, (status, move)


@pytest.mark.parametrize("state", list(CONTRACT_TABLE))
def test_the_aggregate_follows_the_contracts_table(state: str) -> None:
    """Each user move, from each row: allowed moves reach the table's status once dispatched."""
    actions = ("select_sample", "regenerate", "vary", "cancel", "delete")
    for action, expected in zip(actions, CONTRACT_TABLE[state], strict=True):
        request = BUILDERS[state]()
        if (state, action) == ("deleted", "delete"):
            assert ACTIONS[action](request) is False  # 204 again, nothing changed
            continue
        if expected == "-":
            with pytest.raises(DomainError):
                ACTIONS[action](request)
            continue
        ACTIONS[action](request)
        if request.status is GenerationStatus.VALIDATING_CREDITS:
            request.credits_charged(LATER)
            request.job_dispatched(LATER, LATER + timedelta(minutes=2))
        assert request.status == expected, (state, action)


def test_selecting_a_sample_that_is_not_in_the_round_changes_nothing() -> None:
    request = BUILDERS["awaiting_selection"]()
    before = snapshot(request)
    with pytest.raises(DomainError):
        request.select_sample("nope", Resolution.STANDARD, "png", "job-2", FINAL_PRICE, LATER)
    assert snapshot(request) == before


def test_cancelling_a_dispatched_step_makes_its_price_refundable() -> None:
    request = BUILDERS["processing_final"]()
    request.pull_events()
    request.cancel(LATER)
    (event,) = request.pull_events()
    assert event.refundable == FINAL_PRICE  # type: ignore[attr-defined]
    assert request.jobs[-1].state is JobState.CANCELLED
    assert request.finished_at == LATER

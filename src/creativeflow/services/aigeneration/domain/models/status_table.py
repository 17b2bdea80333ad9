"""Every move of a request as data: `(status, move) -> status`. The aggregate reads this table
and nothing else, both to decide whether a move is allowed and to set the status it lands in;
a pair that is not here is `409 invalid_state` (or, for a result of n8n, `ignored`).

The user's moves (contract 1.1 §7) start a step: it is charged first (`validating_credits`),
then dispatched, landing in `processing_samples` or `processing_final` (`lands` follows those
system moves; a test compares it with the contract's table, row by row). The system's moves
are the step's charge and dispatch, n8n's results, the deadline sweep and the operator's fail.
Each value is the phrase an error names: "cannot {move} a request that is {status}"."""

from collections.abc import Mapping
from enum import StrEnum

from .generation_status import GenerationStatus as S


class Move(StrEnum):
    # the user's
    SELECT = "select a sample of"
    REGENERATE = "regenerate samples of"
    VARY = "vary a sample of"
    CANCEL = "cancel"
    DELETE = "delete"
    # the system's
    START = "start generating"
    CHARGED = "confirm the charge of"
    DECLINED = "decline the charge of"
    DISPATCH_SAMPLES = "dispatch the samples job of"
    DISPATCH_FINAL = "dispatch the final job of"
    SAMPLES_READY = "apply samples to"
    FINAL_READY = "apply a final to"
    REJECT = "reject the content of"
    FAIL = "fail"  # a system-side failure of the step: n8n's error, the broker, the operator
    TIME_OUT = "time out"


USER_MOVES = (Move.SELECT, Move.REGENERATE, Move.VARY, Move.CANCEL, Move.DELETE)
# Moves that name a sample: allowed only once some round has delivered one.
NAMES_A_SAMPLE = frozenset({Move.SELECT, Move.VARY})
# A new step is charged first, from every status a creative move is allowed in.
_STEP = S.VALIDATING_CREDITS
_CREATIVE = (S.AWAITING_SELECTION, S.COMPLETED, S.FAILED)
_PROCESSING = (S.PROCESSING_SAMPLES, S.PROCESSING_FINAL)
_STEP_UNDER_WAY = (S.VALIDATING_CREDITS, S.PUBLISHING_TO_QUEUE, *_PROCESSING)

MOVES: Mapping[tuple[S, Move], S] = {
    (S.PENDING, Move.START): _STEP,
    **{(status, Move.SELECT): _STEP for status in _CREATIVE},
    **{(status, Move.VARY): _STEP for status in _CREATIVE},
    **{(status, Move.REGENERATE): _STEP for status in _CREATIVE},
    (S.VALIDATING_CREDITS, Move.CHARGED): S.PUBLISHING_TO_QUEUE,
    (S.VALIDATING_CREDITS, Move.DECLINED): S.FAILED,
    (S.PUBLISHING_TO_QUEUE, Move.DISPATCH_SAMPLES): S.PROCESSING_SAMPLES,
    (S.PUBLISHING_TO_QUEUE, Move.DISPATCH_FINAL): S.PROCESSING_FINAL,
    (S.PROCESSING_SAMPLES, Move.SAMPLES_READY): S.AWAITING_SELECTION,
    (S.PROCESSING_FINAL, Move.FINAL_READY): S.COMPLETED,
    **{(status, Move.REJECT): S.CONTENT_REJECTED for status in _PROCESSING},
    **{(status, Move.FAIL): S.FAILED for status in _STEP_UNDER_WAY},
    **{(status, Move.TIME_OUT): S.FAILED for status in _PROCESSING},
    **{(status, Move.CANCEL): S.CANCELLED for status in (*_PROCESSING, S.AWAITING_SELECTION)},
    (S.FAILED, Move.CANCEL): S.CANCELLED,
    **{
        (status, Move.DELETE): S.DELETED for status in (*_CREATIVE, S.CONTENT_REJECTED, S.CANCELLED)
    },
}
# How a step the user started is dispatched, by what it makes.
DISPATCH = {Move.SELECT: Move.DISPATCH_FINAL}


def target(status: S, move: Move) -> S | None:
    """Where `move` takes a request in `status`; None when the table forbids it."""
    return MOVES.get((status, move))


def lands(status: S, move: Move) -> S | None:
    """Where a user's move leaves the request once its step is charged and dispatched (what
    the contract's table shows); None when the table forbids it."""
    moved = target(status, move)
    if moved is not S.VALIDATING_CREDITS:
        return moved
    charged = target(moved, Move.CHARGED)
    assert charged is not None, "a step being charged can be confirmed"
    return target(charged, DISPATCH.get(move, Move.DISPATCH_SAMPLES))

"""The user's moves as data (contract 1.1 §7): `(status, move) -> status`. The aggregate reads
this table and nothing else to decide whether a move is allowed; a test compares it with the
contract's table, row by row. A pair that is not here is `409 invalid_state`."""

from collections.abc import Mapping
from enum import StrEnum

from .generation_status import GenerationStatus as S


class Move(StrEnum):
    SELECT = "select a sample of"
    REGENERATE = "regenerate samples of"
    VARY = "vary a sample of"
    CANCEL = "cancel"
    DELETE = "delete"


# Moves that name a sample: allowed only once some round has delivered one.
NAMES_A_SAMPLE = frozenset({Move.SELECT, Move.VARY})

MOVES: Mapping[tuple[S, Move], S] = {
    (S.PROCESSING_SAMPLES, Move.CANCEL): S.CANCELLED,
    (S.PROCESSING_FINAL, Move.CANCEL): S.CANCELLED,
    (S.AWAITING_SELECTION, Move.SELECT): S.PROCESSING_FINAL,
    (S.AWAITING_SELECTION, Move.REGENERATE): S.PROCESSING_SAMPLES,
    (S.AWAITING_SELECTION, Move.VARY): S.PROCESSING_SAMPLES,
    (S.AWAITING_SELECTION, Move.CANCEL): S.CANCELLED,
    (S.COMPLETED, Move.SELECT): S.PROCESSING_FINAL,
    (S.COMPLETED, Move.REGENERATE): S.PROCESSING_SAMPLES,
    (S.COMPLETED, Move.VARY): S.PROCESSING_SAMPLES,
    (S.FAILED, Move.SELECT): S.PROCESSING_FINAL,
    (S.FAILED, Move.REGENERATE): S.PROCESSING_SAMPLES,
    (S.FAILED, Move.VARY): S.PROCESSING_SAMPLES,
    (S.FAILED, Move.CANCEL): S.CANCELLED,
    (S.AWAITING_SELECTION, Move.DELETE): S.DELETED,
    (S.COMPLETED, Move.DELETE): S.DELETED,
    (S.FAILED, Move.DELETE): S.DELETED,
    (S.CONTENT_REJECTED, Move.DELETE): S.DELETED,
    (S.CANCELLED, Move.DELETE): S.DELETED,
}


def target(status: S, move: Move) -> S | None:
    """Where `move` takes a request in `status`; None when the table forbids it."""
    return MOVES.get((status, move))

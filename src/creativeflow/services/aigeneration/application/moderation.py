"""Prompt pre-moderation: checked before any charge, so a refused prompt costs nothing."""

import re
from collections.abc import Iterable
from typing import Protocol


class PromptModerator(Protocol):
    def violation(self, *texts: str | None) -> str | None:
        """The term that breaks the policy, or None when the texts may go to the model."""


class BlocklistModerator:
    """Whole-word, case-insensitive match against a configured list of terms and phrases."""

    def __init__(self, terms: Iterable[str]) -> None:
        words = sorted({t.strip().lower() for t in terms if t.strip()}, key=len, reverse=True)
        self._pattern = (
            re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
            if words
            else None
        )

    def violation(self, *texts: str | None) -> str | None:
        if self._pattern is None:
            return None
        for text in texts:
            if text and (match := self._pattern.search(text)):
                return match.group(1).lower()
        return None

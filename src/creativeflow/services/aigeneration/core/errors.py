"""Errors raised in the HTTP layer itself (below api/ nothing knows about HTTP)."""

from typing import Any

from ..domain.errors import ErrorCode


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

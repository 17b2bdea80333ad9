"""The error body of contract §1, documented on every route so clients (and schemathesis) can
rely on its shape; answers serialised once."""

from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel, Field

DESCRIPTIONS = {
    401: "Missing or invalid bearer token (or callback signature)",
    402: "Not enough credits",
    403: "The link is not valid or has expired (forbidden)",
    404: "No such request for this user",
    409: "The request's status does not allow this, or the Idempotency-Key is in flight",
    413: "The body is too large",
    422: "Invalid input (validation_error, unsupported_image, invalid_output, …)",
    429: "Too many requests of this user are still processing",
    431: "The request headers are too large",
    503: "A dependency is unavailable; retry after Retry-After seconds",
}


class ErrorBody(BaseModel):
    code: str = Field(description="For programs: `validation_error`, `not_found`, …")
    message: str = Field(description="A sentence for a person")
    details: list[dict[str, Any]] = Field(
        description="Per field or item: `{field, message}` (may be empty)"
    )
    request_id: str = Field(description="The request's `X-Request-ID`, also in the logs")


class ErrorResponse(BaseModel):
    """Every error answer of the service (contract §1)."""

    error: ErrorBody = Field(description="What went wrong")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all with the one error body."""
    common = (413, 422, 431)
    return {
        code: {"model": ErrorResponse, "description": DESCRIPTIONS[code]}
        for code in sorted({*codes, *common})
    }


@dataclass(frozen=True)
class Answer:
    """An answer in its wire form (the read side's JSON), with its status and headers."""

    body: Any
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return as_json(self.body, self.status_code, self.headers)


def as_json(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """An answer already in its wire form (application/read_side.py), serialised once. Returning a
    model instead has FastAPI dump it, validate it again against the route's `response_model`
    and serialise it: three passes, a quarter of a list page's CPU. The route keeps
    `response_model` for its docs."""
    return Response(orjson.dumps(content), status_code, headers, media_type="application/json")

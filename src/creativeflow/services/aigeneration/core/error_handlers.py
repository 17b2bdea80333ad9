"""One table from our errors to HTTP, one body shape (contract §1 "Errors"), no stack traces."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..application.correlation import request_id_var
from ..application.errors import (
    ApplicationError,
    ContentPolicyViolation,
    DependencyUnavailable,
    Forbidden,
    InsufficientCredits,
    NotFound,
    TooLarge,
    TooManyActiveRequests,
    UnsupportedImage,
    UploadRefused,
)
from ..domain.errors import (
    ErrorCode,
    InvalidOutput,
    InvalidStateTransition,
    InvalidValue,
    JobKindMismatch,
    UnknownJob,
)
from .errors import ApiError
from .security import Unauthenticated

_STATUS: dict[type[Exception], tuple[int, ErrorCode]] = {
    NotFound: (404, ErrorCode.NOT_FOUND),
    Forbidden: (403, ErrorCode.FORBIDDEN),
    TooLarge: (413, ErrorCode.PAYLOAD_TOO_LARGE),
    UploadRefused: (409, ErrorCode.INVALID_STATE),
    UnsupportedImage: (422, ErrorCode.UNSUPPORTED_IMAGE),
    UnknownJob: (404, ErrorCode.NOT_FOUND),
    InsufficientCredits: (402, ErrorCode.INSUFFICIENT_CREDITS),
    InvalidStateTransition: (409, ErrorCode.INVALID_STATE),
    DependencyUnavailable: (503, ErrorCode.DEPENDENCY_UNAVAILABLE),
    ContentPolicyViolation: (422, ErrorCode.CONTENT_POLICY_VIOLATION),
    TooManyActiveRequests: (429, ErrorCode.TOO_MANY_ACTIVE_REQUESTS),
    InvalidValue: (422, ErrorCode.VALIDATION_ERROR),
    JobKindMismatch: (422, ErrorCode.VALIDATION_ERROR),
    InvalidOutput: (422, ErrorCode.INVALID_OUTPUT),
}
_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    431: ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
}


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details or [],
            "request_id": request_id_var.get(),
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain_or_application_error(request: Request, exc: Exception) -> JSONResponse:
    status, code = next(
        (value for kind, value in _STATUS.items() if isinstance(exc, kind)),
        (500, ErrorCode.INTERNAL_ERROR),
    )
    headers = None
    details: list[dict[str, Any]] = []
    if isinstance(exc, DependencyUnavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    if isinstance(exc, InvalidValue):
        details = [{"field": exc.field, "message": exc.message}]
    if isinstance(exc, InvalidOutput):
        details = [{"asset_id": asset, "message": why} for asset, why in exc.problems.items()]
    message = exc.message if isinstance(exc, ApplicationError) else str(exc)
    return error_response(status, code, _sentence(message), details, headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [
        {
            "field": ".".join(str(part) for part in error["loc"] if part != "body") or "body",
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    fields = ", ".join(dict.fromkeys(d["field"] for d in details))
    return error_response(422, ErrorCode.VALIDATION_ERROR, f"Invalid input: {fields}.", details)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


async def _unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
    return error_response(
        401,
        ErrorCode.UNAUTHENTICATED,
        exc.message,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, _sentence(str(exc.detail)), headers=headers)


def _sentence(message: str) -> str:
    message = message.strip() or "Request failed"
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(Unauthenticated, _unauthenticated)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    for kind in (
        ApplicationError,
        InvalidStateTransition,
        InvalidValue,
        UnknownJob,
        JobKindMismatch,
        InvalidOutput,
    ):
        app.add_exception_handler(kind, _domain_or_application_error)
    # an unexpected exception becomes a 500 in api/middleware.py (RequestIdMiddleware), where
    # the request id is still known

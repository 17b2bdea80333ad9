"""Errors the domain raises when asked to do something its rules forbid, and the codes every
error is known by (contract §1 "Errors"): the domain records some on a request, the use cases
raise the others, the API answers with them."""

from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "validation_error"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    INVALID_STATE = "invalid_state"
    IDEMPOTENCY_KEY_IN_FLIGHT = "idempotency_key_in_flight"
    IDEMPOTENCY_KEY_MISMATCH = "idempotency_key_mismatch"
    TOO_MANY_ACTIVE_REQUESTS = "too_many_active_requests"
    TOO_MANY_ACTIVE_UPLOADS = "too_many_active_uploads"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable"
    OVERLOADED = "overloaded"
    INVALID_OUTPUT = "invalid_output"
    UNSUPPORTED_IMAGE = "unsupported_image"
    CONTENT_POLICY_VIOLATION = "content_policy_violation"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    REQUEST_TIMEOUT = "request_timeout"
    REQUEST_HEADER_FIELDS_TOO_LARGE = "request_header_fields_too_large"
    BAD_REQUEST = "bad_request"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    HTTP_ERROR = "http_error"
    INTERNAL_ERROR = "internal_error"


class DomainError(Exception):
    """Base class: a rule of the domain was broken and nothing was changed."""


class InvalidStateTransition(DomainError):
    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"cannot {action} a request that is {status}")
        self.action = action
        self.status = status


class InvalidValue(DomainError):
    """A value object was built from a value it does not accept."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownJob(DomainError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} was not dispatched for this request")
        self.job_id = job_id


class JobKindMismatch(DomainError):
    def __init__(self, job_id: str, expected: str, actual: str) -> None:
        super().__init__(f"job {job_id} is a {actual} job, not a {expected} job")
        self.job_id = job_id


class InvalidOutput(DomainError):
    """A callback names images that are not what its job asked for: nothing is applied, and
    n8n may call back again with the right ones before the job's deadline."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{asset}: {reason}" for asset, reason in problems.items()))
        self.problems = problems  # asset id -> what is wrong with it

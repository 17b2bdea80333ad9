"""Errors of the use cases. core/error_handlers.py turns them (and the domain's) into HTTP."""

from ..domain.errors import ErrorCode


class ApplicationError(Exception):
    code = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ApplicationError):
    code = ErrorCode.NOT_FOUND


class InsufficientCredits(ApplicationError):
    code = ErrorCode.INSUFFICIENT_CREDITS


class CreditsDeclined(Exception):
    """Raised by a CreditGateway when the balance is short for a debit (the service's 402)."""


class DependencyUnavailable(ApplicationError):
    """A service we depend on (credit service, database, broker) cannot be reached now."""

    code = ErrorCode.DEPENDENCY_UNAVAILABLE

    def __init__(
        self, message: str, retry_after_seconds: int = 5, *, maybe_applied: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        # True when the call may have reached the service before it failed (a timeout, a 5xx):
        # a debit in that state must be settled, never assumed not to have happened.
        self.maybe_applied = maybe_applied


class DeliveryFailed(Exception):
    """An outbox delivery did not go through; the relay retries it later with backoff."""


class Undeliverable(Exception):
    """An outbox delivery that can never succeed (e.g. a webhook URL now pointing inside):
    the relay gives up on it at once instead of retrying."""


class ContentPolicyViolation(ApplicationError):
    """The prompt was refused before anything was charged (pre-moderation)."""

    code = ErrorCode.CONTENT_POLICY_VIOLATION


class TooManyActiveRequests(ApplicationError):
    code = ErrorCode.TOO_MANY_ACTIVE_REQUESTS


class Unfetchable(Exception):
    """An image URL that could not be fetched within the policy and limits (the reason)."""


class UnsupportedImage(ApplicationError):
    """An upload that is not a PNG, JPEG or WebP of an accepted size (or is an image bomb)."""

    code = ErrorCode.UNSUPPORTED_IMAGE


class Forbidden(ApplicationError):
    code = ErrorCode.FORBIDDEN


class TooLarge(ApplicationError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UploadRefused(ApplicationError):
    """An upload target that may no longer be written: written once already, or its job is
    no longer in flight (settled, cancelled, deleted, past its deadline)."""

    code = ErrorCode.INVALID_STATE

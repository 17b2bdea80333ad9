"""Errors of the use cases. core/error_handlers.py turns them (and the domain's) into HTTP."""


class ApplicationError(Exception):
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ApplicationError):
    code = "not_found"


class InsufficientCredits(ApplicationError):
    code = "insufficient_credits"


class CreditsDeclined(Exception):
    """Raised by a CreditGateway when the balance is short for a debit (the service's 402)."""


class DependencyUnavailable(ApplicationError):
    """A service we depend on (credit service, database, broker) cannot be reached now."""

    code = "dependency_unavailable"

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

    code = "content_policy_violation"


class TooManyActiveRequests(ApplicationError):
    code = "too_many_active_requests"


class Unfetchable(Exception):
    """An image URL that could not be fetched within the policy and limits (the reason)."""


class UnsupportedImage(ApplicationError):
    """An upload that is not a PNG, JPEG or WebP of an accepted size (or is an image bomb)."""

    code = "unsupported_image"


class Forbidden(ApplicationError):
    code = "forbidden"


class TooLarge(ApplicationError):
    code = "payload_too_large"


class UploadRefused(ApplicationError):
    """An upload target that may no longer be written: written once already, or its job is
    no longer in flight (settled, cancelled, deleted, past its deadline)."""

    code = "invalid_state"

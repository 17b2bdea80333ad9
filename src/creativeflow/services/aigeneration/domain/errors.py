"""Errors the domain raises when asked to do something its rules forbid."""


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

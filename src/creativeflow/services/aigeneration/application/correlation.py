"""The correlation id (the X-Request-ID of the call that started the work) of what is being
done right now: set per HTTP request and per outbox delivery, read by every log line."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

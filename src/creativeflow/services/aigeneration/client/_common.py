"""What the sync and async clients share: the error type, request building, answer parsing."""

import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

from .models import GenerationRequestRead

RETRY_STATUSES = frozenset({502, 503, 504})
TERMINAL = frozenset({"completed", "content_rejected", "cancelled"})


class GenerationApiError(Exception):
    """An error answer of the service (contract §1): status, code, message, details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id


class WebhookEvent(BaseModel):
    event: str
    data: GenerationRequestRead


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def create_call(
    prompt: str,
    format_name: str,
    project_id: str,
    idempotency_key: str | None,
    fields: dict[str, Any],
    wait: int | None = None,
) -> Call:
    body = {"project_id": project_id, "prompt": prompt, "format": format_name, **fields}
    key = idempotency_key or f"client-{uuid.uuid4()}"  # one key for every retry of this create
    headers = {"Idempotency-Key": key, **prefer(wait)}
    return Call("POST", "/generation-requests", json=body, headers=headers)


def batch_call(requests: list[dict[str, Any]], idempotency_key: str | None) -> Call:
    key = idempotency_key or f"client-{uuid.uuid4()}"
    body = {"requests": requests}
    return Call("POST", "/generation-requests/batch", json=body, headers={"Idempotency-Key": key})


def prefer(wait: int | None) -> dict[str, str]:
    """`Prefer: wait=N`: the answer comes when the step settles (or after N seconds)."""
    return {"Prefer": f"wait={wait}"} if wait else {}


def selection(sample_id: str, resolution: str, output_format: str) -> dict[str, str]:
    return {
        "selected_sample_id": sample_id,
        "resolution": resolution,
        "output_format": output_format,
    }


def raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise GenerationApiError(response.status_code, "http_error", response.text[:500]) from None
    raise GenerationApiError(
        response.status_code,
        error.get("code", "http_error"),
        error.get("message", ""),
        error.get("details"),
        error.get("request_id"),
    )


def should_retry(response: httpx.Response | None) -> bool:
    return response is None or response.status_code in RETRY_STATUSES


def backoff(attempt: int, response: httpx.Response | None) -> float:
    retry_after = response.headers.get("retry-after") if response is not None else None
    return retry_delay(attempt, retry_after)


def retry_delay(attempt: int, retry_after: str | None) -> float:
    """Doubling from 0.5 s (capped at 10 s), never sooner than the answer's Retry-After (capped
    at 30 s), and up to half as long again at random: clients shed together must not all come
    back in the same second. The cap keeps a client that was shed many times in a row trying
    about as often as one shed once, so it is not starved by newcomers."""
    delay = min(0.5 * 2.0**attempt, 10.0)
    if retry_after and retry_after.isdigit():
        delay = max(delay, min(float(retry_after), 30.0))
    return delay * random.uniform(1.0, 1.5)  # noqa: S311 (spreads retries, no secret)

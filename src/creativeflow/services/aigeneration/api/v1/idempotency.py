"""`Idempotency-Key` on create and batch (contract §1, §7): the same key and body give back
the first response and charge once; another body under the key is 422; while the first is
still being processed, 409. Keys are per user and live in the database, so every replica agrees."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from ...application.ports import IdempotencyStore, StoredResponse
from ...core.errors import ApiError
from ...domain.errors import ErrorCode
from .responses import Answer


def body_hash(payload: BaseModel) -> str:
    canonical = json.dumps(payload.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def idempotent(
    store: IdempotencyStore,
    user_id: str,
    key: str,
    payload: BaseModel,
    create: Callable[[], Awaitable[tuple[Any, str | None]]],
    status_code: int,
) -> Answer:
    """The first answer under `key` (made by `create`: its body and `Location`), or its replay."""
    request_hash = body_hash(payload)
    stored = await store.begin(user_id, key, request_hash)
    if stored is not None:
        return _replay(stored, request_hash)
    try:
        body, location = await create()
    except BaseException:
        await store.release(user_id, key)  # a failed create may be retried with the same key
        raise
    await store.complete(user_id, key, StoredResponse(request_hash, status_code, body, location))
    return Answer(body, status_code, {"Location": location} if location else {})


def _replay(stored: StoredResponse, request_hash: str) -> Answer:
    if stored.request_hash != request_hash:
        raise ApiError(
            422,
            ErrorCode.IDEMPOTENCY_KEY_MISMATCH,
            "This Idempotency-Key was used with a different request body.",
        )
    if stored.status_code is None:
        raise ApiError(
            409,
            ErrorCode.IDEMPOTENCY_KEY_IN_FLIGHT,
            "The first request with this Idempotency-Key is still being processed.",
        )
    headers = {"Idempotent-Replayed": "true"}
    if stored.location:
        headers["Location"] = stored.location
    return Answer(stored.body, stored.status_code, headers)

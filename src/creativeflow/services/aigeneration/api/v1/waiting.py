"""`Prefer: wait[=N]` (RFC 7240, contract 1.1 §7): a move answers when its step has settled
(samples ready, final done, failed) or after N seconds, whichever is first — Replicate's sync
mode. The wait is woken by the notifications that drive the event stream (in process, and
PostgreSQL NOTIFY from other replicas), so it holds no thread and polls nothing."""

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request, Response

from ...application.read_side import request_view
from ...core.errors import ApiError
from ...domain.errors import ErrorCode
from ...domain.models import GenerationRequest
from ..dependencies import ApiServices, services_of
from ..load_shedding import release
from .responses import Answer, as_json

MAX_WAIT_SECONDS = 60
_WAIT = re.compile(r"^\s*wait\s*(?:=\s*\"?([^\s\";,]*)\"?)?\s*(?:;.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Wait:
    """A `Prefer: wait` the answer honours: how long, and the request it belongs to (whose
    place of work is given back while it waits: admitted like any request, it then holds no
    CPU, contract §7)."""

    seconds: int
    request: Request


async def preferred_wait(
    request: Request,
    prefer: Annotated[
        str | None,
        Header(
            max_length=256,
            description="`wait` or `wait=N` (1..60 seconds): answer `200` once the step has "
            "settled, or `202` as usual after N seconds (RFC 7240)",
            examples=["wait=30"],
        ),
    ] = None,
) -> Wait | None:
    """The wait the caller asks in a `Prefer` header; None when it asks none."""
    if prefer is None:
        return None
    for preference in prefer.split(","):
        match = _WAIT.match(preference)
        if match is None:
            continue  # another preference (respond-async, return=…): not ours to honour
        value = match.group(1)
        if value is None or value == "":
            return Wait(MAX_WAIT_SECONDS, request)
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_WAIT_SECONDS:
            raise ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                "Invalid input: header.prefer.",
                [{"field": "header.prefer", "message": f"wait must be 1..{MAX_WAIT_SECONDS}"}],
            )
        return Wait(int(value), request)
    return None


PreferWait = Annotated[Wait | None, Depends(preferred_wait)]


async def settled_answer(
    wait: Wait | None, answer: Answer, request_id: str, user_id: str
) -> Response:
    """With a wait asked for: the request once its step settles, as `200` with
    `Preference-Applied: wait`. Otherwise, or after `seconds` without that: `answer`, the
    usual `202` (or a replay of it)."""
    if wait is None:
        return answer.response()
    release(wait.request.scope)
    services = services_of(wait.request)
    request = await _settled(services, request_id, user_id, wait.seconds)
    if request is None:
        return answer.response()
    headers = {"Preference-Applied": "wait"}
    if location := answer.headers.get("Location"):
        headers["Location"] = location
    return as_json(request_view(request, services.links), 200, headers)


async def _settled(
    services: ApiServices, request_id: str, user_id: str, seconds: int
) -> GenerationRequest | None:
    reads = services.reads
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    with services.status_feed.subscribe(request_id) as changed:
        while True:
            request = await reads.get_generation_status(request_id, user_id)
            if not request.status.is_processing:
                return request
            left = until - loop.time()
            if left <= 0:
                return None
            # woken by a change; the recheck is a safety net for a missed notification
            with contextlib.suppress(TimeoutError):
                recheck = services.settings.sse_recheck_seconds
                await asyncio.wait_for(changed.wait(), min(left, recheck))
            changed.clear()

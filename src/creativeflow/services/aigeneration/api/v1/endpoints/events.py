"""`GET /generation-requests/{id}/events`: Server-Sent Events, one `status` event with the full
GenerationRequestRead at each change (its `id` is the request's version), heartbeats, resume
from `Last-Event-ID`, and the end of the stream after a terminal status."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from ....application.read_side import request_view
from ...dependencies import CurrentUser, ServicesDep
from ...load_shedding import release
from ..params import RequestIdPath
from ..responses import errors

router = APIRouter(prefix="/generation-requests", tags=["generation requests"])


@router.get(
    "/{request_id}/events",
    operation_id="streamGenerationRequestEvents",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(401, 404, 503)},
)
async def stream_generation_request_events(
    request_id: RequestIdPath,
    user: CurrentUser,
    services: ServicesDep,
    http_request: Request,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=20,
            description="Resume after this event (its `id`, the request's version)",
        ),
    ] = None,
) -> EventSourceResponse:
    reads, settings = services.reads, services.settings
    await reads.get_generation_status(request_id, user)  # 404 before the stream starts
    sent = _version(last_event_id)
    release(http_request.scope)  # a stream waits, holding no CPU: its place is given back

    async def events() -> AsyncIterator[ServerSentEvent]:
        nonlocal sent
        with services.status_feed.subscribe(request_id) as changed:
            while True:
                request = await reads.get_generation_status(request_id, user)
                if request.version > sent:
                    sent = request.version
                    data = json.dumps(request_view(request, services.links), separators=(",", ":"))
                    yield ServerSentEvent(data=data, event="status", id=str(request.version))
                if request.status.ends_stream:
                    return
                # woken by a change; the timeout is a safety net for a missed notification
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), settings.sse_recheck_seconds)
                changed.clear()

    return EventSourceResponse(
        events(),
        ping=settings.sse_heartbeat_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _version(last_event_id: str | None) -> int:
    """The version a client saw last, from `Last-Event-ID`; -1 (send the current) otherwise.
    ASCII digits only: str.isdigit() takes "²" too, which int() then refuses."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        return int(last_event_id)
    return -1

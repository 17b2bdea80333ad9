"""Domain events → outbox rows: everything a state change sends out, committed with it."""

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from ..domain.events import (
    AssetsExpiring,
    ContentRejected,
    DomainEvent,
    FinalAssetReady,
    GenerationCancelled,
    GenerationFailed,
    ImagesReleased,
    JobDispatched,
    SamplesReady,
)
from ..domain.models import GenerationRequest, Job
from ..domain.models.generation_parameters import WebhookEvent
from .assets import AssetLinks, output_key
from .credit_moves import debit_for, refund_for, to_payload
from .dtos import OrchestrationConfig
from .job_messages import job_headers, job_message
from .ports import Destination, OutboxMessage
from .read_side import request_summary, request_view

# the events an API user can subscribe to with webhook_url / webhook_events
_WEBHOOK_EVENTS: dict[type[DomainEvent], WebhookEvent] = {
    SamplesReady: WebhookEvent.SAMPLES_READY,
    FinalAssetReady: WebhookEvent.COMPLETED,
    GenerationFailed: WebhookEvent.FAILED,
    ContentRejected: WebhookEvent.FAILED,
    GenerationCancelled: WebhookEvent.CANCELLED,
}

_NOTIFICATIONS: dict[type[DomainEvent], tuple[str, str]] = {
    SamplesReady: ("generation.samples_ready", "Your samples are ready: pick one for the final."),
    FinalAssetReady: ("generation.completed", "Your creative is ready."),
    GenerationFailed: ("generation.failed", "Your generation failed. You can try again."),
    ContentRejected: (
        "generation.content_rejected",
        "Your prompt was declined by the content policy.",
    ),
    AssetsExpiring: (
        "generation.assets_expiring",
        "The images of this request will be deleted soon: download what you want to keep.",
    ),
}


def outbox_messages(
    request: GenerationRequest,
    events: Iterable[DomainEvent],
    config: OrchestrationConfig,
    links: AssetLinks,
) -> Iterator[OutboxMessage]:
    for message in _messages(request, events, config, links):
        if request.correlation_id:  # so every delivery logs under the request's correlation id
            message.headers.setdefault("correlation_id", request.correlation_id)
        yield message


def _messages(
    request: GenerationRequest,
    events: Iterable[DomainEvent],
    config: OrchestrationConfig,
    links: AssetLinks,
) -> Iterator[OutboxMessage]:
    for event in events:
        if isinstance(event, JobDispatched):
            sizes = config.model_selector.sizes(event.job.model)
            status = (
                config.status_links.for_job(request.id, event.job) if config.status_links else None
            )
            body = job_message(request, event.job, config.callback_urls, links, sizes, status)
            yield OutboxMessage(
                Destination.JOB, event.job.job_id, dict(body), job_headers(request, event.job)
            )
            continue
        yield _event_message(request, event)
        if isinstance(event, ImagesReleased):
            keys = [output_key(request, asset_id, fmt) for asset_id, fmt in event.images]
            yield OutboxMessage(
                Destination.DELETE_ASSETS, f"{request.id}:{event.name}", {"keys": keys}
            )
        if type(event) in _NOTIFICATIONS:
            yield _notification(request, event, links)
        refund = _refund(request, event, config)
        if refund is not None:
            yield refund
        webhook = _webhook(request, event, links)
        if webhook is not None:
            yield webhook


def _event_message(request: GenerationRequest, event: DomainEvent) -> OutboxMessage:
    payload: dict[str, Any] = {
        "event": event.name,
        "request_id": request.id,
        "user_id": request.user_id,
        "project_id": request.project_id,
        "status": str(request.status),
        "sample_round": request.sample_round,
        "error_code": request.error_code,
        "occurred_at": request.updated_at.isoformat(),
        "correlation_id": request.correlation_id,
    }
    key = f"{request.id}:{event.name}:{request.version}:{len(request.jobs)}"
    return OutboxMessage(Destination.EVENT, key, payload, {"routing_key": event.name})


def _notification(
    request: GenerationRequest, event: DomainEvent, links: AssetLinks
) -> OutboxMessage:
    kind, message = _NOTIFICATIONS[type(event)]
    summary = request_summary(request, links)
    if isinstance(event, AssetsExpiring):
        summary["assets_expire_at"] = event.expires_at.isoformat()
    payload = {"user_id": request.user_id, "type": kind, "message": message, "payload": summary}
    key = f"{request.id}:{kind}:{len(request.jobs)}"
    return OutboxMessage(Destination.NOTIFICATION, key, payload)


def _webhook(
    request: GenerationRequest, event: DomainEvent, links: AssetLinks
) -> OutboxMessage | None:
    """REQ-017: the request's GenerationRequestRead, POSTed to the user's webhook_url."""
    name = _WEBHOOK_EVENTS.get(type(event))
    params = request.parameters
    if name is None or not params.webhook_url:
        return None
    if params.webhook_events and name not in params.webhook_events:
        return None
    # the key is the delivery's webhook-id: the same on every retry of it
    key = f"whk_{request.id.replace('-', '')}_{name}_{len(request.jobs)}"
    payload = {"event": name, "data": request_view(request, links)}
    return OutboxMessage(Destination.WEBHOOK, key, payload, {"url": params.webhook_url})


def _refund(
    request: GenerationRequest, event: DomainEvent, config: OrchestrationConfig
) -> OutboxMessage | None:
    if isinstance(event, GenerationFailed) and event.unsettled > 0 and event.job_id:
        # The debit's fate is unknown: replay it (same key, so at most once) and refund it.
        job = _job(request, event.job_id)
        debit, refund = debit_for(request, job), refund_for(request, job, event.error_code)
        payload = {"debit": to_payload(debit), "refund": to_payload(refund)}
        return OutboxMessage(Destination.SETTLE, refund.idempotency_key, payload)
    if isinstance(event, GenerationCancelled):
        reason = "cancelled"
    elif isinstance(event, GenerationFailed) and config.refund_on_system_failure:
        reason = event.error_code
    else:
        return None
    if event.refundable <= Decimal(0) or event.job_id is None:
        return None
    refund = refund_for(request, _job(request, event.job_id), reason)
    return OutboxMessage(Destination.REFUND, refund.idempotency_key, to_payload(refund))


def _job(request: GenerationRequest, job_id: str) -> Job:
    job = request.find_job(job_id)
    assert job is not None, "events name jobs of their own request"
    return job

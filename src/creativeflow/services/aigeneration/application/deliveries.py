"""Where each outbox row goes once its transaction has committed: one handler per
destination, over ports. The relay (infrastructure/messaging/outbox_relay.py) calls them and
retries whatever raises; every receiver dedupes on the row's key, so a retry is harmless."""

from collections.abc import Awaitable, Callable
from typing import Protocol

from .credit_moves import debit_from_payload, refund_from_payload
from .errors import CreditsDeclined
from .ports import (
    AssetStorage,
    CreditGateway,
    Destination,
    EventPublisher,
    JobDispatcher,
    Notifier,
    OutboxMessage,
)

OutboxHandler = Callable[[OutboxMessage], Awaitable[None]]


class WebhookDelivery(Protocol):
    async def deliver(self, message: OutboxMessage) -> None:
        """POST the payload to the message's `url` header, signed; raise DeliveryFailed to
        be retried, Undeliverable to be given up."""


class Deliveries:
    def __init__(
        self,
        jobs: JobDispatcher,
        events: EventPublisher,
        notifier: Notifier,
        credits: CreditGateway,
        webhooks: WebhookDelivery,
        storage: AssetStorage,
    ) -> None:
        self._jobs = jobs
        self._events = events
        self._notifier = notifier
        self._credits = credits
        self._webhooks = webhooks
        self._storage = storage

    def handlers(self) -> dict[Destination, OutboxHandler]:
        return {
            Destination.JOB: self.job,
            Destination.EVENT: self.event,
            Destination.NOTIFICATION: self.notification,
            Destination.REFUND: self.refund,
            Destination.SETTLE: self.settle,
            Destination.WEBHOOK: self._webhooks.deliver,
            Destination.DELETE_ASSETS: self.delete_assets,
        }

    async def job(self, message: OutboxMessage) -> None:
        await self._jobs.dispatch(message.payload, message.headers)

    async def event(self, message: OutboxMessage) -> None:
        await self._events.publish(message.headers["routing_key"], message.payload)

    async def notification(self, message: OutboxMessage) -> None:
        await self._notifier.notify(message.payload)

    async def refund(self, message: OutboxMessage) -> None:
        await self._credits.refund(refund_from_payload(message.payload))

    async def settle(self, message: OutboxMessage) -> None:
        """A debit whose answer was lost, for a step that then failed: replay the debit (its
        key moves the money at most once), then refund it. A replay that is declined means the
        debit never went through: there is nothing to give back."""
        try:
            await self._credits.debit(debit_from_payload(message.payload["debit"]))
        except CreditsDeclined:
            return
        await self._credits.refund(refund_from_payload(message.payload["refund"]))

    async def delete_assets(self, message: OutboxMessage) -> None:
        for key in message.payload["keys"]:  # a key already gone is deleted as well
            await self._storage.delete(key)

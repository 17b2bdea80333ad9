import logging
from typing import Any

log = logging.getLogger(__name__)


class LogNotifier:
    """The embedded notifier: one structured log line per notification."""

    async def notify(self, notification: dict[str, Any]) -> None:
        log.info(
            "notify user %s: %s (%s)",
            notification["user_id"],
            notification["type"],
            notification["payload"].get("request_id"),
        )


class LogEventPublisher:
    """The embedded event sink: domain events are logged where RabbitMQ would carry them."""

    async def publish(self, routing_key: str, event: dict[str, Any]) -> None:
        log.info("event %s for request %s", routing_key, event.get("request_id"))

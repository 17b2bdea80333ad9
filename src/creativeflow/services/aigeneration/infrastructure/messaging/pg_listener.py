"""PostgreSQL LISTEN/NOTIFY for every replica: `aigen_outbox` wakes the outbox relay,
`aigen_status` wakes the live streams of a changed request.

One dedicated connection per process listens. When it is lost (a restart, or
pg_terminate_backend) it reconnects after a pause and calls every handler once with no
payload, so what was committed while nobody listened is picked up at once."""

import asyncio
import logging
from collections.abc import Callable, Mapping

import asyncpg

log = logging.getLogger(__name__)
OUTBOX_CHANNEL = "aigen_outbox"

Handler = Callable[[str | None], None]


class PgNotifyListener:
    def __init__(self, dsn: str, handlers: Mapping[str, Handler]) -> None:
        self._dsn = dsn
        self._handlers = handlers

    async def run(self, reconnect_delay: float = 1.0) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(self._dsn, timeout=10)
                connection.add_termination_listener(lambda _: lost.set())  # noqa: B023
                for channel, handler in self._handlers.items():
                    await connection.add_listener(channel, _adapt(handler))
                for handler in self._handlers.values():
                    handler(None)
                await lost.wait()
                log.warning("LISTEN connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("LISTEN connection failed: %s", exc)
            finally:
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(reconnect_delay)


def _adapt(handler: Handler) -> Callable[..., None]:
    def on_notification(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        handler(payload or None)

    return on_notification

"""Wakes the outbox relay when any replica commits outbox rows (PostgreSQL LISTEN/NOTIFY).

One dedicated connection per process listens. When it is lost (a restart, or
pg_terminate_backend) it reconnects after a pause and wakes the relay once, so rows committed
while nobody listened are picked up at once rather than at the next poll."""

import asyncio
import logging
from collections.abc import Callable

import asyncpg

log = logging.getLogger(__name__)
OUTBOX_CHANNEL = "aigen_outbox"


class PgNotifyListener:
    def __init__(
        self, dsn: str, on_notify: Callable[[], None], channel: str = OUTBOX_CHANNEL
    ) -> None:
        self._dsn = dsn
        self._on_notify = on_notify
        self._channel = channel
        self.connected = False

    async def run(self, reconnect_delay: float = 1.0) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(self._dsn, timeout=10)
                connection.add_termination_listener(lambda _: lost.set())  # noqa: B023
                await connection.add_listener(self._channel, lambda *_: self._on_notify())
                self.connected = True
                self._on_notify()
                await lost.wait()
                log.warning("outbox LISTEN connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox LISTEN connection failed: %s", exc)
            finally:
                self.connected = False
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(reconnect_delay)

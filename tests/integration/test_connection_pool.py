"""The PostgreSQL pool hands connections out in the order they were asked for."""

import asyncio

import pytest

from creativeflow.services.aigeneration.infrastructure.database.db_config import create_engine


async def test_a_freed_connection_goes_to_the_longest_waiter(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=1)
    order: list[str] = []
    try:
        first = await engine.connect()
        order.append("a")

        async def take(name: str) -> None:
            async with engine.connect():
                order.append(name)
                await asyncio.sleep(0.01)

        waiters = [asyncio.create_task(take(name)) for name in ("b", "c")]
        await asyncio.sleep(0.05)  # both wait, b first
        await first.close()
        # "a" asks again before the waiters ran: an asyncio.Queue would give the connection
        # straight back to it (and b would queue again behind c)
        await take("a again")
        await asyncio.gather(*waiters)
    finally:
        await engine.dispose()
    assert order == ["a", "b", "c", "a again"]


async def test_a_waiter_that_times_out_leaves_the_line(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=1)
    try:
        held = await engine.connect()
        engine.pool._timeout = 0.1  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="QueuePool limit"):
            await engine.connect()
        await held.close()
        async with engine.connect() as connection:  # the connection was not handed to it
            assert connection is not None
    finally:
        await engine.dispose()

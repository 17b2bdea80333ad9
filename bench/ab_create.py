"""The create path's CPU in process, for comparing two trees on one machine back to back:
`<tree>/.venv/bin/python bench/ab_create.py [N]` (default 1000) makes N creates through the
app over httpx's ASGI transport (no server, no network) on the local PostgreSQL (database
`aigen_ab`, made when missing) and prints this process's CPU a create. Alternate the trees a few
times: single runs vary by a quarter on a shared machine, their medians much less."""

import asyncio
import sys
import tempfile
import time

import asyncpg
import httpx
from sqlalchemy import text

from creativeflow.services.aigeneration.composition.root import build_container
from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.core.security import create_dev_token
from creativeflow.services.aigeneration.infrastructure.database.db_config import create_engine
from creativeflow.services.aigeneration.infrastructure.database.migrate import upgrade_to_head
from creativeflow.services.aigeneration.infrastructure.database.tables import metadata
from creativeflow.services.aigeneration.main import attach, create_app

DSN = "postgresql+asyncpg://postgres@127.0.0.1:5432/aigen_ab"
BODY = {"project_id": "p1", "prompt": "A red fox in a neon city", "format": "instagram_post"}


async def main(n: int) -> None:
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'aigen_ab'"):
        await admin.execute("CREATE DATABASE aigen_ab")
    await admin.close()
    engine = create_engine(DSN)
    await upgrade_to_head(engine)
    async with engine.begin() as c:
        await c.execute(
            text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} RESTART IDENTITY")
        )
    await engine.dispose()
    settings = load_settings(
        DATABASE_URL=DSN,
        DATA_DIR=tempfile.mkdtemp(),
        AUTO_MIGRATE=False,
        LOG_LEVEL="WARNING",
        LOCAL_LEDGER_STARTING_BALANCE="100000000",
        MAX_ACTIVE_REQUESTS_PER_USER="1000000000",
        MAX_REQUESTS_IN_FLIGHT="10000",
        RUN_OUTBOX_RELAY="false",
        RUN_SWEEPS="false",
    )
    app = create_app(settings)
    container = await build_container(settings, with_relay=False, with_sweeps=False)
    attach(app, container)
    tokens = [{"Authorization": f"Bearer {create_dev_token(settings, f'u{i}')}"} for i in range(50)]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:

        async def burst(count: int) -> None:
            for i in range(count):
                r = await client.post(
                    "/api/v1/generation-requests", json=BODY, headers=tokens[i % 50]
                )
                assert r.status_code == 202, r.text

        await burst(200)
        cpu, wall = time.process_time(), time.perf_counter()
        await burst(n)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await container.aclose()
    print(f"{cpu / n * 1e6:.0f} us CPU a create, {wall / n * 1e3:.2f} ms wall")


asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))

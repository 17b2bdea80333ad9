"""ASSET_RETENTION_DAYS and ASSET_RETENTION_NOTICE_DAYS (contract §6), on SQLite and
PostgreSQL: the sweep tells owners once, ahead, then deletes old images through the outbox;
the request keeps its texts and status and shows `assets_expired_at`."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from creativeflow.services.aigeneration.core.config import ConfigurationError, load_settings
from creativeflow.services.aigeneration.infrastructure.database.tables import (
    assets,
    generation_requests,
)

from .api_client import ApiDriver
from .conftest import api_driver


async def completed(api: ApiDriver) -> str:
    request_id = await api.until_awaiting_selection()
    sample = await api.sample_id(request_id, 0)
    await api.action(request_id, "select-sample", {"selected_sample_id": sample})
    await api.callback("final", await api.final_payload(request_id))
    return request_id


async def age(api: ApiDriver, request_id: str, days: int) -> None:
    created = datetime.now(UTC) - timedelta(days=days)
    async with api.container.engine.begin() as connection:
        await connection.execute(
            update(generation_requests)
            .where(generation_requests.c.id == request_id)
            .values(created_at=created)
        )


async def asset_rows(api: ApiDriver, request_id: str) -> list[str]:
    query = select(assets.c.storage_key).where(assets.c.request_id == request_id)
    async with api.container.engine.connect() as connection:
        return list(await connection.scalars(query))


async def notices(api: ApiDriver) -> list[dict[str, object]]:
    rows = await api.outbox_rows("notification")
    return [r["payload"] for r in rows if r["payload"]["type"] == "generation.assets_expiring"]


async def test_old_images_are_announced_then_deleted(empty_database: str, tmp_path: Path) -> None:
    settings = {"ASSET_RETENTION_DAYS": 30, "ASSET_RETENTION_NOTICE_DAYS": 7}
    async with api_driver(empty_database, tmp_path, **settings) as api:
        expiring, expired, fresh = await completed(api), await completed(api), await completed(api)
        await age(api, expiring, 25)  # within the notice's 7 days of its 30
        await age(api, expired, 31)
        keys = await asset_rows(api, expired)
        assert len(keys) == 5

        for _ in range(2):  # a second sweep tells nobody twice and deletes nothing twice
            await api.container.sweeper.sweep_once()
        (notice,) = await notices(api)
        assert notice["payload"]["request_id"] == expiring  # type: ignore[index]
        assert notice["payload"]["assets_expire_at"]  # type: ignore[index]

        body = (await api.get(expired)).json()
        assert body["assets_expired_at"] is not None
        assert (body["status"], body["input_prompt"]) == ("completed", "A red fox in a neon city")
        assert body["sample_asset_infos"] == [] and body["final_asset_info"] is None
        assert await asset_rows(api, expired) == []
        await api.deliver_outbox()
        storage = api.container.storage
        assert [k for k in keys if await storage.inspect(k, 1 << 30)] == []
        for kept in (expiring, fresh):
            assert (await api.get(kept)).json()["assets_expired_at"] is None
            assert len(await asset_rows(api, kept)) == 5
        # nothing left to pick from: a move that names a sample is refused
        response = await api.action(expired, "select-sample", {"selected_sample_id": "x"})
        assert (response.status_code, response.json()["error"]["code"]) == (409, "invalid_state")


def test_a_notice_needs_a_retention_longer_than_itself() -> None:
    for settings in (
        {"ASSET_RETENTION_NOTICE_DAYS": 7},
        {"ASSET_RETENTION_DAYS": 7, "ASSET_RETENTION_NOTICE_DAYS": 7},
    ):
        with pytest.raises(ConfigurationError, match="ASSET_RETENTION_NOTICE_DAYS"):
            load_settings(_env_file=None, **settings)

"""`POST /generation-requests/batch` (contract 1.1 §7) on the local ledger, SQLite and
PostgreSQL: all or nothing, one debit for the sum, idempotent, refunds that name the item."""

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from creativeflow.services.aigeneration.infrastructure.database.tables import (
    credit_ledger_entries,
)

from .api_client import API, VALID_CREATE, ApiDriver
from .conftest import api_driver

CAMPAIGN = [
    {**VALID_CREATE, "format": name}
    for name in ("instagram_post", "instagram_story", "linkedin_post")
]


async def batch(api: ApiDriver, items: list[dict[str, Any]], **headers: str) -> Any:
    return await api.http.post(
        f"{API}/generation-requests/batch",
        json={"requests": items},
        headers={**api.auth(), **headers},
    )


async def ledger(api: ApiDriver) -> list[tuple[str, str, Decimal]]:
    query = select(
        credit_ledger_entries.c.idempotency_key,
        credit_ledger_entries.c.kind,
        credit_ledger_entries.c.amount,
    ).order_by(credit_ledger_entries.c.created_at)
    async with api.container.engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(query)]  # type: ignore[misc]


async def test_a_campaign_is_created_and_charged_once_for_the_sum(api: ApiDriver) -> None:
    response = await batch(api, CAMPAIGN, **{"Idempotency-Key": "launch-1"})
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert [i["input_parameters"]["format"] for i in items] == [c["format"] for c in CAMPAIGN]
    assert {i["status"] for i in items} == {"processing_samples"}
    assert len({i["id"] for i in items}) == 3
    (debit,) = await ledger(api)
    assert debit[0].startswith("batch:") and debit[1:] == ("debit", Decimal("0.75"))
    assert await api.balance() == Decimal("9.25")
    assert len(await api.jobs()) == 3

    replay = await batch(api, CAMPAIGN, **{"Idempotency-Key": "launch-1"})
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert [i["id"] for i in replay.json()["items"]] == [i["id"] for i in items]
    assert len(await ledger(api)) == 1 and len(await api.jobs()) == 3

    # an item that fails later is refunded on its own: the refund names that request
    job = await api.last_job(items[1]["id"])
    await api.callback(
        "error",
        {"request_id": items[1]["id"], "job_id": job["job_id"], "error_code": "model_error"},
    )
    await api.deliver_outbox()
    refund = (await ledger(api))[-1]
    assert refund == (f"{items[1]['id']}:samples:1:refund", "refund", Decimal("0.25"))
    assert await api.balance() == Decimal("9.5")


async def test_a_refused_batch_creates_and_charges_nothing(api: ApiDriver) -> None:
    before = await api.snapshot()
    too_many = [VALID_CREATE] * 11
    bad_item = [VALID_CREATE, {**VALID_CREATE, "model": "no-such-model"}]
    for items, status in (([], 422), (too_many, 422), (bad_item, 422), ([VALID_CREATE] * 6, 429)):
        response = await batch(api, items)
        assert response.status_code == status, (len(items), response.text)
    response = await batch(api, bad_item)
    assert response.json()["error"]["details"][0]["field"] == "requests.1.model"
    assert await api.snapshot() == before
    assert await ledger(api) == []


async def test_a_batch_the_balance_cannot_pay_is_402_for_all(
    empty_database: str, tmp_path: Path
) -> None:
    async with api_driver(empty_database, tmp_path, LOCAL_LEDGER_STARTING_BALANCE="0.5") as api:
        before = await api.snapshot()
        response = await batch(api, CAMPAIGN)
        assert response.status_code == 402
        assert response.json()["error"]["code"] == "insufficient_credits"
        assert await api.snapshot() == before
        assert await api.balance() == Decimal("0.5")
        assert (await batch(api, CAMPAIGN[:2])).status_code == 201  # 0.5 pays for two

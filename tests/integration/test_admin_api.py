"""The admin routes (contract §8) on SQLite and PostgreSQL: only for tokens with the `admin`
role; a step refunded by hand once, whatever the races; a stuck request failed; given-up
deliveries re-driven; a user erased; every action in the audit log with its effect."""

import asyncio
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from creativeflow.services.aigeneration.infrastructure.database.tables import (
    audit_log,
    credit_ledger_entries,
    outbox,
)

from .api_client import API, ApiDriver, image_bytes

REASON = {"reason": "support ticket 4711"}


async def admin(api: ApiDriver, path: str, body: Any = None, user: str = "ops-ann") -> Any:
    return await api.http.post(f"{API}/admin{path}", json=body, headers=api.admin_auth(user))


async def audit(api: ApiDriver) -> list[dict[str, Any]]:
    async with api.container.engine.connect() as connection:
        rows = await connection.execute(select(audit_log).order_by(audit_log.c.id))
        return [row._asdict() for row in rows]


async def refunds(api: ApiDriver, user: str = "alice") -> list[tuple[str, Decimal]]:
    query = select(credit_ledger_entries.c.idempotency_key, credit_ledger_entries.c.amount).where(
        credit_ledger_entries.c.kind == "refund", credit_ledger_entries.c.user_id == user
    )
    async with api.container.engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(query)]  # type: ignore[misc]


async def completed(api: ApiDriver, user: str = "alice") -> str:
    request_id = await api.until_awaiting_selection(user)
    sample = await api.sample_id(request_id, 1, user)
    await api.action(request_id, "select-sample", {"selected_sample_id": sample}, user)
    await api.callback("final", await api.final_payload(request_id))
    return request_id


async def test_admin_routes_refuse_anyone_without_the_admin_role(api: ApiDriver) -> None:
    request_id = await completed(api)
    snapshot = await api.snapshot()
    routes = [
        ("GET", "/dead-letters", None),
        ("POST", "/dead-letters/job-1/redrive", REASON),
        ("GET", "/outbox?state=given_up", None),
        ("POST", "/outbox/1/redrive", REASON),
        ("POST", f"/generation-requests/{request_id}/refund", REASON),
        ("POST", f"/generation-requests/{request_id}/fail", REASON),
        ("POST", "/users/alice/erase", REASON),
    ]
    for method, path, body in routes:
        as_user = await api.http.request(
            method, f"{API}/admin{path}", json=body, headers=api.auth("alice")
        )
        assert (as_user.status_code, as_user.json()["error"]["code"]) == (403, "forbidden"), path
        anonymous = await api.http.request(method, f"{API}/admin{path}", json=body)
        assert anonymous.status_code == 401, path
    assert await api.snapshot() == snapshot and await audit(api) == []


async def test_a_step_is_refunded_by_hand_once(api: ApiDriver) -> None:
    request_id = await completed(api)
    response = await admin(api, f"/generation-requests/{request_id}/refund", REASON)
    assert response.status_code == 202, response.text
    await api.deliver_outbox()
    final_job = (await api.last_job(request_id))["job_id"]
    assert await refunds(api) == [(f"{request_id}:final:1:refund", Decimal(1))]
    assert await api.balance() == Decimal(10) - Decimal("0.25")

    again = await admin(api, f"/generation-requests/{request_id}/refund", REASON)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invalid_state")
    named = await admin(
        api, f"/generation-requests/{request_id}/refund", {**REASON, "job_id": final_job}
    )
    assert named.status_code == 409
    unknown = await admin(
        api, f"/generation-requests/{request_id}/refund", {**REASON, "job_id": "no-such-job"}
    )
    assert unknown.status_code == 422
    (entry,) = await audit(api)
    assert (entry["actor"], entry["action"], entry["target"], entry["reason"]) == (
        "ops-ann",
        "refund",
        request_id,
        "support ticket 4711",
    )
    assert entry["details"] == {"job_id": final_job, "amount": "1"}
    assert entry["correlation_id"]  # the X-Request-ID of the admin's call


async def test_two_concurrent_refunds_of_one_step_refund_it_once(api: ApiDriver) -> None:
    request_id = await completed(api)
    path = f"/generation-requests/{request_id}/refund"
    first, second = await asyncio.gather(admin(api, path, REASON), admin(api, path, REASON, "bo"))
    assert sorted([first.status_code, second.status_code]) == [202, 409]
    await api.deliver_outbox()
    assert len(await refunds(api)) == 1 and len(await audit(api)) == 1


async def test_a_step_the_service_refunded_already_is_409(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    await api.callback(
        "error", {"request_id": request_id, "job_id": job["job_id"], "error_code": "model_error"}
    )
    response = await admin(api, f"/generation-requests/{request_id}/refund", REASON)
    assert response.status_code == 409
    await api.deliver_outbox()
    assert len(await refunds(api)) == 1  # the service's own


async def test_a_stuck_request_is_failed_and_refunded(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    response = await admin(api, f"/generation-requests/{request_id}/fail", REASON)
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["error_code"], body["error_message"]) == (
        "failed",
        "admin_failed",
        "support ticket 4711",
    )
    await api.deliver_outbox()
    assert await api.balance() == Decimal(10)
    again = await admin(api, f"/generation-requests/{request_id}/fail", REASON)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invalid_state")
    assert [e["action"] for e in await audit(api)] == ["fail"]
    missing = await admin(
        api, "/generation-requests/00000000-0000-0000-0000-000000000000/fail", REASON
    )
    assert missing.status_code == 404


async def test_a_given_up_delivery_is_listed_and_redriven(api: ApiDriver) -> None:
    await api.created()
    rows = await api.outbox_rows("event")
    async with api.container.engine.begin() as connection:  # what the relay does at its limit
        await connection.execute(
            update(outbox)
            .where(outbox.c.id == rows[0]["id"])
            .values(dead_at=rows[0]["created_at"], attempts=12, last_error="503 from the broker")
        )
    listed = await api.http.get(f"{API}/admin/outbox?state=given_up", headers=api.admin_auth())
    (item,) = listed.json()["items"]
    assert (item["id"], item["destination"], item["attempts"]) == (rows[0]["id"], "event", 12)
    response = await admin(api, f"/outbox/{item['id']}/redrive", REASON)
    assert (response.status_code, response.json()) == (202, {"outcome": "queued"})
    (row,) = [r for r in await api.outbox_rows("event") if r["id"] == item["id"]]
    assert (row["dead_at"], row["attempts"], row["last_error"]) == (None, 0, None)
    assert (await admin(api, f"/outbox/{item['id']}/redrive", REASON)).status_code == 404
    assert [(e["action"], e["target"]) for e in await audit(api)] == [
        ("redrive_outbox", str(item["id"]))
    ]
    # without RabbitMQ there is no dead-letter queue: nothing to list, nothing to re-drive
    letters = await api.http.get(f"{API}/admin/dead-letters", headers=api.admin_auth())
    assert letters.json() == {"items": []}
    assert (await admin(api, "/dead-letters/job-1/redrive", REASON)).status_code == 404


async def test_a_user_is_erased(api: ApiDriver) -> None:
    upload = await api.http.post(
        f"{API}/assets", files={"file": ("a.png", image_bytes(100, 100))}, headers=api.auth("eve")
    )
    done = await completed(api, "eve")
    in_flight = (await api.created("eve"))["id"]
    other = await completed(api, "alice")
    response = await admin(api, "/users/eve/erase", REASON)
    assert response.status_code == 202
    assert sorted(response.json()["erased"]) == sorted([done, in_flight])
    assert (response.json()["uploads"], response.json()["skipped"]) == (1, [])
    for request_id in (done, in_flight):
        body = (await api.get(request_id, "eve")).json()
        assert (body["status"], body["input_prompt"]) == ("deleted", "")
    asset = await api.http.get(f"{API}/assets/{upload.json()['asset_id']}", headers=api.auth("eve"))
    assert asset.status_code == 404
    assert (await api.get(other)).json()["status"] == "completed"  # nobody else's
    await api.deliver_outbox()
    assert await api.balance("eve") == Decimal(10) - Decimal("0.25") - 1  # the in-flight refunded
    actions = [e["action"] for e in await audit(api)]
    assert sorted(actions) == ["erase", "erase", "erase_uploads"]

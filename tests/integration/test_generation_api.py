"""The HTTP API on SQLite and on PostgreSQL: the flow, the money, the callbacks."""

import asyncio
from decimal import Decimal

from .api_client import API, ApiDriver


async def test_the_whole_flow_over_http(api: ApiDriver) -> None:
    response = await api.create(brand_elements={"colors": ["#ff0066"]}, tone="bold")
    assert response.status_code == 202
    created = response.json()
    assert response.headers["location"] == f"{API}/generation-requests/{created['id']}"
    assert created["status"] == "processing_samples"
    assert created["credits_cost_sample"] == 0.25
    assert created["input_parameters"]["width"] == 1080
    request_id = created["id"]

    response = await api.callback("samples", await api.samples_payload(request_id))
    assert response.json() == {"result": "applied"}
    body = (await api.get(request_id)).json()
    assert body["status"] == "awaiting_selection"
    assert [s["resolution"] for s in body["sample_asset_infos"]] == ["512x512"] * 4

    response = await api.action(
        request_id,
        "select-sample",
        {"selected_sample_id": await api.sample_id(request_id, 3), "resolution": "high"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "processing_final"
    job = await api.last_job(request_id)
    assert (job["job_type"], job["width"], job["height"]) == ("final", 3840, 3840)

    response = await api.callback("final", await api.final_payload(request_id))
    assert response.json() == {"result": "applied"}
    body = (await api.get(request_id)).json()
    assert body["status"] == "completed"
    assert body["final_asset_info"]["resolution"] == "3840x3840"
    assert body["credits_cost_final"] == 2
    assert body["metrics"]["total_ms"] is not None
    assert await api.balance() == Decimal("10") - Decimal("0.25") - Decimal("2")


async def test_the_list_is_newest_first_with_a_cursor_and_filters(api: ApiDriver) -> None:
    ids = [(await api.created(project_id=f"p{i % 2}"))["id"] for i in range(5)]
    await api.created(user="bob")
    first = (await api.http.get(f"{API}/generation-requests?limit=2", headers=api.auth())).json()
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    second = (
        await api.http.get(
            f"{API}/generation-requests?limit=2&cursor={first['next_cursor']}", headers=api.auth()
        )
    ).json()
    assert [item["id"] for item in second["items"]] == ids[::-1][2:4]
    only_p0 = (
        await api.http.get(f"{API}/generation-requests?project_id=p0", headers=api.auth())
    ).json()
    assert {item["id"] for item in only_p0["items"]} == {ids[0], ids[2], ids[4]}
    assert only_p0["next_cursor"] is None
    waiting = (
        await api.http.get(
            f"{API}/generation-requests?status=awaiting_selection", headers=api.auth()
        )
    ).json()
    assert waiting["items"] == []


async def test_concurrent_duplicate_callbacks_apply_exactly_once(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    payload = await api.samples_payload(request_id)
    responses = await asyncio.gather(*(api.callback("samples", payload) for _ in range(10)))
    results = sorted(r.json()["result"] for r in responses)
    assert results == ["applied"] + ["duplicate"] * 9
    notifications = [row["payload"]["type"] for row in await api.outbox_rows("notification")]
    assert notifications == ["generation.samples_ready"]


async def test_a_model_error_fails_and_the_refund_reaches_the_ledger(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    error = {
        "request_id": request_id,
        "job_id": job["job_id"],
        "error_code": "model_error",
        "error_message": "GPU fell over",
        "retryable": True,
    }
    assert (await api.callback("error", error)).json() == {"result": "applied"}
    assert (await api.callback("error", error)).json() == {"result": "duplicate"}
    await api.deliver_outbox()
    await api.deliver_outbox()
    body = (await api.get(request_id)).json()
    assert (body["status"], body["error_code"], body["retryable"]) == (
        "failed",
        "model_error",
        True,
    )
    assert await api.balance() == Decimal(10)

    # failed without samples: a regeneration is the retry
    response = await api.action(request_id, "regenerate-samples")
    assert response.status_code == 202
    assert response.json()["sample_round"] == 2
    assert await api.balance() == Decimal("9.75")


async def test_a_content_refusal_is_final_and_not_refunded(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    refusal = {
        "request_id": request_id,
        "job_id": job["job_id"],
        "error_code": "content_policy_violation",
        "error_message": "no",
        "retryable": False,
    }
    assert (await api.callback("error", refusal)).json() == {"result": "applied"}
    await api.deliver_outbox()
    assert (await api.get(request_id)).json()["status"] == "content_rejected"
    assert await api.balance() == Decimal("9.75")
    assert (await api.action(request_id, "regenerate-samples")).status_code == 409


async def test_cancel_refunds_the_step_in_flight_and_later_results_are_ignored(
    api: ApiDriver,
) -> None:
    request_id = await api.until_awaiting_selection()
    await api.action(
        request_id, "select-sample", {"selected_sample_id": await api.sample_id(request_id, 0)}
    )
    assert await api.balance() == Decimal("8.75")
    response = await api.action(request_id, "cancel")
    assert (response.status_code, response.json()["status"]) == (202, "cancelled")
    await api.deliver_outbox()
    assert await api.balance() == Decimal("9.75")
    late = await api.callback("final", await api.final_payload(request_id))
    assert late.json() == {"result": "ignored"}
    assert (await api.get(request_id)).json()["status"] == "cancelled"


async def test_a_regeneration_makes_the_old_round_stale(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    old_job = await api.last_job(request_id)
    response = await api.action(request_id, "regenerate-samples")
    assert response.json()["status"] == "processing_samples"
    stale = await api.samples_payload(request_id)
    stale["job_id"] = old_job["job_id"]
    assert (await api.callback("samples", stale)).json() == {"result": "duplicate"}
    fresh = await api.samples_payload(request_id)
    assert (await api.callback("samples", fresh)).json() == {"result": "applied"}
    body = (await api.get(request_id)).json()
    assert body["sample_round"] == 2
    round_two = await api.last_job(request_id)
    assert body["sample_asset_infos"][0]["asset_id"] == round_two["outputs"][0]["asset_id"]


async def test_formats_lists_every_preset_with_sizes_and_prices(api: ApiDriver) -> None:
    body = (await api.http.get(f"{API}/formats")).json()
    names = [f["format"] for f in body["formats"]]
    assert "tiktok" in names and names[-1] == "custom"
    tiktok = next(f for f in body["formats"] if f["format"] == "tiktok")
    assert tiktok["sample"] == {"width": 288, "height": 512}
    assert tiktok["final_high"] == {"width": 2160, "height": 3840}
    assert body["prices"]["free"]["sample_round"] == 0.25
    assert body["prices"]["pro"]["final_standard"] == 0


async def test_every_response_carries_a_request_id(api: ApiDriver) -> None:
    response = await api.http.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    response = await api.http.get(f"{API}/generation-requests/nope")
    assert len(response.headers["x-request-id"]) == 32
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


async def test_the_create_request_id_becomes_the_jobs_correlation_id(api: ApiDriver) -> None:
    response = await api.http.post(
        f"{API}/generation-requests",
        json={"project_id": "p", "prompt": "x", "format": "tiktok"},
        headers={**api.auth(), "X-Request-ID": "corr-42"},
    )
    (row,) = await api.outbox_rows("job")
    assert row["headers"]["correlation_id"] == "corr-42"
    assert row["headers"]["message_id"] == row["payload"]["job_id"]
    request_id = response.json()["id"]
    assert request_id == row["payload"]["request_id"]

    # accepted back on the callback; carried by every event and notification of the request
    payload = await api.samples_payload(request_id)
    await api.callback("samples", payload)
    for row in await api.outbox_rows():
        assert row["headers"]["correlation_id"] == "corr-42", row["destination"]
    (event,) = [
        r for r in await api.outbox_rows("event") if r["payload"]["event"].endswith("ready")
    ]
    assert event["payload"]["correlation_id"] == "corr-42"
    (notification,) = await api.outbox_rows("notification")
    assert notification["payload"]["payload"]["correlation_id"] == "corr-42"


async def test_credits_show_the_callers_balance_and_tier(api: ApiDriver) -> None:
    before = (await api.http.get(f"{API}/credits", headers=api.auth())).json()
    assert before == {"balance": 10.0, "subscription_tier": "free"}
    await api.created()
    after = (await api.http.get(f"{API}/credits", headers=api.auth())).json()
    assert after["balance"] == 9.75
    assert (await api.http.get(f"{API}/credits")).status_code == 401


async def test_an_operator_grant_adds_credits_once_per_key(api: ApiDriver) -> None:
    from decimal import Decimal

    ledger = api.container.credits
    await ledger.grant("alice", Decimal("2.5"), "grant:one", "a refund by hand")  # type: ignore[attr-defined]
    await ledger.grant("alice", Decimal("2.5"), "grant:one", "a refund by hand")  # type: ignore[attr-defined]
    body = (await api.http.get(f"{API}/credits", headers=api.auth())).json()
    assert body["balance"] == 12.5

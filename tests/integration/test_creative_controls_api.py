"""Contract 1.1 §7 over HTTP, on SQLite and PostgreSQL: seeds, negative prompts and models,
variations, several finals per request, every round kept."""

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from .api_client import API, VALID_CREATE, ApiDriver
from .conftest import api_driver

ROUTES = [
    {"model": "sdxl-turbo", "name": "SDXL Turbo", "job_type": "samples", "sizes": ["512x512"]},
    {"model": "studio-4k", "job_type": "final", "tiers": ["pro", "enterprise"]},
]


async def test_seed_negative_prompt_and_model_reach_the_job_and_the_samples(
    api: ApiDriver,
) -> None:
    created = await api.created(seed=41, negative_prompt="no text, no people", model="sdxl-turbo")
    assert (created["seed"], created["negative_prompt"]) == (41, "no text, no people")
    assert created["input_parameters"]["model"] == "sdxl-turbo"
    job = await api.last_job(created["id"])
    assert (job["seed"], job["negative_prompt"], job["model"]) == (
        41,
        "no text, no people",
        "sdxl-turbo",
    )

    # a callback that reports no seeds: each sample's seed is the round's seed + its index
    payload = await api.samples_payload(created["id"])
    for sample in payload["samples"]:
        del sample["seed"]
    assert (await api.callback("samples", payload)).json() == {"result": "applied"}
    body = (await api.get(created["id"])).json()
    assert [s["seed"] for s in body["sample_asset_infos"]] == [41, 42, 43, 44]
    assert body["rounds"][0] | {"samples": []} == {
        "round": 1,
        "kind": "samples",
        "source_sample_id": None,
        "strength": None,
        "seed": 41,
        "status": "succeeded",
        "samples": [],
    }


async def test_without_a_seed_each_round_draws_its_own(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    first = (await api.get(request_id)).json()["seed"]
    assert isinstance(first, int) and 0 <= first < 2**32
    await api.action(request_id, "regenerate-samples")
    rounds = (await api.get(request_id)).json()["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert rounds[0]["seed"] == first and isinstance(rounds[1]["seed"], int)
    assert (await api.last_job(request_id))["seed"] == rounds[1]["seed"]


async def test_bad_seeds_and_models_are_refused_and_charge_nothing(api: ApiDriver) -> None:
    before = await api.snapshot()
    for fields, field in (
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"model": "no-such-model"}, "model"),
        ({"negative_prompt": "x" * 1001}, "negative_prompt"),
    ):
        response = await api.create(**fields)
        assert response.status_code == 422, (fields, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert field in json.dumps(error["details"]), (fields, error)
    assert await api.snapshot() == before
    assert await api.balance() == Decimal(10)


async def test_models_lists_the_model_table(empty_database: str, tmp_path: Path) -> None:
    settings = {"MODEL_ROUTES": ROUTES, "DEFAULT_AI_MODEL": "house-model"}
    async with api_driver(empty_database, tmp_path, **settings) as api:
        models = (await api.http.get(f"{API}/models")).json()["models"]
        assert models[0] == {
            "id": "house-model",
            "name": "house-model",
            "job_types": ["samples", "final"],
            "tiers": [],
            "sizes": [],
        }
        assert models[1] == {
            "id": "sdxl-turbo",
            "name": "SDXL Turbo",
            "job_types": ["samples"],
            "tiers": [],
            "sizes": ["512x512"],
        }
        assert models[2]["tiers"] == ["pro", "enterprise"]

        # a model the free tier may not use: refused, naming the field, nothing charged
        response = await api.create(model="studio-4k")
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["field"] == "model"
        assert await api.balance() == Decimal(10)

        # a chosen model renders the job types it lists; the selector picks the others
        request_id = (await api.created(model="sdxl-turbo"))["id"]
        assert (await api.last_job(request_id))["model"] == "sdxl-turbo"


async def variation_of(api: ApiDriver, request_id: str, **body: Any) -> dict[str, Any]:
    sample = (await api.get(request_id)).json()["sample_asset_infos"][1]
    response = await api.action(request_id, "vary", {"sample_id": sample["asset_id"], **body})
    assert response.status_code == 202, response.text
    return sample


async def test_a_variation_is_a_round_made_from_one_sample(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    sample = await variation_of(api, request_id, strength="strong", prompt="same fox, at dawn")
    body = (await api.get(request_id)).json()
    assert body["status"] == "processing_samples"
    assert body["credits_cost_sample"] == 0.25
    job = await api.last_job(request_id)
    assert job["job_type"] == "samples" and job["round"] == 2
    assert job["source_sample"]["asset_id"] == sample["asset_id"]
    assert job["source_sample"]["seed"] == sample["seed"] == job["seed"]
    assert (job["strength"], job["prompt"]) == ("strong", "same fox, at dawn")
    source = await api.fetch("GET", job["source_sample"]["url"])
    assert source.status_code == 200 and source.content[:4] == b"\x89PNG"

    assert (await api.callback("samples", await api.samples_payload(request_id))).status_code == 200
    body = (await api.get(request_id)).json()
    assert body["status"] == "awaiting_selection"
    assert [(r["round"], r["kind"], r["source_sample_id"]) for r in body["rounds"]] == [
        (1, "samples", None),
        (2, "variation", sample["asset_id"]),
    ]
    assert len(body["rounds"][0]["samples"]) == len(body["rounds"][1]["samples"]) == 4
    assert body["sample_asset_infos"] == body["rounds"][1]["samples"]
    assert await api.balance() == Decimal("10") - 2 * Decimal("0.25")


async def test_vary_names_a_sample_of_this_request_and_only_where_select_is_allowed(
    api: ApiDriver,
) -> None:
    mine = await api.until_awaiting_selection()
    other = await api.until_awaiting_selection(user="bob")
    foreign = await api.sample_id(other, user="bob")
    before = await api.snapshot()
    response = await api.action(mine, "vary", {"sample_id": foreign})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "sample_id"
    for bad in ({"sample_id": await api.sample_id(mine), "strength": "wild"}, {}):
        assert (await api.action(mine, "vary", bad)).status_code == 422
    assert await api.snapshot() == before

    await api.action(mine, "regenerate-samples")  # processing_samples: vary is not allowed
    response = await api.action(mine, "vary", {"sample_id": await api.sample_id(mine)})
    assert (response.status_code, response.json()["error"]["code"]) == (409, "invalid_state")


async def test_several_finals_from_any_round(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    first_round = (await api.get(request_id)).json()["sample_asset_infos"]
    await api.action(
        request_id, "select-sample", {"selected_sample_id": first_round[0]["asset_id"]}
    )
    await api.callback("final", await api.final_payload(request_id))
    completed = (await api.get(request_id)).json()
    assert completed["status"] == "completed"
    total_ms = completed["metrics"]["total_ms"]

    # from completed: a new round, then a second final from a sample of the first round, in 4K
    await api.action(request_id, "regenerate-samples")
    await api.callback("samples", await api.samples_payload(request_id))
    response = await api.action(
        request_id,
        "select-sample",
        {"selected_sample_id": first_round[2]["asset_id"], "resolution": "high"},
    )
    assert response.status_code == 202, response.text
    job = await api.last_job(request_id)
    assert (job["selected_sample"]["asset_id"], job["seed"]) == (
        first_round[2]["asset_id"],
        first_round[2]["seed"],
    )
    await api.callback("final", await api.final_payload(request_id))

    body = (await api.get(request_id)).json()
    assert body["status"] == "completed"
    assert [(f["sample_id"], f["quality"], f["credits_cost"]) for f in body["finals"]] == [
        (first_round[0]["asset_id"], "standard", 1.0),
        (first_round[2]["asset_id"], "high", 2.0),
    ]
    assert body["final_asset_info"]["asset_id"] == body["finals"][1]["asset_id"]
    assert body["final_asset_info"]["resolution"] == "3840x3840"
    assert body["finals"][1]["seed"] == first_round[2]["seed"]
    assert body["selected_sample_id"] == first_round[2]["asset_id"]
    assert body["credits_cost_final"] == 2
    assert body["metrics"]["total_ms"] == total_ms  # runs to the first completed
    assert len(body["rounds"]) == 2
    assert await api.balance() == Decimal(10) - 2 * Decimal("0.25") - 1 - 2

    # cancel is not a move from completed; each final sent its own completed webhook/event
    response = await api.action(request_id, "cancel")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "invalid_state")
    notifications = [r["payload"]["type"] for r in await api.outbox_rows("notification")]
    assert notifications.count("generation.completed") == 2


async def jobs_of(api: ApiDriver, count: int) -> list[dict[str, Any]]:
    """The job messages once `count` exist (a waiting move has committed its job already)."""
    for _ in range(500):
        jobs = await api.jobs()
        if len(jobs) >= count:
            return jobs
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} jobs never appeared")


async def test_prefer_wait_answers_when_the_step_settles(api: ApiDriver) -> None:
    headers = {**api.auth(), "Prefer": "wait=20"}
    creating = asyncio.create_task(
        api.http.post(f"{API}/generation-requests", json=VALID_CREATE, headers=headers)
    )
    (job,) = await jobs_of(api, 1)
    assert not creating.done()
    payload = await api.samples_payload(job["request_id"])
    applied_at = time.monotonic()
    await api.callback("samples", payload)
    response = await creating
    answered_after = time.monotonic() - applied_at
    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "wait"
    assert response.headers["location"].endswith(job["request_id"])
    assert response.json()["status"] == "awaiting_selection"
    assert answered_after < 1.0  # woken by the commit, not by a timer

    # select-sample with a wait that runs out: the usual 202, without the header
    sample = response.json()["sample_asset_infos"][0]["asset_id"]
    started = time.monotonic()
    response = await api.http.post(
        f"{API}/generation-requests/{job['request_id']}/select-sample",
        json={"selected_sample_id": sample},
        headers={**api.auth(), "Prefer": "wait=1"},
    )
    assert response.status_code == 202 and "preference-applied" not in response.headers
    assert response.json()["status"] == "processing_final"
    assert 1.0 <= time.monotonic() - started < 3.0


async def test_prefer_wait_on_vary_and_a_replayed_create(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    sample = await api.sample_id(request_id)
    varying = asyncio.create_task(
        api.http.post(
            f"{API}/generation-requests/{request_id}/vary",
            json={"sample_id": sample},
            headers={**api.auth(), "Prefer": "wait"},
        )
    )
    await jobs_of(api, 2)
    await api.callback("error", {**await _job_ids(api, request_id), "error_code": "model_error"})
    response = await varying
    assert (response.status_code, response.json()["status"]) == (200, "failed")

    # an Idempotency-Key replay with a wait answers with the request as it is now
    headers = {**api.auth(), "Idempotency-Key": "k-1"}
    first = await api.http.post(f"{API}/generation-requests", json=VALID_CREATE, headers=headers)
    await api.callback("samples", await api.samples_payload(first.json()["id"]))
    replay = await api.http.post(
        f"{API}/generation-requests",
        json=VALID_CREATE,
        headers={**headers, "Prefer": "wait=5"},
    )
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["status"] == "awaiting_selection"


async def _job_ids(api: ApiDriver, request_id: str) -> dict[str, str]:
    job = await api.last_job(request_id)
    return {"request_id": request_id, "job_id": job["job_id"]}


async def test_a_wait_out_of_range_is_refused_and_charges_nothing(api: ApiDriver) -> None:
    for prefer in ("wait=999", "wait=0", "wait=-1", "wait=soon", "wait=61"):
        headers = {**api.auth(), "Prefer": prefer}
        response = await api.http.post(
            f"{API}/generation-requests", json=VALID_CREATE, headers=headers
        )
        assert response.status_code == 422, prefer
        assert response.json()["error"]["details"][0]["field"] == "header.prefer"
    assert not await api.jobs()
    assert await api.balance() == Decimal(10)
    # another preference alone is not a wait
    headers = {**api.auth(), "Prefer": "respond-async"}
    response = await api.http.post(f"{API}/generation-requests", json=VALID_CREATE, headers=headers)
    assert response.status_code == 202

"""`DELETE /generation-requests/{id}` (contract §6), on SQLite and PostgreSQL: a tombstone that
keeps the costs, the texts erased, the images deleted from storage through the outbox (so a
storage outage delays a deletion and never loses it); the user's uploads stay."""

from typing import Any

from sqlalchemy import select, update

from creativeflow.services.aigeneration.infrastructure.database.tables import assets, outbox

from ..s3_server import S3Server
from .api_client import API, ApiDriver, image_bytes


async def completed(api: ApiDriver, **create: Any) -> str:
    request_id = (await api.created(**create))["id"]
    await api.callback("samples", await api.samples_payload(request_id))
    sample = await api.sample_id(request_id, 1)
    await api.action(request_id, "select-sample", {"selected_sample_id": sample})
    await api.callback("final", await api.final_payload(request_id))
    return request_id


async def stored_keys(api: ApiDriver, request_id: str) -> list[str]:
    query = select(assets.c.storage_key).where(assets.c.request_id == request_id)
    async with api.container.engine.connect() as connection:
        return list(await connection.scalars(query))


async def in_storage(api: ApiDriver, keys: list[str]) -> list[str]:
    storage = api.container.storage
    return [key for key in keys if await storage.inspect(key, 1 << 30) is not None]


async def delete(api: ApiDriver, request_id: str, user: str = "alice") -> Any:
    return await api.http.delete(f"{API}/generation-requests/{request_id}", headers=api.auth(user))


async def test_a_deleted_request_is_a_tombstone_and_its_images_go(api: ApiDriver) -> None:
    upload = await api.http.post(
        f"{API}/assets", files={"file": ("in.png", image_bytes(128, 128))}, headers=api.auth()
    )
    upload_id = upload.json()["asset_id"]
    request_id = await completed(
        api, input_asset_ids=[upload_id], style_guidance="noir", negative_prompt="text"
    )
    before = (await api.get(request_id)).json()
    keys = await stored_keys(api, request_id)
    assert len(keys) == 5 and await in_storage(api, keys) == keys
    sample_id = before["sample_asset_infos"][0]["asset_id"]

    response = await delete(api, request_id)
    assert response.status_code == 204 and response.content == b""
    body = (await api.get(request_id)).json()
    assert body["status"] == "deleted"
    assert (body["input_prompt"], body["style_guidance"], body["negative_prompt"]) == (
        "",
        None,
        None,
    )
    assert body["sample_asset_infos"] == [] and body["final_asset_info"] is None
    assert body["finals"] == [] and all(r["samples"] == [] for r in body["rounds"])
    assert (body["credits_cost_sample"], body["credits_cost_final"]) == (0.25, 1.0)
    assert (await api.http.get(f"{API}/assets/{sample_id}", headers=api.auth())).status_code == 404
    assert await stored_keys(api, request_id) == []

    # the images leave storage through the outbox; the user's upload stays
    assert await in_storage(api, keys) == keys
    await api.deliver_outbox()
    assert await in_storage(api, keys) == []
    assert (await api.http.get(f"{API}/assets/{upload_id}", headers=api.auth())).status_code == 200

    # the list leaves tombstones out unless they are asked for; a second DELETE is 204 too
    listed = (await api.http.get(f"{API}/generation-requests", headers=api.auth())).json()
    assert request_id not in [item["id"] for item in listed["items"]]
    tombstones = await api.http.get(
        f"{API}/generation-requests", params={"status": "deleted"}, headers=api.auth()
    )
    assert [item["id"] for item in tombstones.json()["items"]] == [request_id]
    snapshot = await api.snapshot()
    assert (await delete(api, request_id)).status_code == 204
    assert await api.snapshot() == snapshot


async def test_no_deletion_while_a_job_is_in_flight_or_of_another_users(api: ApiDriver) -> None:
    in_flight = (await api.created())["id"]
    snapshot = await api.snapshot()
    response = await delete(api, in_flight)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "invalid_state")
    response = await delete(api, in_flight, user="bob")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert await api.snapshot() == snapshot
    # every move of a tombstone is refused
    done = await completed(api)
    await delete(api, done)
    sample = {"selected_sample_id": "x"}
    for action, body in (("select-sample", sample), ("regenerate-samples", None), ("cancel", None)):
        assert (await api.action(done, action, body)).status_code == 409


async def test_a_storage_outage_delays_a_deletion_and_never_loses_it(
    s3_api: ApiDriver, s3_server: S3Server
) -> None:
    api = s3_api
    request_id = await completed(api)
    keys = await stored_keys(api, request_id)
    s3_server.stop()
    try:
        assert (await delete(api, request_id)).status_code == 204  # the database alone decides
        await api.deliver_outbox()
        (row,) = [r for r in await api.outbox_rows("delete_assets")]
        assert row["delivered_at"] is None and row["attempts"] == 1 and row["last_error"]
    finally:
        s3_server.start()
    async with api.container.engine.begin() as connection:  # its backoff, passed
        await connection.execute(update(outbox).values(available_at=row["created_at"]))
    await api.deliver_outbox()
    assert await in_storage(api, keys) == []
    (row,) = await api.outbox_rows("delete_assets")
    assert row["delivered_at"] is not None

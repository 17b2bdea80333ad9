"""The service's own door under overload: with every place taken by users' calls that wait on a
slow credit service, a user's call is `503 overloaded` with `Retry-After`, counted in
`/metrics` — and so is one with a made-up `signature` or a `Prefer: wait`, which are admitted
or shed before they wait; n8n's callbacks and a validly signed link are answered; once the
slow calls are answered, the same call is."""

import asyncio
from pathlib import Path

from ..stub_servers import Behaviour, CreditServiceStub
from .api_client import API
from .conftest import api_driver

BOUND = 4


async def test_a_users_call_past_the_bound_is_shed_and_n8n_work_is_not(
    empty_database: str, tmp_path: Path
) -> None:
    credits = CreditServiceStub()
    await credits.start()
    settings = {"MAX_REQUESTS_IN_FLIGHT": BOUND, "CREDIT_SERVICE_API_URL": credits.url}
    try:
        async with api_driver(empty_database, tmp_path, **settings) as api:
            request_id = await api.until_awaiting_selection()
            sample = await api.sample_id(request_id)
            link = (await api.get(request_id)).json()["sample_asset_infos"][0]["url"]

            release = asyncio.Event()  # the credit service answers balances only once set
            credits.behaviour = Behaviour(hold=release, only={"account"})
            slow = [
                asyncio.create_task(api.http.get(f"{API}/credits", headers=api.auth()))
                for _ in range(BOUND)
            ]
            await asyncio.wait_for(credits.until_held(BOUND), 10)

            shed = await api.get(request_id)
            assert shed.status_code == 503
            assert shed.headers["retry-after"] == "1"
            assert shed.json()["error"]["code"] == "overloaded"
            made_up = await api.http.get(
                f"{API}/generation-requests/{request_id}?signature=x", headers=api.auth()
            )
            assert made_up.status_code == 503
            waits = await api.http.post(
                f"{API}/generation-requests/{request_id}/select-sample",
                json={"selected_sample_id": sample},
                headers={**api.auth(), "Prefer": "wait=1"},
            )
            assert waits.status_code == 503
            # n8n's work and a validly signed link are never shed, even with every place taken
            status = await api.callback("error", {"request_id": request_id, "job_id": "x"})
            assert status.status_code != 503
            assert (await api.fetch("GET", link)).status_code == 200

            release.set()
            assert [(await task).status_code for task in slow] == [200] * BOUND
            assert (await api.get(request_id)).status_code == 200
            metrics = (await api.http.get("/metrics")).text
            assert 'aigen_http_requests_shed_total{kind="user"} 3.0' in metrics
    finally:
        await credits.stop()

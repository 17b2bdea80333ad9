"""The service's own door under overload: with its places taken by n8n's callbacks still being
received (counted, never shed), a user's call is `503 overloaded` with `Retry-After`, counted in
`/metrics`; once the callbacks are in, the same call is answered."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from .api_client import API
from .conftest import api_driver

BOUND = 4


async def test_a_users_call_past_the_bound_is_shed_and_n8n_work_is_not(
    empty_database: str, tmp_path: Path
) -> None:
    async with api_driver(empty_database, tmp_path, MAX_REQUESTS_IN_FLIGHT=BOUND) as api:
        created = await api.created()
        arrived = asyncio.Event()
        release = asyncio.Event()
        raw = json.dumps(await api.samples_payload(created["id"])).encode()

        async def slowly(data: bytes) -> AsyncIterator[bytes]:
            yield data[:10]  # the callback's first bytes are in: it is in flight
            arrived.set()
            await release.wait()
            yield data[10:]

        headers = api.signer.headers(raw.decode(), None)
        callbacks = []
        for _ in range(BOUND):
            arrived.clear()
            callbacks.append(
                asyncio.create_task(
                    api.http.post(
                        f"{API}/n8n-callbacks/samples", content=slowly(raw), headers=headers
                    )
                )
            )
            await arrived.wait()

        shed = await api.get(created["id"])
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "1"
        assert shed.json()["error"]["code"] == "overloaded"
        # n8n's work is never shed, even with every place taken
        status = await api.callback("error", {"request_id": created["id"], "job_id": "x"})
        assert status.status_code != 503

        release.set()
        answers = [await task for task in callbacks]
        assert all(answer.status_code == 200 for answer in answers)
        assert (await api.get(created["id"])).status_code == 200
        metrics = (await api.http.get("/metrics")).text
        assert 'aigen_http_requests_shed_total{kind="user"} 1.0' in metrics

"""Whole flows as a user's app runs them: create → wait for the samples (polling every two
seconds) → select the first → wait for the final. Used by the benchmark's capacity search and by
the fault suite's soak. The client behaves as the shipped one does: a `503` is retried after its
`Retry-After`, backing off as the shipped client does (`retry_delay`: doubling, at most 10 s
apart), and a request whose answer was lost on the way (a timeout, a dropped connection) is
sent again — a create with the same `Idempotency-Key` — so shed and resent requests are
counted, not failed. The client is aiohttp: httpx costs about five times its CPU a request,
and on two shared cores a load generator that slow measures itself, not the service."""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from creativeflow.services.aigeneration.client._common import retry_delay

CREATE = {"project_id": "flows", "prompt": "A poster for a summer sale", "format": "instagram_post"}
POLL_SECONDS = 2.0
# whole flows run `aigen serve` with a worker process a core of the two these runs have (the
# bench's capacity search and the soak alike): one process uses one core, and the API is half a
# flow's CPU (docs/PERFORMANCE.md)
SERVE_WORKERS = 2
GIVE_UP_SECONDS = 300.0  # a flow not completed by then is an error


@dataclass
class FlowRun:
    rate_per_minute: float
    seconds: float
    flows: int = 0
    completed: int = 0
    errors: int = 0
    shed: int = 0  # 503 answers, each retried after its Retry-After
    resent: int = 0  # requests sent again after a timeout or a dropped connection
    latencies_ms: list[float] = field(default_factory=list)  # every answer but the shed ones
    first_error: str = ""

    def p95_ms(self) -> float:
        return percentile(self.latencies_ms, 0.95)

    def figures(self) -> dict[str, Any]:
        answered = len(self.latencies_ms) + self.shed
        return {
            "rate_per_minute": round(self.rate_per_minute),
            "flows": self.flows,
            "completed": self.completed,
            "errors": self.errors,
            "api_p50_ms": percentile(self.latencies_ms, 0.50),
            "api_p95_ms": self.p95_ms(),
            "shed_share": round(self.shed / answered, 4) if answered else 0.0,
            "resent": self.resent,
        }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


class _Client:
    """One user's calls, timed; `503` waits its `Retry-After` and goes again."""

    def __init__(
        self, http: aiohttp.ClientSession, api_url: str, run: FlowRun, auth: dict[str, str]
    ) -> None:
        self.http, self.api_url, self.run, self.auth = http, api_url, run, auth

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """(status, JSON body or None)."""
        deadline = time.monotonic() + GIVE_UP_SECONDS
        shed_in_a_row = 0
        while True:
            sent = time.monotonic()
            try:
                async with self.http.request(
                    method,
                    self.api_url + path,
                    headers={**self.auth, **(headers or {})},
                    **kwargs,
                ) as answer:
                    is_json = answer.content_type == "application/json"
                    body = await answer.json() if is_json else None
                    retry_after = answer.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                self.run.resent += 1
                await asyncio.sleep(1)
                continue
            if answer.status != 503 or time.monotonic() > deadline:
                self.run.latencies_ms.append((time.monotonic() - sent) * 1000)
                return answer.status, body
            self.run.shed += 1
            await asyncio.sleep(retry_delay(shed_in_a_row, retry_after))
            shed_in_a_row += 1

    async def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        status, body = await self.call(method, path, **kwargs)
        if status >= 400:
            raise RuntimeError(f"{method} {path} answered {status}: {body}")
        result: dict[str, Any] = body
        return result

    async def wait_for(self, request_id: str, status: str) -> dict[str, Any]:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            state = await self.json("GET", f"/api/v1/generation-requests/{request_id}")
            if state["status"] == status:
                return state
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"{request_id} stuck in {state['status']}")


async def run_flows(
    api_url: str,
    token: Callable[[str], str],
    rate_per_minute: float,
    seconds: float,
    users: int = 200,
) -> FlowRun:
    """`rate_per_minute` flows started evenly for `seconds`, each followed to `completed`."""
    run = FlowRun(rate_per_minute, seconds, flows=int(rate_per_minute * seconds / 60))
    interval = 60 / rate_per_minute
    started = time.monotonic()
    tokens = [token(f"flow-user-{n}") for n in range(users)]
    connector = aiohttp.TCPConnector(limit=1000)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(n: int) -> None:
            await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
            auth = {"Authorization": f"Bearer {tokens[n % users]}"}
            client = _Client(http, api_url, run, auth)
            try:
                body = {**CREATE, "prompt": f"{CREATE['prompt']} no. {n}"}
                once = {"Idempotency-Key": uuid.uuid4().hex}  # a resent create makes no second
                created = await client.json(
                    "POST", "/api/v1/generation-requests", json=body, headers=once
                )
                samples = await client.wait_for(created["id"], "awaiting_selection")
                chosen = samples["sample_asset_infos"][0]["asset_id"]
                status, answer = await client.call(
                    "POST",
                    f"/api/v1/generation-requests/{created['id']}/select-sample",
                    json={"selected_sample_id": chosen},
                )
                if status >= 400 and status != 409:  # 409: a resent select whose first went in
                    raise RuntimeError(f"select-sample answered {status}: {answer}")
                await client.wait_for(created["id"], "completed")
                run.completed += 1
            except Exception as exc:  # counted: the run's figures say how many and the first
                run.errors += 1
                run.first_error = run.first_error or repr(exc)[:300]

        await asyncio.gather(*(one(n) for n in range(run.flows)))
    return run


P95_GOAL_MS = 200.0  # NFR-001's API answer time, held under load
SHED_ALLOWED = 0.01  # a rate that sheds more than this is past capacity


def sustained(run: FlowRun) -> bool:
    return (
        run.errors == 0
        and run.completed == run.flows
        and run.p95_ms() <= P95_GOAL_MS
        and run.figures()["shed_share"] <= SHED_ALLOWED
    )


async def find_capacity(
    api_url: str,
    token: Callable[[str], str],
    rates: tuple[float, ...],
    seconds: float,
    cpu: Callable[[], dict[str, float]],
) -> dict[str, Any]:
    """Steps up through `rates` (flows a minute) until one is not sustained: every flow
    completed, API P95 within the goal, at most 1 % shed. The highest sustained is the capacity.
    Each step also says what a flow cost in CPU (`cpu` gives CPU seconds so far by process
    group): the budget a rate leaves is the cores' 60,000 ms a minute over the rate."""
    steps = []
    capacity = 0.0
    for rate in rates:
        before = cpu()
        run = await run_flows(api_url, token, rate, seconds)
        after = cpu()
        spent = {
            name: round((after[name] - before[name]) * 1000 / max(1, run.flows), 1)
            for name in before
        }
        steps.append({**run.figures(), "cpu_ms_per_flow": spent})
        if not sustained(run):
            break
        capacity = rate
    return {"flows_per_minute": round(capacity), "p95_goal_ms": P95_GOAL_MS, "steps": steps}

"""The built-in stand-in for n8n: takes job messages, renders real images, and reports back
through the service's signed callback routes over HTTP, exactly as the n8n workflow does.

Prompts can ask for a failure, so every path is easy to try by hand:
`[simulate:content_policy]` is refused, `[simulate:error]` fails as a model error, and
`[simulate:crash]` never reports (a poison job: a queue consumer requeues it until the
queue dead-letters it, and the deadline sweep fails the request)."""

import asyncio
import json
import logging
import random
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from .asset_store import LocalAssetStore
from .renderer import render, render_plain
from .signing import CallbackSigner

log = logging.getLogger(__name__)
REMEMBERED_JOBS = 10_000


class CallbackFailed(Exception):
    """The service could not be told the result; a queue consumer should requeue the job."""


@dataclass(frozen=True)
class SimulatorSettings:
    render_delay_seconds: float = 0.5
    failure_rate: float = 0.0
    concurrency: int = 2
    callback_attempts: int = 5
    # "picture" draws shapes, colours and the prompt; "plain" one colour, ~20 times cheaper
    render_mode: Literal["picture", "plain"] = "picture"


class N8nSimulator:
    def __init__(
        self,
        http: httpx.AsyncClient,
        signer: CallbackSigner,
        store: LocalAssetStore,
        settings: SimulatorSettings,
    ) -> None:
        self._http = http
        self._signer = signer
        self._store = store
        self._settings = settings
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        # A job delivered twice yields one result: the second delivery re-sends the first.
        self._results: OrderedDict[str, tuple[str, str]] = OrderedDict()

    async def submit(self, job: dict[str, Any]) -> None:
        self._queue.put_nowait(job)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self._settings.concurrency):
                group.create_task(self._work())

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self.handle(job)
            except Exception:
                log.exception("simulator failed on job %s", job.get("job_id"))
            finally:
                self._queue.task_done()

    async def handle(self, job: dict[str, Any]) -> None:
        job_id = job["job_id"]
        if job_id not in self._results:
            started = time.monotonic()
            await asyncio.sleep(self._settings.render_delay_seconds)
            url, body = await self._result(job, started)
            self._results[job_id] = (url, body)
            while len(self._results) > REMEMBERED_JOBS:
                self._results.popitem(last=False)
        url, body = self._results[job_id]
        await self._post(url, body, job.get("correlation_id"))

    async def _result(self, job: dict[str, Any], started: float) -> tuple[str, str]:
        prompt: str = job["prompt"]
        urls = job["callback_urls"]
        if "[simulate:crash]" in prompt:
            raise CallbackFailed("simulated crash while rendering")
        if "[simulate:content_policy]" in prompt:
            return urls["error"], _error(job, "content_policy_violation", "Prompt refused.", False)
        failing = random.random() < self._settings.failure_rate  # noqa: S311
        if "[simulate:error]" in prompt or failing:
            return urls["error"], _error(job, "model_error", "The model failed.", True)
        if job["job_type"] == "samples":
            ids = [f"r{job['round']}-sample-{i}" for i in range(job.get("num_samples", 4))]
            assets = await asyncio.gather(
                *(self._asset(job, asset_id, asset_id) for asset_id in ids)
            )
            payload: dict[str, Any] = {"samples": list(assets)}
            url = urls["samples"]
        else:
            # drawn from the selected sample's seed: the final is the picture the user chose
            seed = job["selected_sample"]["asset_id"]
            payload = {"asset": await self._asset(job, f"final-{job['round']}", seed)}
            url = urls["final"]
        payload.update(
            request_id=job["request_id"],
            job_id=job["job_id"],
            ai_model_used=job.get("model") or "creativeflow-simulator",
            processing_time_ms=int((time.monotonic() - started) * 1000),
        )
        return url, json.dumps(payload)

    async def _asset(self, job: dict[str, Any], asset_id: str, seed: str) -> dict[str, str]:
        width, height, fmt = job["width"], job["height"], job.get("output_format", "png")
        colors = (job.get("brand_elements") or {}).get("colors") or []
        if self._settings.render_mode == "plain":
            data = await asyncio.to_thread(
                render_plain, f"{job['prompt']}\x00{seed}", width, height, fmt
            )
        else:
            data = await asyncio.to_thread(render, job["prompt"], seed, width, height, colors, fmt)
        url = await asyncio.to_thread(
            self._store.save, job["request_id"], f"{asset_id}.{fmt}", data
        )
        return {"asset_id": asset_id, "url": url, "resolution": f"{width}x{height}", "format": fmt}

    async def _post(self, url: str, body: str, correlation_id: str | None) -> None:
        """POST the signed callback; 5xx and network errors are retried, then CallbackFailed."""
        message_id = f"msg_{uuid.uuid4().hex}"  # the same id on every retry of this delivery
        for attempt in range(1, self._settings.callback_attempts + 1):
            headers = self._signer.headers(body, message_id)
            if correlation_id:
                headers["x-request-id"] = correlation_id
            try:
                response = await self._http.post(url, content=body, headers=headers)
                if response.status_code < 500:
                    if response.status_code >= 300:  # refused for good: retrying cannot help
                        log.warning(
                            "callback %s answered %s: %s", url, response.status_code, response.text
                        )
                    return
            except httpx.HTTPError as exc:
                log.warning("callback %s failed (attempt %d): %s", url, attempt, exc)
            if attempt < self._settings.callback_attempts:
                await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
        raise CallbackFailed(f"{url} gave up after {self._settings.callback_attempts} attempts")


def _error(job: dict[str, Any], code: str, message: str, retryable: bool) -> str:
    return json.dumps(
        {
            "request_id": job["request_id"],
            "job_id": job["job_id"],
            "error_code": code,
            "error_message": message,
            "retryable": retryable,
            "details": {"simulated": True},
        }
    )


class InProcessJobDispatcher:
    """The embedded job transport: the outbox relay hands each job straight to the simulator."""

    def __init__(self, simulator: N8nSimulator) -> None:
        self._simulator = simulator

    async def dispatch(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        await self._simulator.submit({**body, "correlation_id": headers.get("correlation_id")})

"""The built-in stand-in for n8n: takes job messages, renders real images, uploads each to its
upload target and reports back through the service's signed callback routes over HTTP,
exactly as the n8n workflow does (contract §6, `schema_version` 2). It renders at the job's
`render_size` and resizes to the exact output size, works the user's input images and logos
into its samples, makes a variation from its source sample's pixels (a subtle one keeps most of
them), and makes a final by upscaling the chosen sample's own pixels. The same seed and prompt
render the same sample.

Before it renders a job it asks the job's `status_url` and skips a job that is no longer
current (cancelled, or superseded while it waited), as the workflow does.

Prompts can ask for a failure, so every path is easy to try by hand:
`[simulate:content_policy]` is refused, `[simulate:error]` fails as a model error, and
`[simulate:crash]` never reports (a poison job: a queue consumer requeues it until the
queue dead-letters it, and the deadline sweep fails the request)."""

import asyncio
import hashlib
import io
import json
import logging
import random
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from PIL import Image, ImageFilter
from yarl import URL

from .renderer import encode, picture, plain
from .signing import CallbackSigner

log = logging.getLogger(__name__)
REMEMBERED_JOBS = 10_000
# How much of its source sample a variation keeps (the rest is the newly drawn picture).
VARIATION_WEIGHT = {"subtle": 0.75, "strong": 0.4}


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


def new_http_session() -> aiohttp.ClientSession:
    """The simulator's HTTP client: aiohttp, whose CPU a request is about a fifth of httpx's (in
    load tests the simulator shares the cores with the service under test), without cookies."""
    timeout = aiohttp.ClientTimeout(total=30.0, connect=3.0)
    return aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.DummyCookieJar())


def _as_given(url: str) -> URL:
    """The URL byte for byte: a presigned link's signature covers its query as it was written."""
    return URL(url, encoded=True)


class N8nSimulator:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        signer: CallbackSigner,
        settings: SimulatorSettings,
    ) -> None:
        self._http = http
        self._signer = signer
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
        if job_id not in self._results and not await self._still_wanted(job):
            log.info("job %s is no longer current: skipped, no model call", job_id)
            return
        if job_id not in self._results:
            started = time.monotonic()
            await asyncio.sleep(self._settings.render_delay_seconds)
            url, body = await self._result(job, started)
            self._results[job_id] = (url, body)
            while len(self._results) > REMEMBERED_JOBS:
                self._results.popitem(last=False)
        url, body = self._results[job_id]
        await self._post(url, body, job.get("correlation_id"))

    async def _still_wanted(self, job: dict[str, Any]) -> bool:
        """As the workflow does before it calls the model: ask the job's `status_url` and go
        on only for `{"current": true}` (a job without one is rendered)."""
        url = job.get("status_url")
        if not url:
            return True
        try:
            async with self._http.get(_as_given(url)) as response:
                if response.status != 200:
                    return False
                answer = await response.json(content_type=None)
            return answer.get("current") is True
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("status of job %s unknown (%s): skipped", job["job_id"], exc)
            return False

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
            inputs = await self._inputs(job)
            source = job.get("source_sample")
            if source:  # a variation: made from that sample, image to image
                weight = VARIATION_WEIGHT[job.get("strength") or "subtle"]
                inputs.append((f"source:{weight}", await self._download(source["url"])))
            samples = []
            for index, target in enumerate(job["outputs"]):
                seed = _seed(job, index)
                image = await asyncio.to_thread(self._sample, job, seed, inputs)
                await self._upload(target, image, job["output_format"])
                samples.append({"asset_id": target["asset_id"], "seed": seed})
            payload: dict[str, Any] = {"samples": samples}
            url = urls["samples"]
        else:
            # the final is the picture the user chose, upscaled: never drawn afresh
            chosen = await self._download(job["selected_sample"]["url"])
            plain_mode = self._settings.render_mode == "plain"
            size = (job["width"], job["height"])
            image = await asyncio.to_thread(_refined, chosen, size, plain_mode)
            target = job["outputs"][0]
            await self._upload(target, image, job["output_format"])
            payload = {"asset": {"asset_id": target["asset_id"]}}
            url = urls["final"]
        payload.update(
            request_id=job["request_id"],
            job_id=job["job_id"],
            ai_model_used=job.get("model") or "creativeflow-simulator",
            processing_time_ms=int((time.monotonic() - started) * 1000),
        )
        return url, json.dumps(payload)

    def _sample(
        self, job: dict[str, Any], seed: int, inputs: list[tuple[str, Image.Image]]
    ) -> Image.Image:
        """Rendered at `render_size` (what a real model would be asked for), then resized to
        exactly the output size, as the workflow does."""
        asked = job.get("render_size") or {"width": job["width"], "height": job["height"]}
        width, height = asked["width"], asked["height"]
        variant = f"{job['prompt']}\x00{seed}"
        if self._settings.render_mode == "plain":
            image = plain(variant, width, height)  # one colour: kept as a palette image
        else:
            colors = (job.get("brand_elements") or {}).get("colors") or []
            image = picture(job["prompt"], str(seed), width, height, colors)
        for purpose, source in inputs:
            image = _with_input(image.convert("RGB"), source, purpose)
        return image.resize((job["width"], job["height"]), Image.Resampling.LANCZOS)

    async def _inputs(self, job: dict[str, Any]) -> list[tuple[str, Image.Image]]:
        found = []
        for asset in job.get("input_assets") or []:
            found.append((asset["purpose"], await self._download(asset["url"])))
        return found

    async def _download(self, url: str) -> Image.Image:
        async with self._http.get(_as_given(url)) as response:
            if response.status != 200:
                raise CallbackFailed(f"could not fetch an input image: {response.status}")
            content = await response.read()
        image = Image.open(io.BytesIO(content))
        image.load()
        return image

    async def _upload(self, target: dict[str, Any], image: Image.Image, fmt: str) -> None:
        data = await asyncio.to_thread(encode, image, fmt)
        for attempt in range(1, self._settings.callback_attempts + 1):
            try:
                async with self._http.request(
                    target.get("method", "PUT"),
                    _as_given(target["upload_url"]),
                    data=data,
                    headers=target.get("headers") or {},
                ) as response:
                    if 200 <= response.status < 300:
                        return
                    text = await response.text(errors="replace")
                log.warning("upload answered %s: %s", response.status, text[:200])
                if 400 <= response.status < 500 and response.status not in (408, 429):
                    # refused for good (its job stopped mattering, a link past its time)
                    raise CallbackFailed(f"upload of {target['asset_id']} refused")
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("upload failed (attempt %d): %s", attempt, exc)
            await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
        raise CallbackFailed(f"upload of {target['asset_id']} gave up")

    async def _post(self, url: str, body: str, correlation_id: str | None) -> None:
        """POST the signed callback; 5xx and network errors are retried, then CallbackFailed."""
        message_id = f"msg_{uuid.uuid4().hex}"  # the same id on every retry of this delivery
        for attempt in range(1, self._settings.callback_attempts + 1):
            headers = self._signer.headers(body, message_id)
            if correlation_id:
                headers["x-request-id"] = correlation_id
            try:
                async with self._http.post(_as_given(url), data=body, headers=headers) as response:
                    text = await response.text(errors="replace")
                if response.status < 500:
                    if response.status >= 300:  # refused for good: retrying cannot help
                        log.warning("callback %s answered %s: %s", url, response.status, text)
                    return
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("callback %s failed (attempt %d): %s", url, attempt, exc)
            if attempt < self._settings.callback_attempts:
                await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
        raise CallbackFailed(f"{url} gave up after {self._settings.callback_attempts} attempts")


def _seed(job: dict[str, Any], index: int) -> int:
    """The job's seed + the sample's index when the job has one, else one drawn from its id."""
    seed = job.get("seed")
    if isinstance(seed, int):
        return (seed + index) % 2**32
    digest = hashlib.sha256(f"{job['job_id']}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _with_input(image: Image.Image, source: Image.Image, purpose: str) -> Image.Image:
    """An input image shows through (image to image); a logo sits in the corner; a variation's
    source sample (`source:<weight>`) keeps that share of the picture."""
    if purpose.startswith("source:"):
        weight = float(purpose.removeprefix("source:"))
        return Image.blend(image, source.convert("RGB").resize(image.size), weight)
    if purpose == "logo":
        side = max(16, min(image.size) // 6)
        logo = source.convert("RGB")
        logo.thumbnail((side, side))
        margin = side // 4
        image = image.copy()
        image.paste(logo, (image.width - logo.width - margin, image.height - logo.height - margin))
        return image
    return Image.blend(image, source.convert("RGB").resize(image.size), 0.35)


def _refined(chosen: Image.Image, size: tuple[int, int], plain: bool) -> Image.Image:
    """The chosen sample at the final size: upscaled, then sharpened a little. In plain mode
    (load tests) a one-colour sample is only enlarged: the same picture, at a few ms for 4K."""
    if plain:
        return chosen.resize(size, Image.Resampling.NEAREST)
    upscaled = chosen.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    return upscaled.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))


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

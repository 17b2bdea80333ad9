"""The shipped workflow n8n/creative_generation.workflow.json, imported into a fresh n8n 2.8
with the n8n CLI and published, takes this service's jobs from RabbitMQ, calls an image model
(a small OpenAI-compatible server on 127.0.0.1, as strict about sizes as gpt-image-1 itself),
fits each picture to the exact output size, uploads it to the job's presigned target on a
real S3-compatible server (rclone serve s3), and reports the asset ids back with signed
callbacks: create → samples → select → a final refined from the chosen sample → completed; a
refused prompt → content_rejected; a failing model → failed and refunded; n8n killed mid-run
→ the job is redelivered and applied once. Driven with the service's own async client.

Its own CI step (`make test-n8n`): installing n8n takes minutes the first time (cached outside
the clone afterwards) and starting it tens of seconds."""

import asyncio
import io
import json
import re
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from PIL import Image, ImageStat

from creativeflow.services.aigeneration.client import (
    AsyncGenerationClient,
    GenerationRequestRead,
)
from creativeflow.services.aigeneration.infrastructure.simulator.signing import (
    CallbackSigner,
    n8n_callback_secret,
)

from ..conftest import asyncpg_dsn
from ..contracts import assert_job_message
from ..e2e.conftest import AIGEN
from ..e2e.processes import ServiceProcess, service_env, token
from ..s3_server import S3Server
from ..stub_servers import ImageModelStub
from .n8n_runtime import WORKFLOW, N8n, install

pytestmark = pytest.mark.n8n
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
QUEUE = "n8n_generation_jobs"  # the queue the shipped workflow's trigger reads (the default)


MODEL = "gpt-image-1"  # takes 1024x1024, 1536x1024, 1024x1536 only, and image edits


@dataclass
class Stack:
    api: str
    broker: str
    database_url: str
    model: ImageModelStub
    n8n: N8n
    s3: S3Server
    timings: dict[str, float]
    callback_secret: str  # the service's N8N_CALLBACK_SECRET


def _rabbitmqctl(*args: str) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is needed to give this test a RabbitMQ vhost of its own")
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
async def stack(
    postgres_url: str,
    rabbitmq_url: str,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    timings: dict[str, float] = {}
    started = time.monotonic()
    installed = await asyncio.to_thread(install)
    timings["install_s"] = round(time.monotonic() - started, 1)

    folder = tmp_path_factory.mktemp("n8n")
    # A vhost of its own: the workflow reads the default queue name, untouched, and nothing
    # else on this broker can take its jobs.
    vhost = f"aigen_n8n_{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    broker = f"{rabbitmq_url.rstrip('/')}/{vhost}"
    signing_key = secrets.token_urlsafe(32)  # what an operator puts in n8n's Crypto credential
    callback_secret = n8n_callback_secret(signing_key)
    model = ImageModelStub(api_key=f"sk-test-{secrets.token_hex(8)}")
    n8n = N8n(installed, folder / "n8n-home")
    service: ServiceProcess | None = None
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        await model.start()
        env = service_env(
            postgres_url,
            folder,
            RABBITMQ_URL=broker,
            N8N_CALLBACK_SECRET=callback_secret,
            DEFAULT_AI_MODEL=MODEL,
            **s3_server.settings(prefix=f"{vhost}/"),
        )
        migrate = [AIGEN, "migrate"]
        await asyncio.to_thread(subprocess.run, migrate, env=env, cwd=folder, check=True)
        # first: the service declares the job queue, which the workflow's trigger only checks
        service = await asyncio.to_thread(ServiceProcess.serve, "serve", env, folder)

        started = time.monotonic()
        n8n.folder.mkdir()
        await asyncio.to_thread(n8n.import_credentials, _credentials(vhost, model, signing_key))
        await asyncio.to_thread(n8n.import_and_publish, WORKFLOW)
        await asyncio.to_thread(n8n.start)
        await _wait_for_consumer(broker)
        timings["n8n_start_s"] = round(time.monotonic() - started, 1)
        yield Stack(
            service.base_url, broker, postgres_url, model, n8n, s3_server, timings, callback_secret
        )
    finally:
        n8n.stop()
        if service is not None:
            service.stop()
        await model.stop()
        _rabbitmqctl("delete_vhost", vhost)


def _credentials(vhost: str, model: ImageModelStub, signing_key: str) -> list[dict[str, Any]]:
    """The three credentials n8n/README.md tells an operator to create, with the ids and
    names the workflow file refers to."""
    rabbitmq = {
        "hostname": "127.0.0.1",
        "port": 5672,
        "username": "guest",
        "password": "guest",
        "vhost": vhost,
        "ssl": False,
    }
    return [
        {
            "id": "cfRabbitMq000001",
            "name": "CreativeFlow RabbitMQ",
            "type": "rabbitmq",
            "data": rabbitmq,
        },
        {
            "id": "cfImageModel0001",
            "name": "CreativeFlow image model",
            "type": "openAiApi",
            "data": {"apiKey": model.api_key, "url": f"{model.url}/v1", "header": False},
        },
        {
            "id": "cfCallbackKey001",
            "name": "CreativeFlow callback signing key",
            "type": "crypto",
            "data": {"hmacSecret": signing_key},
        },
    ]


async def _wait_for_consumer(broker: str, within: float = 60) -> None:
    """The published workflow's trigger is listening once the job queue has a consumer."""
    connection = await aio_pika.connect(broker)
    async with connection:
        channel = await connection.channel()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            queue = await channel.declare_queue(QUEUE, passive=True)
            if queue.declaration_result.consumer_count > 0:
                return
            await asyncio.sleep(0.5)
    raise AssertionError(f"n8n's RabbitMQ trigger never consumed {QUEUE}")


def _client(stack: Stack, user: str) -> AsyncGenerationClient:
    return AsyncGenerationClient(stack.api, token(user))


async def _create(client: AsyncGenerationClient, prompt: str) -> str:
    created = await client.create(
        prompt,
        "instagram_post",
        "n8n-e2e",
        style_guidance="flat illustration",
        brand_elements={"colors": ["#FF5733", "#1A1A2E"]},
    )
    return created.id


async def _reach(
    client: AsyncGenerationClient, request_id: str, status: str, within: float = 120
) -> GenerationRequestRead:
    """The request once it is in `status`, followed over its event stream."""
    request = await asyncio.wait_for(client.wait_for(request_id, {status}), within)
    assert request.status == status, request
    return request


async def _picture(http: httpx.AsyncClient, url: str) -> Image.Image:
    """An asset link as a browser uses it: no token; a presigned URL of the S3 server."""
    response = await http.get(url)
    assert response.status_code == 200, url
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert image.format == "PNG"
    return image


def _colour(image: Image.Image) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(image.convert("RGB")).mean)


def _distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


async def test_a_request_goes_from_create_to_completed_through_n8n(stack: Stack) -> None:
    started = time.monotonic()
    async with _client(stack, "n8n-happy") as client, httpx.AsyncClient() as http:
        request_id = await _create(client, "A poster for a summer sale")
        waiting = await _reach(client, request_id, "awaiting_selection")
        stack.timings["create_to_samples_s"] = round(time.monotonic() - started, 1)
        samples = waiting.sample_asset_infos
        assert len(samples) == 4
        colours = []
        for sample in samples:
            assert sample.resolution == "512x512"
            assert sample.url.startswith(stack.s3.endpoint)  # presigned, never the model's
            picture = await _picture(http, sample.url)
            assert picture.size == (512, 512)
            colours.append(_colour(picture))
        assert len({tuple(round(c) for c in colour) for colour in colours}) == 4

        chosen = samples[2].asset_id
        await client.select_sample(request_id, chosen, "high")
        done = await _reach(client, request_id, "completed")
        stack.timings["create_to_completed_s"] = round(time.monotonic() - started, 1)

        assert done.selected_sample_id == chosen
        final = done.final_asset_info
        assert final is not None and final.resolution == "3840x3840"
        assert final.url.startswith(stack.s3.endpoint)
        final_picture = await _picture(http, final.url)
        assert final_picture.size == (3840, 3840)
        # the final comes from the chosen sample, not from the prompt or another sample
        distances = [_distance(_colour(final_picture), colour) for colour in colours]
        assert distances.index(min(distances)) == 2 and min(distances) < 3, distances
        stack.timings["final_to_chosen_colour_distance"] = round(min(distances), 2)
        stack.timings["final_to_other_samples_min_distance"] = round(sorted(distances)[1], 1)
    # the model got the job's prompt with its style and brand colours, only at sizes it takes,
    # and refined the final from the chosen sample's own pixels (an image edit)
    assert any("flat illustration" in p and "#FF5733" in p for p in stack.model.prompts())
    sizes = {call["size"] for kind, call in stack.model.calls if kind in ("generate", "edit")}
    assert sizes == {"1024x1024"}, sizes
    assert stack.model.refusals == []
    (edit,) = [c for kind, c in stack.model.calls if kind == "edit" and "summer" in c["prompt"]]
    source = Image.open(io.BytesIO(edit["images"][0]))
    assert source.size == (512, 512)
    assert _distance(_colour(source), colours[2]) < 1


async def test_a_variation_and_a_second_final_through_n8n(stack: Stack) -> None:
    """Contract §7 through the real n8n: a variation is an image edit of its sample (with the
    negative prompt said in the prompt), and a completed request takes a second final from a
    sample of its first round."""
    async with _client(stack, "n8n-creative") as client, httpx.AsyncClient() as http:
        created = await client.create(
            "A lantern festival", "instagram_post", "n8n-e2e", seed=99, negative_prompt="text"
        )
        first = (await _reach(client, created.id, "awaiting_selection")).sample_asset_infos
        assert [s.seed for s in first] == [99, 100, 101, 102]
        colours = [_colour(await _picture(http, s.url)) for s in first]

        await client.vary(created.id, first[1].asset_id, "strong")
        varied = await _reach(client, created.id, "awaiting_selection")
        assert [(r.kind, r.seed) for r in varied.rounds] == [("samples", 99), ("variation", 100)]
        for sample in varied.rounds[1].samples:
            picture = await _picture(http, sample.url)
            assert picture.size == (512, 512)
            assert _distance(_colour(picture), colours[1]) < 3  # made from that sample

        await client.select_sample(created.id, varied.sample_asset_infos[0].asset_id)
        await _reach(client, created.id, "completed")
        await client.select_sample(created.id, first[3].asset_id, "high")
        done = await _reach(client, created.id, "completed")
        assert [(f.sample_id, f.quality) for f in done.finals] == [
            (varied.sample_asset_infos[0].asset_id, "standard"),
            (first[3].asset_id, "high"),
        ]
        assert done.final_asset_info is not None
        second = await _picture(http, done.final_asset_info.url)
        assert second.size == (3840, 3840)
        assert _distance(_colour(second), colours[3]) < 3
    (vary,) = [
        c for kind, c in stack.model.calls if kind == "edit" and "free variation" in c["prompt"]
    ]
    assert "Avoid: text" in vary["prompt"] and "lantern" in vary["prompt"]
    assert _distance(_colour(Image.open(io.BytesIO(vary["images"][0]))), colours[1]) < 1


async def test_samples_are_made_from_the_users_input_image_and_logo(stack: Stack) -> None:
    """Input images and logos reach the model: the samples are an image edit that carries
    them (the stand-in makes its picture from the first one, so the samples have its colour)."""
    orange = (250, 120, 0)
    async with httpx.AsyncClient(
        base_url=f"{stack.api}/api/v1", headers={"Authorization": f"Bearer {token('n8n-inputs')}"}
    ) as http:
        ids = []
        for colour, purpose in ((orange, "input"), ((20, 20, 200), "logo")):
            buffer = io.BytesIO()
            Image.new("RGB", (300, 300), colour).save(buffer, "PNG")
            uploaded = await http.post(
                "/assets", files={"file": ("i.png", buffer.getvalue())}, data={"purpose": purpose}
            )
            assert uploaded.status_code == 201, uploaded.text
            ids.append(uploaded.json()["asset_id"])
        created = await http.post(
            "/generation-requests",
            json={
                "project_id": "n8n-e2e",
                "prompt": "Our product on a beach",
                "format": "instagram_post",
                "input_asset_ids": [ids[0]],
                "brand_elements": {"logo_asset_ids": [ids[1]]},
            },
        )
        assert created.status_code == 202, created.text
    async with _client(stack, "n8n-inputs") as client, httpx.AsyncClient() as http:
        waiting = await _reach(client, created.json()["id"], "awaiting_selection")
        for sample in waiting.sample_asset_infos:
            picture = await _picture(http, sample.url)
            assert picture.size == (512, 512)
            assert _distance(_colour(picture), orange) < 3
    edits = [
        call for kind, call in stack.model.calls if kind == "edit" and "beach" in call["prompt"]
    ]
    assert len(edits) == 1 and len(edits[0]["images"]) == 2  # the input image and the logo


async def test_a_refused_prompt_ends_content_rejected_without_a_refund(stack: Stack) -> None:
    async with _client(stack, "n8n-refused") as client:
        request_id = await _create(client, f"Something the model refuses {ImageModelStub.REFUSE}")
        rejected = await _reach(client, request_id, "content_rejected")
    assert rejected.error_code == "content_policy_violation"
    assert rejected.retryable is False
    assert await _ledger(stack.database_url, "n8n-refused") == {"debit": Decimal("0.25")}


async def test_a_failing_model_ends_failed_and_refunded(stack: Stack) -> None:
    async with _client(stack, "n8n-failing") as client:
        request_id = await _create(client, f"The model breaks on this {ImageModelStub.FAIL}")
        failed = await _reach(client, request_id, "failed")
    assert failed.error_code == "model_error"
    assert failed.retryable is True
    # the refund leaves through the outbox just after the failure commits: give it a moment
    refunded = {"debit": Decimal("0.25"), "refund": Decimal("0.25")}
    deadline = time.monotonic() + 15
    while (ledger := await _ledger(stack.database_url, "n8n-failing")) != refunded:
        assert time.monotonic() < deadline, ledger
        await asyncio.sleep(0.2)


async def test_a_job_in_flight_when_n8n_dies_is_redelivered_and_applied_once(
    stack: Stack,
) -> None:
    """What *When Execution Finishes Successfully* buys: the trigger had not acked the job when
    n8n was killed mid-run, so RabbitMQ hands it to the restarted n8n (with *Immediately* it
    would be gone, and the request would wait for its deadline)."""
    async with _client(stack, "n8n-killed") as client:
        request_id = await _create(client, f"Rendered while n8n dies {ImageModelStub.SLOW}")
        deadline = time.monotonic() + 30
        while not any(ImageModelStub.SLOW in prompt for prompt in stack.model.prompts()):
            assert time.monotonic() < deadline, "the job never reached the model"
            await asyncio.sleep(0.2)
        started = time.monotonic()
        await asyncio.to_thread(stack.n8n.kill)
        await asyncio.to_thread(stack.n8n.start)
        await _wait_for_consumer(stack.broker)
        waiting = await _reach(client, request_id, "awaiting_selection")
        stack.timings["killed_to_samples_s"] = round(time.monotonic() - started, 1)
    assert len(waiting.sample_asset_infos) == 4
    slow_calls = [prompt for prompt in stack.model.prompts() if ImageModelStub.SLOW in prompt]
    assert len(slow_calls) == 2  # the killed run's, then the redelivered job's
    for sample in waiting.sample_asset_infos:  # what the killed run uploaded was replaced
        assert sample.width == sample.height == 512


async def test_a_job_no_longer_current_when_n8n_takes_it_makes_no_model_call(
    stack: Stack,
) -> None:
    """Contract §8: the workflow asks each job's status_url first. With n8n away, one request
    is cancelled while its job waits in the queue, and another's job is superseded (it failed
    and the user regenerated); once n8n is back it drops both stale jobs without calling the
    model, and renders the regenerated round."""
    await asyncio.to_thread(stack.n8n.kill)
    try:
        async with _client(stack, "n8n-stale") as client, httpx.AsyncClient() as http:
            cancelled = await client.create("A kite CANCELLED-WHILE-QUEUED", "instagram_post")
            await client.cancel(cancelled.id)
            superseded = await client.create("A boat SUPERSEDED-WHILE-QUEUED", "instagram_post")
            first_job = await _newest_job(stack, superseded.id)
            body = json.dumps(
                {
                    "request_id": superseded.id,
                    "job_id": first_job,
                    "error_code": "model_error",
                    "error_message": "an earlier run failed",
                }
            )
            headers = CallbackSigner(stack.callback_secret).headers(body, f"msg_{first_job}")
            failed = await http.post(
                f"{stack.api}/api/v1/n8n-callbacks/error", content=body, headers=headers
            )
            assert failed.json() == {"result": "applied"}
            await client.regenerate(superseded.id)
            deadline = time.monotonic() + 20  # the relay publishes each job right after commit
            while await _queued(stack) < 3:  # the cancelled job, the failed one, the new round
                assert time.monotonic() < deadline, "the three jobs never reached the queue"
                await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(stack.n8n.start)
        await _wait_for_consumer(stack.broker)
    async with _client(stack, "n8n-stale") as client:
        done = await _reach(client, superseded.id, "awaiting_selection")
        assert [r.status for r in done.rounds] == ["failed", "succeeded"]
    deadline = time.monotonic() + 30
    while await _queued(stack):  # every job taken and acked
        assert time.monotonic() < deadline, "the stale jobs stayed in the queue"
        await asyncio.sleep(0.5)
    prompts = stack.model.prompts()
    assert [p for p in prompts if "CANCELLED-WHILE-QUEUED" in p] == []
    assert len([p for p in prompts if "SUPERSEDED-WHILE-QUEUED" in p]) == 1  # the new round only


async def _newest_job(stack: Stack, request_id: str) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        value = await connection.fetchval(
            "SELECT current_job_id FROM generation_requests WHERE id = $1", request_id
        )
    finally:
        await connection.close()
    return str(value)


async def _queued(stack: Stack) -> int:
    """Jobs in the workflow's queue, ready or taken but not yet acked."""
    vhost = stack.broker.rsplit("/", 1)[1]
    listing = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    counts = dict(line.split("\t") for line in listing.stdout.splitlines() if "\t" in line)
    return int(counts.get(QUEUE, 0))


async def test_every_job_was_published_once_to_the_contract_and_answered(stack: Stack) -> None:
    """Runs last: the counts of the whole module's run, written to test-artifacts/."""
    connection = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        deadline = time.monotonic() + 15  # every job, event, refund and notification sent
        while await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL"
        ):
            assert time.monotonic() < deadline, "the outbox did not drain"
            await asyncio.sleep(0.2)
        jobs = await connection.fetch(
            "SELECT message_key, payload, delivered_at FROM outbox WHERE destination = 'job'"
        )
        statuses = dict(
            await connection.fetch(
                "SELECT status, count(*) FROM generation_requests GROUP BY status"
            )
        )
    finally:
        await connection.close()
    for job in jobs:
        payload = job["payload"]
        assert_job_message(json.loads(payload) if isinstance(payload, str) else payload)
    assert all(job["delivered_at"] is not None for job in jobs)
    assert len({job["message_key"] for job in jobs}) == len(jobs) == 13

    callbacks = await _callback_counts(stack.api)
    stored = await _assets(stack.database_url)
    figures = {
        **stack.timings,
        "jobs_published": len(jobs),
        "model_calls": len(stack.model.prompts()),
        "model_calls_refused_for_their_parameters": len(stack.model.refusals),
        "objects_stored_and_verified": stored,
        "requests_by_status": statuses,
        "callbacks": callbacks,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "n8n_flow.json").write_text(json.dumps(figures, indent=2))
    print("\nn8n flow:", json.dumps(figures))
    # nothing refunded the refused prompt later either (content refusals are the user's)
    assert await _ledger(stack.database_url, "n8n-refused") == {"debit": Decimal("0.25")}
    assert statuses == {
        "completed": 2,
        "content_rejected": 1,
        "failed": 1,
        "awaiting_selection": 3,
        "cancelled": 1,
    }
    # one signed callback per job, each applied: none refused for its signature (401)
    assert callbacks == {
        "samples applied": 6,
        "final applied": 3,
        "error applied": 3,
    }, callbacks


async def _callback_counts(api: str) -> dict[str, int]:
    """From the service's /metrics: callbacks by kind and outcome, and any answered 401."""
    async with httpx.AsyncClient(base_url=api) as http:
        text = (await http.get("/metrics")).text
    counts: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("aigen_n8n_callbacks_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            counts[f"{labels['kind']} {labels['outcome']}"] = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("aigen_http_request_duration_seconds_count{") and (
            "n8n-callbacks" in line and 'status="401"' in line
        ):
            counts["answered 401"] = counts.get("answered 401", 0) + int(float(line.split()[-1]))
    return counts


async def _assets(database_url: str) -> dict[str, int]:
    """Images verified in storage and recorded, by kind."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch("SELECT kind, count(*) AS n FROM assets GROUP BY kind")
    finally:
        await connection.close()
    return {row["kind"]: row["n"] for row in rows}


async def _ledger(database_url: str, user: str) -> dict[str, Decimal]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT kind, sum(amount) AS total FROM credit_ledger_entries"
            " WHERE user_id = $1 GROUP BY kind",
            user,
        )
    finally:
        await connection.close()
    return {row["kind"]: Decimal(row["total"]) / 10_000 for row in rows}

"""The Python client (sync and async) and the `aigen generate` / `aigen status` commands
against the service started the README's way."""

import asyncio
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from creativeflow.services.aigeneration.client import (
    AsyncGenerationClient,
    GenerationApiError,
    GenerationClient,
    verify_webhook,
)

from .conftest import AIGEN, RunningService

pytestmark = pytest.mark.e2e


def test_the_sync_client_drives_the_whole_flow(service: RunningService, tmp_path: Path) -> None:
    with GenerationClient(service.base_url, service.token("client-sync")) as client:
        formats = client.formats()
        assert "tiktok" in [f.format for f in formats.formats]
        created = client.create("A neon fox", "instagram_post", "client-tests", tone="bold")
        assert created.status == "processing_samples"
        waiting = client.wait_for(created.id, {"awaiting_selection"})
        assert len(waiting.sample_asset_infos) == 4
        client.select_sample(created.id, waiting.sample_asset_infos[0].asset_id, resolution="high")
        done = client.wait_for(created.id, {"completed"})
        assert done.final_asset_info is not None
        path = client.download(done.final_asset_info.url, tmp_path / "final.png")
        with Image.open(path) as image:
            assert image.size == (3840, 3840)
        assert [r.id for r in client.list(project_id="client-tests")] == [created.id]
        statuses = [event.status for event in client.events(created.id)]
        assert statuses == ["completed"]  # a finished request: its last state, then the end


def test_the_async_client_reports_contract_errors(service: RunningService) -> None:
    async def scenario() -> None:
        async with AsyncGenerationClient(service.base_url, service.token("client-async")) as client:
            with pytest.raises(GenerationApiError) as bad:
                await client.create("  ", "tiktok")
            assert (bad.value.status, bad.value.code) == (422, "validation_error")
            with pytest.raises(GenerationApiError) as missing:
                await client.get("00000000-0000-0000-0000-000000000000")
            assert missing.value.code == "not_found"
            created = await client.create("A calm lake", "tiktok")
            cancelled = await client.cancel(created.id)
            assert cancelled.status == "cancelled"

    asyncio.run(scenario())


def test_create_retries_reuse_one_idempotency_key(service: RunningService) -> None:
    with GenerationClient(service.base_url, service.token("client-idem")) as client:
        first = client.create("Same twice", "tiktok", idempotency_key="retry-1")
        again = client.create("Same twice", "tiktok", idempotency_key="retry-1")
        assert again.id == first.id


def test_the_webhook_helper_verifies_and_parses() -> None:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    secret = "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1oZWxwZXI="
    body = (
        '{"event":"completed","data":{"id":"r1","user_id":"u","project_id":"p","status":"completed",'
        '"input_prompt":"x","style_guidance":null,"input_parameters":{},"sample_round":1,'
        '"sample_asset_infos":[],"selected_sample_id":null,"final_asset_info":null,"error_code":null,'
        '"error_message":null,"retryable":null,"credits_cost_sample":0.25,"credits_cost_final":1,'
        '"ai_model_used":null,"created_at":"2026-11-27T00:00:00+00:00",'
        '"updated_at":"2026-11-27T00:00:01+00:00","metrics":{}}}'
    )
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "whk_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign("whk_1", now, body),
    }
    event = verify_webhook(body, headers, secret)
    assert (event.event, event.data.status) == ("completed", "completed")
    with pytest.raises(Exception, match="signature"):
        verify_webhook(body.replace("completed", "failed"), headers, secret)


def test_the_cli_generates_selects_and_saves_the_final(
    service: RunningService, tmp_path: Path
) -> None:
    out = tmp_path / "final.png"
    result = subprocess.run(
        [
            AIGEN,
            "generate",
            "A paper boat on a river",
            "--format",
            "tiktok",
            "--select",
            "2",
            "--resolution",
            "high",
            "--out",
            str(out),
            "--url",
            service.base_url,
            "--token",
            service.token("cli-user"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout
    with Image.open(out) as image:
        assert image.size == (2160, 3840)
    request_id = result.stdout.split()[0]
    status = subprocess.run(
        [
            AIGEN,
            "status",
            request_id,
            "--url",
            service.base_url,
            "--token",
            service.token("cli-user"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert f"{request_id}  completed" in status.stdout
    assert "final:" in status.stdout


def test_the_cli_prints_the_contract_error(service: RunningService) -> None:
    result = subprocess.run(
        [AIGEN, "status", "nope", "--url", service.base_url, "--token", service.token("cli-user")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "not_found" in result.stderr


def test_an_operator_grants_credits_from_the_shell(service: RunningService) -> None:
    granted = subprocess.run(
        [AIGEN, "credits", "grant", "--user", "granted-user", "--amount", "5"],
        cwd=service.folder,
        capture_output=True,
        text=True,
    )
    assert granted.returncode == 0, granted.stderr
    assert "granted-user: balance 15" in granted.stdout
    import httpx

    headers = {"Authorization": f"Bearer {service.token('granted-user')}"}
    body = httpx.get(f"{service.base_url}/api/v1/credits", headers=headers).json()
    assert body == {"balance": 15.0, "subscription_tier": "free"}
    refused = subprocess.run(
        [AIGEN, "credits", "grant", "--user", "u", "--amount", "-1"],
        cwd=service.folder,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "--amount" in refused.stderr


def test_the_client_drives_a_creative_session_with_waiting_answers(
    service: RunningService, tmp_path: Path
) -> None:
    """create -> vary -> two finals, each move answered once its step settled (Prefer: wait),
    against the embedded service and its simulator; prints how long each answer took beyond
    the step's own time."""
    import time

    with GenerationClient(service.base_url, service.token("client-creative")) as client:
        assert client.credits().balance == 10
        assert client.models().models[0].job_types == ["samples", "final"]
        started = time.monotonic()
        request = client.create("A paper boat", "instagram_post", seed=1234, wait=30)
        answered = (time.monotonic() - started) * 1000
        assert request.status == "awaiting_selection"
        assert [s.seed for s in request.sample_asset_infos] == [1234, 1235, 1236, 1237]
        step = request.metrics.samples_ms or 0
        print(f"\nPrefer: wait on create: answered {answered:.0f} ms, the samples step {step} ms")

        sample = request.sample_asset_infos[2]
        varied = client.vary(request.id, sample.asset_id, strength="strong", wait=30)
        assert varied.status == "awaiting_selection"
        assert [r.kind for r in varied.rounds] == ["samples", "variation"]
        assert varied.rounds[1].seed == sample.seed

        first = client.select_sample(request.id, varied.sample_asset_infos[0].asset_id, wait=30)
        assert first.status == "completed"
        second = client.select_sample(request.id, sample.asset_id, resolution="high", wait=60)
        assert second.status == "completed"
        assert [(f.sample_id, f.quality) for f in second.finals] == [
            (varied.sample_asset_infos[0].asset_id, "standard"),
            (sample.asset_id, "high"),
        ]
        assert second.final_asset_info is not None
        path = client.download(second.final_asset_info.url, tmp_path / "second.png")
        with Image.open(path) as image:
            assert image.size == (3840, 3840)

        items = client.create_batch(
            [
                {"project_id": "c", "prompt": "Launch day", "format": f}
                for f in ("tiktok", "pinterest_pin")
            ]
        )
        assert [i.input_parameters["format"] for i in items] == ["tiktok", "pinterest_pin"]


def test_an_operator_refunds_and_erases_from_the_shell(service: RunningService) -> None:
    """`aigen admin …` on the service's own database, audited as cli:<login>."""
    import json

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        command = [AIGEN, "admin", *args]
        return subprocess.run(command, cwd=service.folder, capture_output=True, text=True)

    with GenerationClient(service.base_url, service.token("cli-admin-user")) as client:
        request = client.create("Refunded by hand", "tiktok", wait=30)
        assert request.status == "awaiting_selection"
    refunded = admin("refund", request.id, "--reason", "ticket 12")
    assert refunded.returncode == 0, refunded.stderr
    assert json.loads(refunded.stdout)["id"] == request.id
    twice = admin("refund", request.id, "--reason", "ticket 12")
    assert twice.returncode == 1 and "refunded for that step already" in twice.stderr
    assert json.loads(admin("outbox").stdout) == []
    assert json.loads(admin("dead-letters").stdout) == []  # no broker: no dead letters
    erased = admin("erase-user", "cli-admin-user", "--reason", "right to erasure")
    assert json.loads(erased.stdout) == {"erased": [request.id], "uploads": 0, "skipped": []}
    assert admin("refund", request.id).returncode == 2  # a reason is required
    token = subprocess.run(
        [AIGEN, "dev-token", "--user", "ops", "--role", "admin"],
        cwd=service.folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    import httpx

    listed = httpx.get(
        f"{service.base_url}/api/v1/admin/outbox",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listed.status_code == 200 and listed.json() == {"items": []}

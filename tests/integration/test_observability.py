"""Metrics names and labels after a flow; health and readiness answered in milliseconds."""

import time
from pathlib import Path

from .api_client import ApiDriver
from .test_security_api import configured_api


async def test_metrics_after_a_flow_carry_every_name_and_label(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    await api.callback("samples", await api.samples_payload(request_id))  # a duplicate
    await api.callback("samples", {"request_id": request_id}, sign=False)  # rejected
    await api.action(
        request_id, "select-sample", {"selected_sample_id": await api.sample_id(request_id, 0)}
    )
    await api.callback("final", await api.final_payload(request_id))
    await api.http.get(f"/api/v1/generation-requests/{request_id}", headers=api.auth())

    text = (await api.http.get("/metrics")).text
    expected = [
        'aigen_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/generation-requests/{request_id}",status="200"}',
        'aigen_generation_requests_created_total{format="instagram_post",tier="free"} 1.0',
        'aigen_status_transitions_total{from_status="processing_final",to_status="completed"} 1.0',
        # local credits: charged and dispatched in the create's own transaction
        'aigen_status_transitions_total{from_status="none",to_status="processing_samples"} 1.0',
        'aigen_n8n_callbacks_total{kind="samples",outcome="applied"} 1.0',
        'aigen_n8n_callbacks_total{kind="samples",outcome="duplicate"} 1.0',
        'aigen_n8n_callbacks_total{kind="samples",outcome="rejected"} 1.0',
        'aigen_n8n_callbacks_total{kind="final",outcome="applied"} 1.0',
        'aigen_job_round_trip_seconds_count{job_type="samples"} 1.0',
        'aigen_job_round_trip_seconds_count{job_type="final"} 1.0',
        'aigen_outbox_pending{destination="job"}',
        'aigen_outbox_oldest_age_seconds{destination="notification"}',
    ]
    missing = [line for line in expected if line not in text]
    assert missing == []


async def test_health_and_readiness_answer_in_milliseconds(api: ApiDriver) -> None:
    for path in ("/healthz", "/readyz"):
        started = time.perf_counter()
        response = await api.http.get(path)
        assert response.status_code == 200, response.text
        assert time.perf_counter() - started < 0.5
    body = (await api.http.get("/readyz")).json()
    assert body == {"status": "ready", "checks": {"database": True, "storage": True}}


async def test_readiness_fails_when_the_database_is_gone(tmp_path: Path) -> None:
    async with configured_api("postgresql+asyncpg://nobody@127.0.0.1:1/none", tmp_path) as api:
        started = time.perf_counter()
        response = await api.http.get("/readyz")
        assert time.perf_counter() - started < 1.5
        assert response.status_code == 503
        assert response.json()["checks"]["database"] is False
        assert (await api.http.get("/healthz")).status_code == 200

"""docs/contracts/ holds the JSON Schemas of the job message and the callbacks, generated from
the code: they must match it, and what the code builds must satisfy them."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from creativeflow.services.aigeneration.api import contract_schemas
from creativeflow.services.aigeneration.application.assets import AssetLinks
from creativeflow.services.aigeneration.application.dtos import CallbackUrls
from creativeflow.services.aigeneration.application.job_messages import job_message
from creativeflow.services.aigeneration.domain.formats import Resolution

from .. import builders
from ..contracts import CONTRACTS, JOB_MESSAGE, contract_errors, validator
from ..fakes import FakeAssetStorage, FakeClock

LINKS = AssetLinks(FakeAssetStorage(), FakeClock(), timedelta(seconds=900))

URLS = CallbackUrls(
    "http://svc/n8n-callbacks/samples", "http://svc/n8n-callbacks/final", "http://svc/e"
)


def _samples_job() -> dict[str, Any]:
    request = builders.processing_samples()
    assert request.current_job is not None
    return dict(job_message(request, request.current_job, URLS, LINKS))


def _final_job(resolution: Resolution) -> dict[str, Any]:
    request = builders.processing_final(resolution)
    assert request.current_job is not None
    return dict(job_message(request, request.current_job, URLS, LINKS))


def test_the_committed_schemas_are_what_the_code_generates() -> None:
    assert contract_schemas.stale(CONTRACTS) == [], "run `aigen schemas` and commit the result"


def test_a_changed_file_is_reported_as_stale(tmp_path: Path) -> None:
    contract_schemas.write(tmp_path)
    (tmp_path / "callback-final.schema.json").write_text("{}")

    assert contract_schemas.stale(tmp_path) == ["callback-final.schema.json"]


@pytest.mark.parametrize(
    "job",
    [_samples_job(), _final_job(Resolution.STANDARD), _final_job(Resolution.HIGH)],
    ids=["samples", "final-standard", "final-high"],
)
def test_the_job_messages_the_code_builds_satisfy_the_schema(job: dict[str, Any]) -> None:
    assert contract_errors(JOB_MESSAGE, job) == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"job_type": "preview"}, "job_type"),
        ({"width": "1080"}, "width"),
        ({"num_samples": None}, "num_samples"),
        ({"callback_urls": {"samples": "x"}}, "callback_urls"),
    ],
)
def test_the_schema_refuses_a_message_outside_the_contract(
    change: dict[str, Any], error: str
) -> None:
    job = {**_samples_job(), **change}

    assert any(error in message for message in contract_errors(JOB_MESSAGE, job))


def test_a_final_job_must_carry_the_selected_sample() -> None:
    job = _final_job(Resolution.STANDARD)
    del job["selected_sample"]

    assert contract_errors(JOB_MESSAGE, job) != []


ASSET = {"asset_id": "job-1-0", "seed": 42}
V1_ASSET = {"asset_id": "s0", "url": "https://cdn.example/s0.png", "resolution": "512x512"}


@pytest.mark.parametrize(
    ("name", "body", "valid"),
    [
        ("callback-samples", {"request_id": "r", "job_id": "j", "samples": [ASSET]}, True),
        ("callback-samples", {"request_id": "r", "job_id": "j", "samples": [V1_ASSET]}, True),
        ("callback-samples", {"request_id": "r", "job_id": "j", "samples": []}, False),
        ("callback-samples", {"request_id": "r", "job_id": "j", "samples": [ASSET] * 5}, False),
        (
            "callback-samples",
            {"request_id": "r", "job_id": "j", "samples": [{"asset_id": "a", "seed": -1}]},
            False,
        ),
        ("callback-final", {"request_id": "r", "job_id": "j", "asset": ASSET}, True),
        ("callback-final", {"request_id": "r", "job_id": "j"}, False),
        (
            "callback-error",
            {"request_id": "r", "job_id": "j", "error_code": "model_error", "retryable": True},
            True,
        ),
        ("callback-error", {"request_id": "r", "job_id": "j", "retryable": "yes"}, False),
    ],
)
def test_the_callback_schemas_accept_the_contract_and_refuse_the_rest(
    name: str, body: dict[str, Any], valid: bool
) -> None:
    assert (contract_errors(validator(name), body) == []) is valid

"""Schemathesis against the service's own OpenAPI, served by `aigen serve` on PostgreSQL:
no 5xx, and every response matches the documented schema. Bounded: 40 examples per
operation (about 400 in all)."""

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.core.security import create_dev_token

from ..contracts import assert_published_jobs
from ..e2e.conftest import AIGEN
from ..e2e.processes import ServiceProcess, service_env
from ..figures import count

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def served(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("schemathesis")
    env = service_env(postgres_url, folder, LOCAL_LEDGER_STARTING_BALANCE="1000")
    subprocess.run([AIGEN, "migrate"], cwd=folder, env=env, check=True, capture_output=True)
    started = datetime.now(UTC)
    service = ServiceProcess.serve("serve", env, folder)
    yield service.base_url
    service.stop()
    assert_published_jobs(postgres_url, started)


TOKEN = create_dev_token(load_settings(_env_file=None), "schemathesis-user")


def test_the_api_never_fails_and_always_answers_as_documented(served: str) -> None:
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not load under
    # the pytest release we use, and the loop below is all it would do for us.
    schema = schemathesis.openapi.from_url(f"{served}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def exercise(case: Any) -> None:
            count("schemathesis_examples")
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            count("schemathesis_5xx", int(response.status_code >= 500))

        exercise()

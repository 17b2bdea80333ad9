"""The client's own answer models (client/models.py) against the served OpenAPI document:
every field of every response schema the client reads, with the same name, nested alike. A
field added to the service without the client learning it fails here."""

from typing import Any

import pytest
from pydantic import BaseModel

from creativeflow.services.aigeneration.client import models
from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.main import create_app

CLIENT_MODELS = [
    models.AssetInfoModel,
    models.RoundRead,
    models.FinalRead,
    models.RequestMetrics,
    models.GenerationRequestRead,
    models.BatchRead,
    models.GenerationRequestPage,
    models.Size,
    models.FormatRead,
    models.PricesRead,
    models.FormatsRead,
    models.ModelRead,
    models.ModelsRead,
    models.CreditsRead,
]


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    app = create_app(load_settings(_env_file=None, DATABASE_URL="sqlite+aiosqlite:///:memory:"))
    return dict(app.openapi()["components"]["schemas"])


@pytest.mark.parametrize("model", CLIENT_MODELS, ids=lambda m: m.__name__)
def test_the_client_reads_every_field_the_service_sends(
    model: type[BaseModel], schemas: dict[str, Any]
) -> None:
    served = schemas[model.__name__]["properties"]
    assert set(model.model_fields) == set(served)


# answers the client does not read: probes, n8n's job status, the admin routes
NOT_FOR_CLIENTS = {
    "HealthRead",
    "ReadinessRead",
    "JobStatusRead",
    "DeadLetterRead",
    "DeadLettersRead",
    "ErasureRead",
    "GivenUpRead",
    "GivenUpPage",
    "RedriveRead",
}


def test_every_answer_schema_of_the_client_api_has_a_client_model(schemas: dict[str, Any]) -> None:
    answers = {name for name in schemas if name.endswith(("Read", "Page"))} - NOT_FOR_CLIENTS
    assert answers <= {model.__name__ for model in CLIENT_MODELS}, answers

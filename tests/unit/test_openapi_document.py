"""The served OpenAPI document is first-class (issue: generated clients come out poor without
it): operation ids a person would write, every field and parameter described, enums as named
schemas, and every error status documented per route with the one error envelope."""

import re
from typing import Any

import pytest

from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.main import create_app

OPERATIONS = {
    ("post", "/api/v1/generation-requests"): "createGenerationRequest",
    ("post", "/api/v1/generation-requests/batch"): "createGenerationRequestBatch",
    ("get", "/api/v1/generation-requests"): "listGenerationRequests",
    ("get", "/api/v1/generation-requests/{request_id}"): "getGenerationRequest",
    ("delete", "/api/v1/generation-requests/{request_id}"): "deleteGenerationRequest",
    ("post", "/api/v1/generation-requests/{request_id}/select-sample"): "selectSample",
    ("post", "/api/v1/generation-requests/{request_id}/regenerate-samples"): "regenerateSamples",
    ("post", "/api/v1/generation-requests/{request_id}/vary"): "varySample",
    ("post", "/api/v1/generation-requests/{request_id}/cancel"): "cancelGenerationRequest",
    ("get", "/api/v1/generation-requests/{request_id}/events"): "streamGenerationRequestEvents",
    ("post", "/api/v1/n8n-callbacks/samples"): "reportSamples",
    ("post", "/api/v1/n8n-callbacks/final"): "reportFinal",
    ("post", "/api/v1/n8n-callbacks/error"): "reportJobError",
    ("get", "/api/v1/jobs/{job_id}/status"): "getJobStatus",
    ("get", "/api/v1/admin/dead-letters"): "listDeadLetters",
    ("post", "/api/v1/admin/dead-letters/{job_id}/redrive"): "redriveDeadLetter",
    ("get", "/api/v1/admin/outbox"): "listGivenUpDeliveries",
    ("post", "/api/v1/admin/outbox/{row_id}/redrive"): "redriveDelivery",
    ("post", "/api/v1/admin/generation-requests/{request_id}/refund"): "refundStep",
    ("post", "/api/v1/admin/generation-requests/{request_id}/fail"): "failRequest",
    ("post", "/api/v1/admin/users/{user_id}/erase"): "eraseUser",
    ("get", "/api/v1/formats"): "listFormats",
    ("get", "/api/v1/models"): "listModels",
    ("get", "/api/v1/credits"): "getCredits",
    ("post", "/api/v1/assets"): "uploadAsset",
    ("get", "/api/v1/assets/{asset_id}"): "getAsset",
    ("get", "/api/v1/assets/{asset_id}/content"): "getAssetContent",
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
}
ENUMS = {
    "FormatName",
    "Tone",
    "WebhookEvent",
    "OutputFormat",
    "Resolution",
    "Strength",
    "GenerationStatus",
    "RoundKind",
    "RoundStatus",
    "JobType",
    "SubscriptionTier",
    "CallbackOutcomeName",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(load_settings(_env_file=None, DATABASE_URL="sqlite+aiosqlite:///:memory:"))
    return app.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "delete"}
    ]


def test_every_operation_has_the_id_a_person_would_write(document: dict[str, Any]) -> None:
    found = {(method, path): op["operationId"] for method, path, op in operations(document)}
    assert found == OPERATIONS
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", op_id) for op_id in found.values())


def properties(schema: dict[str, Any]) -> dict[str, Any]:
    return schema.get("properties", {})  # type: ignore[no-any-return]


def test_every_field_and_parameter_is_described(document: dict[str, Any]) -> None:
    missing = [
        f"{name}.{field}"
        for name, schema in document["components"]["schemas"].items()
        for field, prop in properties(schema).items()
        if not prop.get("description")
    ]
    missing += [
        f"{operation['operationId']}: {parameter['in']} {parameter['name']}"
        for _, _, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if not parameter.get("description") and not parameter["schema"].get("description")
    ]
    assert missing == []


def inline_enums(value: Any, where: str = "") -> list[str]:
    if isinstance(value, dict):
        found = [where] if "enum" in value and "title" not in value else []
        return found + [x for k, v in value.items() for x in inline_enums(v, f"{where}/{k}")]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in inline_enums(v, f"{where}/{i}")]
    return []


def test_enums_are_named_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {name for name, schema in schemas.items() if "enum" in schema} >= ENUMS
    # single-value literals (health answers) aside, no enum is written inline
    inline = [w for w in inline_enums(document["paths"]) + inline_enums(schemas)]
    assert [w for w in inline if "Health" not in w and "Readiness" not in w] == []


def test_every_error_is_documented_with_the_error_envelope(document: dict[str, Any]) -> None:
    envelope = {"$ref": "#/components/schemas/ErrorResponse"}
    for method, path, operation in operations(document):
        responses = operation["responses"]
        errors = {code: r for code, r in responses.items() if code >= "400"}
        assert {"422"} <= set(errors), (method, path)
        for code, response in errors.items():
            if path == "/readyz":
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == envelope, (method, path, code)
    for name in ("selectSample", "regenerateSamples", "varySample", "createGenerationRequest"):
        (operation,) = [op for _, _, op in operations(document) if op["operationId"] == name]
        assert "200" in operation["responses"], name  # Prefer: wait
        assert any(p["name"] == "prefer" for p in operation["parameters"]), name

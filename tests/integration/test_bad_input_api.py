"""Bad input gets a clear error and changes nothing: the status, the error code, the field
named, and the database (requests, outbox, ledger) exactly as before."""

import json
from typing import Any

import pytest

from ..figures import count
from .api_client import API, VALID_CREATE, ApiDriver


@pytest.fixture(autouse=True)
def _count_bad_inputs() -> None:
    count("bad_input_cases")


LONG = "x" * 2001

# (case id, fields merged into a valid create body, field the error must name)
CREATE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("missing project_id", {"project_id": None}, "project_id"),
    ("empty project_id", {"project_id": ""}, "project_id"),
    ("long project_id", {"project_id": "p" * 65}, "project_id"),
    ("missing prompt", {"prompt": None}, "prompt"),
    ("blank prompt", {"prompt": "   "}, "prompt"),
    ("long prompt", {"prompt": LONG}, "prompt"),
    ("prompt not a string", {"prompt": 42}, "prompt"),
    ("unknown format", {"format": "myspace"}, "format"),
    ("custom without size", {"format": "custom"}, "body"),
    ("size without custom", {"custom_dimensions": {"width": 500, "height": 500}}, "body"),
    (
        "custom too small",
        {"format": "custom", "custom_dimensions": {"width": 63, "height": 500}},
        "custom_dimensions.width",
    ),
    (
        "custom too large",
        {"format": "custom", "custom_dimensions": {"width": 500, "height": 4097}},
        "custom_dimensions.height",
    ),
    (
        "custom as strings",
        {"format": "custom", "custom_dimensions": {"width": "500", "height": 500}},
        "custom_dimensions.width",
    ),
    ("long style", {"style_guidance": "s" * 1001}, "style_guidance"),
    ("unknown tone", {"tone": "sarcastic"}, "tone"),
    ("long industry", {"industry": "i" * 65}, "industry"),
    ("long template", {"template_id": "t" * 65}, "template_id"),
    ("bad locale", {"locale": "not a locale!"}, "locale"),
    ("bad colour", {"brand_elements": {"colors": ["red"]}}, "brand_elements.colors.0"),
    ("too many colours", {"brand_elements": {"colors": ["#000000"] * 11}}, "brand_elements.colors"),
    ("too many fonts", {"brand_elements": {"fonts": ["Inter"] * 6}}, "brand_elements.fonts"),
    (
        "ftp logo",
        {"brand_elements": {"logo_urls": ["ftp://x/logo.png"]}},
        "brand_elements.logo_urls.0",
    ),
    ("unknown brand field", {"brand_elements": {"mood": "happy"}}, "brand_elements.mood"),
    ("too many inputs", {"input_asset_urls": ["https://x/a.png"] * 5}, "input_asset_urls"),
    ("input not a URL", {"input_asset_urls": ["not a url"]}, "input_asset_urls.0"),
    ("webhook not http", {"webhook_url": "javascript:alert(1)"}, "webhook_url"),
    ("unknown webhook event", {"webhook_events": ["exploded"]}, "webhook_events.0"),
    ("unknown field", {"colour": "blue"}, "colour"),
    ("NUL in a string (found by schemathesis)", {"industry": "tech\u0000"}, "industry"),
    (
        "NUL in a list item",
        {"brand_elements": {"fonts": ["Inter\u0000"]}},
        "brand_elements.fonts.0",
    ),
]


@pytest.mark.parametrize(
    ("fields", "field"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
async def test_a_bad_create_is_422_naming_the_field(
    api: ApiDriver, fields: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**VALID_CREATE, **fields}.items() if v is not None}
    before = await api.snapshot()
    response = await api.http.post(f"{API}/generation-requests", json=body, headers=api.auth())
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [d["field"] for d in error["details"]]
    assert "Traceback" not in response.text
    assert await api.snapshot() == before


async def test_malformed_json_is_422(api: ApiDriver) -> None:
    before = await api.snapshot()
    response = await api.http.post(
        f"{API}/generation-requests",
        content=b'{"project_id": "p",',
        headers={**api.auth(), "content-type": "application/json"},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")
    assert await api.snapshot() == before


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic YWxpY2U6c2VjcmV0", "Bearer " + "e" * 40],
)
async def test_no_valid_token_is_401_with_a_challenge(
    api: ApiDriver, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    before = await api.snapshot()
    response = await api.http.post(f"{API}/generation-requests", json=VALID_CREATE, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await api.snapshot() == before


async def test_a_token_signed_with_another_secret_is_401(api: ApiDriver) -> None:
    import jwt

    token = jwt.encode(
        {"sub": "alice", "exp": 4102444800}, "another-secret-of-enough-length-1234", "HS256"
    )
    response = await api.http.get(
        f"{API}/generation-requests", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


async def test_an_expired_token_is_401(api: ApiDriver) -> None:
    import jwt

    secret = api.container.settings.jwt_secret
    token = jwt.encode({"sub": "alice", "exp": 1_000_000}, secret, "HS256")
    response = await api.http.get(
        f"{API}/generation-requests", headers={"Authorization": f"Bearer {token}"}
    )
    assert (response.status_code, response.json()["error"]["message"]) == (
        401,
        "The token has expired.",
    )


async def test_another_users_request_is_404_on_every_route(api: ApiDriver) -> None:
    request_id = await api.until_awaiting_selection()
    before = await api.snapshot()
    responses = [
        await api.get(request_id, user="mallory"),
        await api.action(
            request_id,
            "select-sample",
            {"selected_sample_id": await api.sample_id(request_id, 0)},
            user="mallory",
        ),
        await api.action(request_id, "regenerate-samples", user="mallory"),
        await api.action(request_id, "cancel", user="mallory"),
        await api.get("00000000-0000-0000-0000-000000000000"),
    ]
    assert [r.status_code for r in responses] == [404] * 5
    assert {r.json()["error"]["code"] for r in responses} == {"not_found"}
    listed = (await api.http.get(f"{API}/generation-requests", headers=api.auth("mallory"))).json()
    assert listed["items"] == []
    assert await api.snapshot() == before


async def test_moves_from_the_wrong_status_are_409(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    before = await api.snapshot()
    for response in (
        await api.action(
            request_id, "select-sample", {"selected_sample_id": await api.sample_id(request_id, 0)}
        ),
        await api.action(request_id, "regenerate-samples"),
    ):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "invalid_state"
    assert await api.snapshot() == before
    await api.action(request_id, "cancel")
    after_cancel = await api.snapshot()
    assert (await api.action(request_id, "cancel")).status_code == 409
    assert await api.snapshot() == after_cancel


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"selected_sample_id": "r9-s9"}, "selected_sample_id"),
        ({"selected_sample_id": "SAMPLE", "resolution": "8k"}, "resolution"),
        ({"selected_sample_id": "SAMPLE", "output_format": "gif"}, "output_format"),
        ({}, "selected_sample_id"),
        ({"selected_sample_id": "SAMPLE", "extra": 1}, "extra"),
    ],
)
async def test_a_bad_selection_is_422_and_charges_nothing(
    api: ApiDriver, body: dict[str, Any], field: str
) -> None:
    request_id = await api.until_awaiting_selection()
    if body.get("selected_sample_id") == "SAMPLE":  # a real sample, with something else wrong
        body = {**body, "selected_sample_id": await api.sample_id(request_id)}
    before = await api.snapshot()
    response = await api.action(request_id, "select-sample", body)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]
    assert await api.snapshot() == before


async def test_a_step_the_balance_cannot_pay_is_402(api: ApiDriver) -> None:
    from decimal import Decimal

    from creativeflow.services.aigeneration.domain.pricing import SubscriptionTier

    await api.container.credits.set_account("alice", Decimal("0.2"), SubscriptionTier.FREE)  # type: ignore[attr-defined]
    before = await api.snapshot()
    response = await api.create()
    assert (response.status_code, response.json()["error"]["code"]) == (402, "insufficient_credits")
    assert await api.snapshot() == before


async def test_an_unknown_cursor_is_422(api: ApiDriver) -> None:
    response = await api.http.get(f"{API}/generation-requests?cursor=garbage", headers=api.auth())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "cursor"


# --- callbacks ---------------------------------------------------------------------------


async def test_an_unsigned_or_tampered_callback_is_401_and_changes_nothing(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    payload = await api.samples_payload(request_id)
    before = await api.snapshot()

    unsigned = await api.callback("samples", payload, sign=False)
    body = json.dumps(payload)
    headers = api.signer.headers(body)
    tampered = await api.http.post(
        f"{API}/n8n-callbacks/samples", content=body.replace("model-a", "model-z"), headers=headers
    )
    stale_headers = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)}
    stale = await api.http.post(f"{API}/n8n-callbacks/samples", content=body, headers=stale_headers)
    garbage_headers = {**headers, "webhook-signature": "nonsense"}
    garbage = await api.http.post(
        f"{API}/n8n-callbacks/samples", content=body, headers=garbage_headers
    )

    for response in (unsigned, tampered, stale, garbage):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
    assert await api.snapshot() == before


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda p: p.update(request_id="00000000-0000-0000-0000-000000000000"), 404),
        (lambda p: p.update(job_id="not-our-job"), 404),
        (lambda p: p.update(samples=[]), 422),
        (lambda p: p["samples"][0].update(url="file:///etc/passwd"), 422),
        (lambda p: p["samples"][0].update(resolution="big"), 422),
        (lambda p: p.pop("job_id"), 422),
    ],
    ids=["unknown request", "unknown job", "no samples", "file url", "bad resolution", "no job id"],
)
async def test_a_signed_but_wrong_callback_is_refused_and_changes_nothing(
    api: ApiDriver, mutate: Any, status: int
) -> None:
    request_id = (await api.created())["id"]
    payload = await api.samples_payload(request_id)
    mutate(payload)
    before = await api.snapshot()
    response = await api.callback("samples", payload)
    assert response.status_code == status, response.text
    assert await api.snapshot() == before


async def test_a_final_callback_for_a_sample_job_is_422(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    payload = await api.final_payload(request_id)
    before = await api.snapshot()
    response = await api.callback("final", payload)
    assert response.status_code == 422
    assert await api.snapshot() == before


# --- every door, not only JSON bodies (the cases the every-door sweep generates in bulk) ---


@pytest.mark.parametrize(
    "path",
    [
        "/generation-requests/%00",
        "/generation-requests/abc%00def/cancel",
        "/generation-requests/%00/events",
        "/generation-requests?project_id=p%00",
        "/generation-requests/%ED%A0%80",  # a lone surrogate, percent-encoded
        "/generation-requests/" + "x" * 400,  # longer than any id column
    ],
)
async def test_hostile_text_in_a_path_or_query_is_422_on_both_databases(
    api: ApiDriver, path: str
) -> None:
    request_id = await api.until_awaiting_selection()
    before = await api.snapshot()
    method = "POST" if path.endswith("/cancel") else "GET"
    response = await api.http.request(method, f"{API}{path}", headers=api.auth())
    assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")
    assert await api.snapshot() == before
    assert (await api.get(request_id)).json()["status"] == "awaiting_selection"


async def test_a_signed_token_whose_subject_holds_nul_is_401(api: ApiDriver) -> None:
    import jwt

    token = jwt.encode(
        {"sub": "alice\x00", "exp": 4102444800}, api.container.settings.jwt_secret, "HS256"
    )
    response = await api.http.get(
        f"{API}/generation-requests", headers={"Authorization": f"Bearer {token}"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthenticated")


async def test_a_signed_callback_with_an_overlong_webhook_id_is_422(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    payload = await api.samples_payload(request_id)
    before = await api.snapshot()
    response = await api.callback("samples", payload, message_id="m" * 400)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "webhook-id"
    assert await api.snapshot() == before


async def test_a_callback_url_with_a_line_break_is_422_and_never_stored(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    payload = await api.samples_payload(request_id)
    payload["samples"][0] = {  # a v1 item, which names its image by URL
        "asset_id": "s0",
        "url": "https://cdn.example/a.png\r\nX-Injected: yes",
        "resolution": "512x512",
    }
    before = await api.snapshot()
    response = await api.callback("samples", payload)
    assert response.status_code == 422, response.text
    assert await api.snapshot() == before


async def test_samples_of_another_size_than_the_job_asked_are_invalid_output(
    api: ApiDriver,
) -> None:
    request_id = (await api.created())["id"]
    payload = await api.samples_payload(request_id, size=(4096, 4096))  # the job asked for 512
    before = await api.snapshot()
    refused = await api.callback("samples", payload, message_id="msg_same_id")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_output"
    assert {d["asset_id"] for d in error["details"]} == {s["asset_id"] for s in payload["samples"]}
    assert await api.snapshot() == before
    # nothing was recorded, the webhook-id included: n8n's retry with the right images applies
    applied = await api.callback(
        "samples", await api.samples_payload(request_id), message_id="msg_same_id"
    )
    assert applied.json() == {"result": "applied"}


@pytest.mark.parametrize("prompt", ["\u200b\u200d\ufeff", " \u00a0\u2028\t", "\u202e"])
async def test_a_prompt_without_visible_text_is_422_and_charges_nothing(
    api: ApiDriver, prompt: str
) -> None:
    before = await api.snapshot()
    response = await api.create(prompt=prompt)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "prompt"
    assert await api.snapshot() == before


async def test_a_prompt_is_stored_trimmed_of_invisible_ends(api: ApiDriver) -> None:
    created = await api.created(prompt="\u200b A red fox \ufeff\n")
    assert created["input_prompt"] == "A red fox"


async def test_an_unexpected_error_is_500_with_the_request_id(api: ApiDriver) -> None:
    app = api.http._transport.app  # type: ignore[attr-defined]

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken-for-a-test", broken)
    response = await api.http.get("/broken-for-a-test", headers={"X-Request-ID": "req-500-test"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "Something went wrong on our side.",
        "details": [],
        "request_id": "req-500-test",
    }
    assert response.headers["x-request-id"] == "req-500-test"
    assert "a bug" not in response.text

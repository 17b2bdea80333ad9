"""Who gets in and what comes in: tokens of every kind, replayed callbacks, Idempotency-Key,
the per-user limit, size limits, SSRF-safe webhook URLs, the prompt blocklist, CORS and the
security headers. Each bad input is answered with the contract's error and changes nothing."""

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.responses import JSONResponse
from starlette.routing import Route

from creativeflow.services.aigeneration.composition.root import build_container
from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.main import attach, create_app

from ..figures import count
from ..stub_servers import StubServer
from .api_client import API, VALID_CREATE, ApiDriver


@pytest.fixture(autouse=True)
def _count_bad_inputs(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("good_path") is None:
        count("bad_input_cases")


def rsa_key() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


KEY, PUBLIC_PEM = rsa_key()
OTHER_KEY, _ = rsa_key()
FAR_FUTURE = 4102444800


@pytest.fixture
async def rs256_api(empty_database: str, tmp_path: Path) -> AsyncIterator[ApiDriver]:
    async with configured_api(
        empty_database,
        tmp_path,
        JWT_PUBLIC_KEY=PUBLIC_PEM,
        JWT_AUDIENCE="aigen",
        JWT_ISSUER="https://id.example",
    ) as api:
        yield api


class configured_api:
    def __init__(self, database_url: str, tmp_path: Path, **overrides: Any) -> None:
        self._settings = load_settings(
            _env_file=None,
            DATABASE_URL=database_url,
            DATA_DIR=tmp_path / "data",
            AUTO_MIGRATE=False,
            LOG_LEVEL="WARNING",
            **overrides,
        )

    async def __aenter__(self) -> ApiDriver:
        app = create_app(self._settings)
        self._container = await build_container(self._settings, with_relay=False, with_sweeps=False)
        attach(app, self._container)
        self._driver = ApiDriver(app, self._container)
        return self._driver

    async def __aexit__(self, *exc: object) -> None:
        await self._driver.http.aclose()
        await self._container.aclose()


def rs_token(claims: dict[str, Any], key: Any = KEY, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


GOOD_CLAIMS = {"sub": "alice", "exp": FAR_FUTURE, "aud": "aigen", "iss": "https://id.example"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hs256_keyed_with_public_key(claims: dict[str, Any]) -> str:
    """The classic algorithm-confusion forgery: an HMAC whose secret is the public key's PEM."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("alg none", unsigned(GOOD_CLAIMS)),
        ("HS256 keyed with the public key", "confusion"),
        ("another key", rs_token(GOOD_CLAIMS, OTHER_KEY)),
        ("no exp", rs_token({k: v for k, v in GOOD_CLAIMS.items() if k != "exp"})),
        ("expired", rs_token({**GOOD_CLAIMS, "exp": 1_000_000})),
        ("wrong audience", rs_token({**GOOD_CLAIMS, "aud": "someone-else"})),
        ("wrong issuer", rs_token({**GOOD_CLAIMS, "iss": "https://evil.example"})),
        ("no subject", rs_token({k: v for k, v in GOOD_CLAIMS.items() if k != "sub"})),
        ("subject not a string", rs_token({**GOOD_CLAIMS, "sub": 42})),
    ],
)
async def test_rs256_refuses_every_bad_token(rs256_api: ApiDriver, name: str, token: str) -> None:
    if token == "confusion":
        token = hs256_keyed_with_public_key(GOOD_CLAIMS)
    before = await rs256_api.snapshot()
    response = await rs256_api.http.post(
        f"{API}/generation-requests",
        json=VALID_CREATE,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401, name
    assert response.json()["error"]["code"] == "unauthenticated"
    assert "Bearer" in response.headers["www-authenticate"]
    assert await rs256_api.snapshot() == before


@pytest.mark.good_path
async def test_rs256_accepts_a_good_token(rs256_api: ApiDriver) -> None:
    response = await rs256_api.http.get(
        f"{API}/generation-requests", headers={"Authorization": f"Bearer {rs_token(GOOD_CLAIMS)}"}
    )
    assert response.status_code == 200


@pytest.mark.good_path
async def test_jwks_keys_are_fetched_cached_and_refreshed_for_an_unknown_kid(
    empty_database: str, tmp_path: Path
) -> None:
    keys = {
        "keys": [jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True) | {"kid": "k1"}]
    }
    served: list[int] = []

    async def jwks(request: Any) -> JSONResponse:
        served.append(1)
        return JSONResponse(keys)

    server = StubServer([Route("/.well-known/jwks.json", jwks)])
    await server.start()
    try:
        async with configured_api(
            empty_database,
            tmp_path,
            JWT_JWKS_URL=f"{server.url}/.well-known/jwks.json",
            JWT_JWKS_MIN_REFRESH_SECONDS=0,
        ) as api:
            claims = {"sub": "alice", "exp": FAR_FUTURE}
            for _ in range(3):
                ok = await api.http.get(
                    f"{API}/generation-requests",
                    headers={"Authorization": f"Bearer {rs_token(claims, kid='k1')}"},
                )
                assert ok.status_code == 200
            assert len(served) == 1  # cached
            unknown = await api.http.get(
                f"{API}/generation-requests",
                headers={"Authorization": f"Bearer {rs_token(claims, OTHER_KEY, kid='k2')}"},
            )
            assert unknown.status_code == 401
            assert len(served) == 2  # an unknown kid fetches the set again
    finally:
        await server.stop()


# --- callbacks -----------------------------------------------------------------------------


async def test_a_replayed_webhook_id_is_a_duplicate_and_changes_nothing(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    payload = await api.samples_payload(request_id)
    first = await api.callback("samples", payload, message_id="msg_replayed")
    assert first.json() == {"result": "applied"}
    await api.action(request_id, "regenerate-samples")
    before = await api.snapshot()
    replay = await api.callback("samples", payload, message_id="msg_replayed")
    assert replay.json() == {"result": "duplicate"}
    assert await api.snapshot() == before


# --- Idempotency-Key -------------------------------------------------------------------------


async def create_with_key(api: ApiDriver, key: str, body: dict[str, Any]) -> Any:
    return await api.http.post(
        f"{API}/generation-requests", json=body, headers={**api.auth(), "Idempotency-Key": key}
    )


@pytest.mark.good_path
async def test_the_same_key_and_body_return_the_first_response_and_charge_once(
    api: ApiDriver,
) -> None:
    first = await create_with_key(api, "key-1", VALID_CREATE)
    again = await create_with_key(api, "key-1", {**VALID_CREATE})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await api.jobs()) == 1
    assert str(await api.balance()) == "9.75"
    other_user = await api.http.post(
        f"{API}/generation-requests",
        json=VALID_CREATE,
        headers={**api.auth("bob"), "Idempotency-Key": "key-1"},
    )
    assert other_user.json()["id"] != first.json()["id"]  # keys are per user


async def test_the_same_key_with_another_body_is_422(api: ApiDriver) -> None:
    await create_with_key(api, "key-2", VALID_CREATE)
    before = await api.snapshot()
    response = await create_with_key(api, "key-2", {**VALID_CREATE, "prompt": "something else"})
    assert (response.status_code, response.json()["error"]["code"]) == (
        422,
        "idempotency_key_mismatch",
    )
    assert await api.snapshot() == before


async def test_the_same_key_while_the_first_is_in_flight_is_409(api: ApiDriver) -> None:
    from creativeflow.services.aigeneration.api.v1.idempotency import body_hash
    from creativeflow.services.aigeneration.api.v1.schemas import GenerationRequestCreate

    await api.container.api.idempotency.begin(
        "alice", "key-3", body_hash(GenerationRequestCreate(**VALID_CREATE))
    )
    before = await api.snapshot()
    response = await create_with_key(api, "key-3", VALID_CREATE)
    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "idempotency_key_in_flight",
    )
    assert await api.snapshot() == before


@pytest.mark.good_path
async def test_a_failed_create_frees_its_key(api: ApiDriver) -> None:
    from decimal import Decimal

    from creativeflow.services.aigeneration.domain.pricing import SubscriptionTier

    await api.container.credits.set_account("alice", Decimal(0), SubscriptionTier.FREE)  # type: ignore[attr-defined]
    assert (await create_with_key(api, "key-4", VALID_CREATE)).status_code == 402
    await api.container.credits.set_account("alice", Decimal(5), SubscriptionTier.FREE)  # type: ignore[attr-defined]
    assert (await create_with_key(api, "key-4", VALID_CREATE)).status_code == 202


async def test_a_burst_of_parallel_creates_cannot_pass_the_active_limit(api: ApiDriver) -> None:
    responses = await asyncio.gather(*(api.create() for _ in range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] * 5 + [429] * 7
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "too_many_active_requests"
    assert len(await api.jobs()) == 5
    assert str(await api.balance()) == "8.75"


# --- what comes in -------------------------------------------------------------------------


async def test_a_huge_body_is_413_and_changes_nothing(api: ApiDriver) -> None:
    before = await api.snapshot()
    body = {**VALID_CREATE, "style_guidance": "x" * 300_000}
    response = await api.http.post(f"{API}/generation-requests", json=body, headers=api.auth())
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    assert await api.snapshot() == before


async def test_huge_headers_are_431(api: ApiDriver) -> None:
    response = await api.http.get(f"{API}/formats", headers={"X-Padding": "p" * 20_000})
    assert (response.status_code, response.json()["error"]["code"]) == (
        431,
        "request_header_fields_too_large",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[fd00:ec2::254]/hook",
        "http://100.100.100.200/hook",
        "http://0.0.0.0/hook",
        "http://unresolvable.invalid/hook",
        # IPv6 forms that carry a loopback, private or metadata IPv4 address inside
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::7f00:1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[64:ff9b:1::a00:1]/hook",
        "http://[2002:c0a8:101::1]/hook",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    ],
)
async def test_webhook_urls_into_our_own_network_are_refused(api: ApiDriver, url: str) -> None:
    before = await api.snapshot()
    response = await api.create(webhook_url=url)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "webhook_url"
    assert await api.snapshot() == before


@pytest.mark.good_path
async def test_a_public_webhook_url_is_accepted(api: ApiDriver) -> None:
    response = await api.create(webhook_url="https://93.184.216.34/hooks/aigen")
    assert response.status_code == 202


async def test_a_blocklisted_prompt_is_refused_before_any_charge(
    empty_database: str, tmp_path: Path
) -> None:
    async with configured_api(
        empty_database, tmp_path, PROMPT_BLOCKLIST="gore, hate speech"
    ) as api:
        before = await api.snapshot()
        for prompt in ("A poster full of GORE", "no hate speech please"):
            response = await api.create(prompt=prompt)
            assert response.status_code == 422
            assert response.json()["error"]["code"] == "content_policy_violation"
        assert await api.snapshot() == before
        assert (await api.create(prompt="a gorgeous sunset")).status_code == 202


@pytest.mark.good_path
async def test_cors_allows_only_the_configured_origins(empty_database: str, tmp_path: Path) -> None:
    async with configured_api(
        empty_database, tmp_path, CORS_ALLOW_ORIGINS="https://app.creativeflow.example"
    ) as api:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        allowed = await api.http.options(
            f"{API}/generation-requests",
            headers={"Origin": "https://app.creativeflow.example", **preflight},
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.creativeflow.example"
        refused = await api.http.options(
            f"{API}/generation-requests", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in refused.headers


@pytest.mark.good_path
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", f"{API}/formats"),
        ("GET", f"{API}/generation-requests"),
        ("POST", f"{API}/n8n-callbacks/samples"),
        ("GET", "/nope"),
    ],
)
async def test_every_response_carries_the_security_headers(
    api: ApiDriver, method: str, path: str
) -> None:
    response = await api.http.request(method, path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert "traceback" not in response.text.lower()
    assert "select " not in response.text.lower()


async def test_a_database_outage_is_503_without_sql_in_the_body(tmp_path: Path) -> None:
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    async with configured_api(unreachable, tmp_path) as api:
        response = await api.get("00000000-0000-0000-0000-000000000000")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert int(response.headers["retry-after"]) > 0
    assert "select" not in response.text.lower()
    assert "asyncpg" not in response.text.lower()

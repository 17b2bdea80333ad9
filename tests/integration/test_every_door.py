"""Every door, every hostile string: each path, query and header parameter and each string
field of each request body in the served OpenAPI document, plus the token's `sub` claim,
gets each string of HOSTILE while everything else in the request stays valid. On SQLite and
on PostgreSQL alike: never a 5xx, a refused request changes nothing (requests, outbox,
ledger, balances), NUL, control characters and lone surrogates are never taken, and both
databases give every case the same answer.

`.venv/bin/pytest tests/integration/test_every_door.py -s` prints the counts."""

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest

from ..figures import count
from .api_client import API, VALID_CREATE, ApiDriver, image_bytes
from .conftest import api_driver

HOSTILE: dict[str, str] = {
    "nul": "a\x00b",
    "control": "a\x01b",
    "escape": "\x1b[31mred",
    "lone_surrogate": "a\ud800b",
    "crlf": "a\r\nInjected: yes",
    "tab": "a\tb",
    "empty": "",
    "blank": "   ",
    "zero_width_only": "\u200b\u200d\ufeff",
    "long": "x" * 400,
    "very_long": "y" * 5000,
    "rtl_override": "abc\u202edcba",
    "emoji": "\U0001f98a\U0001f525",
    "non_bmp": "\U0001d518\U0001d52b\U0001d526",
    "sql": "' OR 1=1; DROP TABLE outbox; --",
    "traversal": "../../../etc/passwd",
    "percent": "%00%2e%2e%ZZ",
    "format_string": "%s%n%x{0}",
    "number": "9" * 40,
    "json": '{"$ne": null}',
}
# never taken anywhere: what neither database stores alike, or no text means
ALWAYS_REFUSED = {"nul", "control", "escape", "lone_surrogate"}
# free text may hold line breaks and tabs; nothing else may
FREE_TEXT_FIELDS = {"prompt", "style_guidance", "negative_prompt", "error_message", "reason"}
LINE_BREAKS = {"crlf"}
ID = "{request_id}"
ASSET_ID = "{asset_id}"


@dataclass
class Case:
    door: str  # path, query, header, body, claim
    method: str
    route: str
    target: str  # the parameter or body field
    hostile: str

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.route} {self.door}:{self.target} <{self.hostile}>"

    def must_refuse(self) -> bool:
        if self.hostile in ALWAYS_REFUSED:
            return True
        free_text = self.door == "body" and self.target.split(".")[-1] in FREE_TEXT_FIELDS
        return self.hostile in LINE_BREAKS and not free_text


@dataclass
class Results:
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)  # database -> case -> status
    tally: Counter[str] = field(default_factory=Counter)


RESULTS = Results()


@pytest.fixture
async def roomy_api(empty_database: str, tmp_path: Path) -> AsyncIterator[ApiDriver]:
    """Credits and an active limit that the creates a sweep accepts never run out of."""
    async with api_driver(
        empty_database,
        tmp_path,
        LOCAL_LEDGER_STARTING_BALANCE="100000",
        MAX_ACTIVE_REQUESTS_PER_USER="100000",
    ) as driver:
        yield driver


async def test_no_door_takes_a_hostile_string_or_fails_on_one(
    roomy_api: ApiDriver, database_url: str
) -> None:
    api, database = roomy_api, database_url.split(":", 1)[0].split("+")[0]
    request_id = await api.until_awaiting_selection()
    valid_bodies = await _valid_bodies(api, request_id)
    assert (await api.action(request_id, "cancel")).status_code == 202  # a request at rest
    uploaded = await api.http.post(
        f"{API}/assets", files={"file": ("a.png", image_bytes(64, 64))}, headers=api.auth()
    )
    ids = {
        ID: request_id,
        ASSET_ID: uploaded.json()["asset_id"],
        "{job_id}": "job-1",
        "{row_id}": "1",
        "{user_id}": "nobody-here",
    }
    document = (await api.http.get(f"{API}/openapi.json")).json()

    statuses: dict[str, int] = {}
    problems: list[str] = []
    for case in _cases(document):
        before = await api.snapshot()
        response = await _send(api, case, valid_bodies, ids)
        after = await api.snapshot()
        statuses[case.name] = response.status_code
        RESULTS.tally["cases"] += 1
        count("every_door_cases")
        if response.status_code >= 500:
            problems.append(f"{case.name}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400:
            RESULTS.tally["refused"] += 1
            if after != before:
                problems.append(
                    f"{case.name}: refused with {response.status_code} but changed state"
                )
                RESULTS.tally["state_changes"] += 1
        else:
            RESULTS.tally["accepted"] += 1
            if case.must_refuse():
                problems.append(f"{case.name}: taken with {response.status_code}")
        RESULTS.tally["5xx"] += int(response.status_code >= 500)
    RESULTS.statuses["sqlite" if database == "sqlite" else "postgres"] = statuses
    count("every_door_5xx", sum(1 for s in statuses.values() if s >= 500))
    assert not problems, "\n".join(problems[:40])
    assert len(statuses) > 1000  # every route x parameter x string, not a handful


def test_both_databases_answer_every_case_alike() -> None:
    sqlite, postgres = RESULTS.statuses.get("sqlite"), RESULTS.statuses.get("postgres")
    assert sqlite is not None and postgres is not None, "runs after both sweeps"
    differing = [name for name in sqlite if sqlite[name] != postgres.get(name)]
    assert not differing, differing[:20]
    tally = RESULTS.tally
    print(
        f"\nevery door: {tally['cases']} cases on 2 databases ({len(sqlite)} each), "
        f"refused {tally['refused']}, accepted {tally['accepted']}, 5xx {tally['5xx']}, "
        f"state changes on refusal {tally['state_changes']}, databases differing {len(differing)}"
    )


# --- the cases, from the served document ---------------------------------------------------


def _cases(document: dict[str, Any]) -> Iterator[Case]:
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            targets: list[tuple[str, str]] = [
                (parameter["in"], parameter["name"])
                for parameter in operation.get("parameters", [])
            ]
            targets.append(("header", "X-Request-ID"))  # read by the middleware on every route
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                door = "form" if media_type == "multipart/form-data" else "body"
                # each path once: a union (v2 or v1 image) names asset_id in both of its forms
                fields = dict.fromkeys(_string_fields(content["schema"], document))
                targets += [(door, ".".join(map(str, p))) for p in fields]
            for door, target in targets:
                for hostile in HOSTILE:
                    yield Case(door, method, route, target, hostile)
    for hostile in HOSTILE:
        yield Case("claim", "get", f"{API}/generation-requests", "sub", hostile)


def _string_fields(
    schema: dict[str, Any], document: dict[str, Any], prefix: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, ...]]:
    """The paths of every string a body may hold (list items as index 0), nested objects too."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            yield from _string_fields(option, document, prefix)
    kind = schema.get("type")
    if kind == "string":
        yield prefix
    elif kind == "array":
        yield from _string_fields(schema["items"], document, (*prefix, 0))
    for name, sub in schema.get("properties", {}).items():
        yield from _string_fields(sub, document, (*prefix, name))


# --- sending one case ---------------------------------------------------------------------


async def _valid_bodies(api: ApiDriver, request_id: str) -> dict[str, dict[str, Any]]:
    job = await api.last_job(request_id)  # its images are in: a body naming them is enough
    samples = {
        "request_id": request_id,
        "job_id": job["job_id"],
        "samples": [{"asset_id": target["asset_id"]} for target in job["outputs"]],
    }
    return {
        f"{API}/generation-requests": dict(VALID_CREATE),
        f"{API}/generation-requests/{ID}/select-sample": {"selected_sample_id": "r1-s0"},
        f"{API}/generation-requests/{ID}/vary": {"sample_id": "r1-s0"},
        f"{API}/generation-requests/batch": {"requests": [dict(VALID_CREATE)]},
        f"{API}/admin/dead-letters/{{job_id}}/redrive": {"reason": "r"},
        f"{API}/admin/outbox/{{row_id}}/redrive": {"reason": "r"},
        f"{API}/admin/generation-requests/{ID}/refund": {"reason": "r"},
        f"{API}/admin/generation-requests/{ID}/fail": {"reason": "r"},
        f"{API}/admin/users/{{user_id}}/erase": {"reason": "r"},
        f"{API}/n8n-callbacks/samples": samples,
        f"{API}/n8n-callbacks/final": {
            "request_id": request_id,
            "job_id": samples["job_id"],
            "asset": samples["samples"][0],
        },
        f"{API}/n8n-callbacks/error": {
            "request_id": request_id,
            "job_id": samples["job_id"],
            "error_code": "model_error",
            "error_message": "The model failed.",
            "retryable": True,
        },
    }


def _raw(value: str) -> bytes:
    """The string as bytes on the wire, lone surrogates included (as a careless client sends)."""
    return value.encode("utf-8", "surrogatepass")


async def _send(
    api: ApiDriver, case: Case, valid_bodies: dict[str, dict[str, Any]], ids: dict[str, str]
) -> httpx.Response:
    hostile = HOSTILE[case.hostile]
    url = case.route
    for placeholder, valid in ids.items():
        hostile_here = case.door == "path" and placeholder == f"{{{case.target}}}"
        url = url.replace(placeholder, quote(_raw(hostile), safe="") if hostile_here else valid)
    if case.door == "query":
        url += f"?{quote(case.target)}={quote(_raw(hostile), safe='')}"
    # admin routes with an admin's token, so their own checks are what meets the string
    headers: dict[str, Any] = {**(api.admin_auth() if "/admin/" in case.route else api.auth())}
    if case.door == "claim":
        claims = {"sub": hostile, "exp": 4102444800}
        token = jwt.encode(claims, api.container.settings.jwt_secret, "HS256")
        headers["Authorization"] = f"Bearer {token}"
    body = (
        json.loads(json.dumps(valid_bodies.get(case.route))) if case.route in valid_bodies else None
    )
    if case.door == "body":
        assert body is not None, f"no valid body for {case.route}"
        _put(body, case.target.split("."), hostile)
    content = json.dumps(body).encode("utf-8", "surrogatepass") if body is not None else None
    if "/n8n-callbacks/" in case.route:
        # signed as n8n signs, whatever the id: a hostile webhook-id must meet the check
        # behind the signature, not only the signature
        message_id = hostile if (case.door, case.target) == ("header", "webhook-id") else "msg_1"
        secret = api.container.settings.n8n_callback_secret
        headers.update(_signature_headers(secret, message_id, content or b""))
    if content is not None:
        headers["content-type"] = "application/json"
    if case.door == "header":
        headers = {k: v for k, v in headers.items() if k.lower() != case.target.lower()}
        headers[case.target] = _raw(hostile)
    if case.route.endswith("/assets") and case.method == "post":  # multipart: a file and a field
        form = {"purpose": _raw(hostile)} if (case.door, case.target) == ("form", "purpose") else {}
        files = {"file": ("a.png", image_bytes(64, 64))}
        if case.door == "form" and case.target == "file":
            files = {"file": ("a.png", _raw(hostile))}
        return await api.http.post(url, data=form, files=files, headers=headers)
    request = api.http.build_request(case.method.upper(), url, content=content, headers=headers)
    return await api.http.send(request)


def _signature_headers(secret: str, message_id: str, body: bytes) -> dict[str, Any]:
    """Standard Webhooks headers over the raw bytes (the library signs text only)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    timestamp = str(int(time.time()))
    signed = _raw(f"{message_id}.{timestamp}.") + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": _raw(message_id),
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
    }


def _put(body: Any, path: list[str], value: str) -> None:
    """Set `value` at `path` in the JSON body, making the objects and lists on the way."""
    keys: list[Any] = [int(p) if p.isdigit() else p for p in path]
    node = body
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        child: Any = value if last else ([] if isinstance(keys[depth + 1], int) else {})
        if isinstance(node, list):
            while len(node) <= key:
                node.append(child)
        if last or not isinstance(
            node[key] if isinstance(node, list) else node.get(key), type(child)
        ):
            node[key] = child
        node = node[key]

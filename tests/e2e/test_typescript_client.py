"""A TypeScript client generated from the served OpenAPI document by well-kept tools nobody here
wrote (openapi-typescript for the types, openapi-fetch for the calls) drives the whole creative
flow against the service: create -> wait -> vary -> select -> second final -> download.
`tsc` type-checks the flow against the generated types first, so a document that generates a
poor client fails here. Needs Node.js and npm (the packages come from the lock file)."""

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import RunningService

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).resolve().parents[1] / "ts-client"


def run(*command: str) -> str:
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def node_packages() -> None:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("Node.js and npm are required for the TypeScript client test")
    lock = PROJECT / "package-lock.json"
    installed = PROJECT / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run("npm", "ci", "--no-audit", "--no-fund")


def test_a_generated_typescript_client_drives_the_whole_flow(
    node_packages: None, service: RunningService, tmp_path: Path
) -> None:
    generated = PROJECT / "generated"
    generated.mkdir(exist_ok=True)
    document = httpx.get(f"{service.base_url}/api/v1/openapi.json", timeout=10).json()
    (generated / "openapi.json").write_text(json.dumps(document))
    # a field with a default may be left out of a request body (the tool's default reads it as
    # always present, which is right for responses only)
    run(
        "node_modules/.bin/openapi-typescript",
        "generated/openapi.json",
        "--default-non-nullable",
        "false",
        "-o",
        "generated/schema.d.ts",
    )
    run("node_modules/.bin/tsc", "-p", ".")  # the flow must type-check against the document

    token = service.token("ts-client")
    summary = json.loads(run("node", "dist/src/flow.js", service.base_url, token, str(tmp_path)))
    print(f"\nTypeScript client: {summary}")
    assert summary["balance_before"] == 10
    assert [kind for kind, _ in summary["rounds"]] == ["samples", "variation"]
    assert summary["rounds"][1][1] == summary["variation_source_seed"]
    assert [quality for _, quality, _ in summary["finals"]] == ["standard", "high"]
    assert summary["final"] == {
        "resolution": "3840x3840",
        "bytes": (tmp_path / "final.png").stat().st_size,
        "png": True,
    }

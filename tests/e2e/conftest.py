"""Starts the service the way the README does (`aigen serve`) in a folder of its own."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ..contracts import assert_published_jobs

AIGEN = shutil.which("aigen", path=str(Path(sys.executable).parent)) or "aigen"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningService:
    base_url: str
    folder: Path
    process: subprocess.Popen[bytes]

    def token(self, user: str) -> str:
        result = subprocess.run(
            [AIGEN, "dev-token", "--user", user], cwd=self.folder, capture_output=True, check=True
        )
        return result.stdout.decode().strip()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    folder = tmp_path_factory.mktemp("service")
    started = datetime.now(UTC)
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "RABBITMQ", "CREDIT_", "NOTIFICATION_", "AIGEN_"))
    }
    env["SIMULATOR_RENDER_DELAY_SECONDS"] = "0.05"
    log = (folder / "service.log").open("wb")
    process = subprocess.Popen(
        [AIGEN, "serve", "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=log
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"service did not start:\n{(folder / 'service.log').read_text()}")
            time.sleep(0.2)
        yield RunningService(base_url, folder, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    # every job the module's tests made the service publish
    assert_published_jobs(f"sqlite:///{folder / 'data' / 'aigen.db'}", started)

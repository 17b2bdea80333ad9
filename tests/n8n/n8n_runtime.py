"""n8n itself, for the end-to-end test of the shipped workflow: installed by
n8n/runtime/install.sh (kept outside the clone), run with a user folder of its own and explicit
ports on 127.0.0.1, configured through its own CLI as an operator would."""

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..stub_servers import free_port

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "n8n" / "runtime" / "install.sh"
WORKFLOW = ROOT / "n8n" / "creative_generation.workflow.json"


def install() -> Path:
    """The folder n8n is installed in; fails the test, saying why, when it cannot be."""
    started = time.monotonic()
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(
            "n8n is needed to test the shipped workflow and could not be installed "
            f"(n8n/runtime/install.sh exited {result.returncode}):\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    print(f"n8n installed in {time.monotonic() - started:.1f} s")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class N8n:
    installed: Path
    folder: Path
    port: int = field(default_factory=free_port)
    broker_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "n8n.log"

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.folder),
            "N8N_USER_FOLDER": str(self.folder),
            "N8N_ENCRYPTION_KEY": "creativeflow-n8n-test-encryption-key",
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_HOST": "127.0.0.1",
            "N8N_PORT": str(self.port),
            # the task runners' broker listens on 5679 unless told otherwise: two n8n on one
            # machine (or anything else there) would collide
            "N8N_RUNNERS_BROKER_PORT": str(self.broker_port),
            "N8N_SECURE_COOKIE": "false",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_LOG_LEVEL": "info",
            "N8N_LOG_OUTPUT": "console",
            "DB_TYPE": "sqlite",
        }

    def cli(self, *args: str) -> str:
        """One n8n CLI command against this instance's database (n8n must not be running)."""
        result = subprocess.run(
            [str(self.installed / "node_modules" / ".bin" / "n8n"), *args],
            cwd=self.folder,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise AssertionError(f"n8n {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr

    def import_credentials(self, credentials: list[dict[str, Any]]) -> None:
        path = self.folder / "credentials.json"  # plain data: n8n encrypts it on import
        path.write_text(json.dumps(credentials))
        self.cli("import:credentials", f"--input={path}")
        path.unlink()

    def import_and_publish(self, workflow: Path) -> str:
        workflow_id: str = json.loads(workflow.read_text())["id"]
        self.cli("import:workflow", f"--input={workflow}")
        self.cli("publish:workflow", f"--id={workflow_id}")
        return workflow_id

    def start(self, timeout: float = 180) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(self.installed / "node_modules" / ".bin" / "n8n"), "start"],
            cwd=self.folder,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its task runner too is ended by kill()
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"n8n exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz/readiness", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"n8n was not ready within {timeout:.0f} s:\n{self.log()}")

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            time.sleep(0.5)
        raise AssertionError(f"n8n never logged {text!r}:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL to n8n and its task runner, as a crashed host would end them."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

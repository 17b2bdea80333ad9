"""Service processes for end-to-end tests: started like the README starts them, stopped with
SIGTERM (and killed only if they do not stop)."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import httpx

from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.core.security import create_dev_token

from .conftest import AIGEN, free_port


def service_env(database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "RABBITMQ", "SIMULATOR_", "RUN_", "AIGEN_"))
    }
    return {
        **inherited,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(folder / "data"),
        "SIMULATOR_RENDER_DELAY_SECONDS": "0.05",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    folder: Path
    base_url: str = ""

    @classmethod
    def serve(cls, name: str, env: dict[str, str], folder: Path) -> "ServiceProcess":
        port = free_port()
        env = {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **env}
        log = (folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [AIGEN, "serve", "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=log
        )
        service = cls(name, process, folder, f"http://127.0.0.1:{port}")
        service.wait_healthy()
        return service

    @classmethod
    def command(
        cls, name: str, args: list[str], env: dict[str, str], folder: Path
    ) -> "ServiceProcess":
        log = (folder / f"{name}.log").open("ab")
        process = subprocess.Popen([AIGEN, *args], cwd=folder, env=env, stdout=log, stderr=log)
        return cls(name, process, folder)

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not start:\n{self.log()}")

    def log(self) -> str:
        return (self.folder / f"{self.name}.log").read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def token(user: str) -> str:
    """The same as `aigen dev-token --user U` with the default development secret."""
    return create_dev_token(load_settings(_env_file=None), user)


async def delete_job_topology(env: dict[str, str]) -> None:
    """The job queue and exchange a test named in `env`, with their dead-letter twins."""
    connection = await aio_pika.connect(env["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel()
        queue, exchange = env["RABBITMQ_N8N_JOB_QUEUE"], env["RABBITMQ_GENERATION_EXCHANGE"]
        for name in (queue, f"{queue}.dead"):
            await channel.queue_delete(name)
        for name in (exchange, f"{exchange}.dead"):
            await channel.exchange_delete(name)

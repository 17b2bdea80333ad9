"""What every fault scenario needs: a database and a RabbitMQ topology of its own, the service
and `aigen simulate-n8n` as processes, load from many users, and ways to break and restore
RabbitMQ and PostgreSQL (always restored, even when a scenario fails)."""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
from bench.services import process_tree

from creativeflow.services.aigeneration.core.config import load_settings
from creativeflow.services.aigeneration.core.security import create_dev_token

AIGEN = shutil.which("aigen", path=str(Path(sys.executable).parent)) or "aigen"
ADMIN_DSN = os.environ.get("FAULTS_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("FAULTS_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
CREATE = {
    "project_id": "faults",
    "prompt": "A poster for a summer sale",
    "format": "instagram_post",
}
SETTINGS = load_settings(_env_file=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token(user: str) -> str:
    return create_dev_token(SETTINGS, user)


@dataclass
class Stack:
    """One scenario's world: database, topology, processes."""

    name: str
    folder: Path
    dsn: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def queue(self) -> str:
        return self.env["RABBITMQ_N8N_JOB_QUEUE"]

    def serve(
        self, name: str = "api", port: int | None = None, workers: int = 1, **extra: str
    ) -> str:
        port = port or free_port()
        env = {**self.env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **extra}
        self._start(name, ["serve", "--port", str(port), "--workers", str(workers)], env)
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, self.processes[name], self.folder / f"{name}.log")
        self.urls[name] = url
        return url

    def simulator(self, **extra: str) -> None:
        self._start("simulator", ["simulate-n8n"], {**self.env, **extra})

    def rss_mb(self, name: str) -> float:
        """The resident memory of the process and its children (`serve --workers N` runs N)."""
        tree = process_tree(self.processes[name].pid)
        return round(sum(_rss_kb(pid) for pid in tree) / 1024, 1)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> str:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [AIGEN, *args], cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.dsn)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()


@contextlib.asynccontextmanager
async def stack(name: str, work: Path, **extra: str) -> AsyncIterator[Stack]:
    suffix = uuid.uuid4().hex[:6]
    database = f"aigen_faults_{name}_{suffix}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "RABBITMQ", "AIGEN_", "SIMULATOR_"))
        },
        "DATABASE_URL": dsn,
        "RABBITMQ_URL": RABBITMQ_URL,
        "RABBITMQ_GENERATION_EXCHANGE": f"faults_jobs_{suffix}",
        "RABBITMQ_N8N_JOB_QUEUE": f"faults_jobs_q_{suffix}",
        "DATA_DIR": str(folder / "data"),
        "LOG_LEVEL": "WARNING",
        "MAX_ACTIVE_REQUESTS_PER_USER": "1000000",
        "LOCAL_LEDGER_STARTING_BALANCE": "1000000",
        "OUTBOX_MAX_BACKOFF_SECONDS": "2",
        "SIMULATOR_RENDER_DELAY_SECONDS": "0",
        "SIMULATOR_CONCURRENCY": "4",
        **extra,
    }
    subprocess.run([AIGEN, "migrate"], cwd=folder, env=env, check=True, capture_output=True)
    world = Stack(name, folder, dsn, env)
    try:
        yield world
    finally:
        for process_name in list(world.processes):
            world.stop(process_name)
        with contextlib.suppress(Exception):
            await _delete_topology(world)
        with contextlib.suppress(Exception):
            admin = await asyncpg.connect(ADMIN_DSN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()


def _rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))


async def _delete_topology(world: Stack) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        for queue in (world.queue, f"{world.queue}.dead"):
            await channel.queue_delete(queue)
        exchange = world.env["RABBITMQ_GENERATION_EXCHANGE"]
        for name in (exchange, f"{exchange}.dead"):
            await channel.exchange_delete(name)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start:\n{log.read_text(errors='replace')}")


@dataclass
class LoadResult:
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    created_at: dict[str, float] = field(default_factory=dict)
    errors: int = 0  # connection-level failures (the process was away)
    latencies_ms: list[float] = field(default_factory=list)


async def create_load(urls: list[str], count: int, seconds: float, users: int = 50) -> LoadResult:
    """`count` creates spread evenly over `seconds`, round-robin over `urls`."""
    result = LoadResult()
    interval = seconds / count
    started = time.monotonic()
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:

        async def one(n: int) -> None:
            await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
            url = urls[n % len(urls)]
            headers = {"Authorization": f"Bearer {token(f'load-{n % users}')}"}
            sent = time.monotonic()
            try:
                response = await client.post(
                    f"{url}/api/v1/generation-requests", json=CREATE, headers=headers
                )
            except httpx.HTTPError:
                result.errors += 1
                return
            result.latencies_ms.append((time.monotonic() - sent) * 1000)
            result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
            if response.status_code == 202:
                request_id = response.json()["id"]
                result.accepted.append(request_id)
                result.created_at[request_id] = sent

        await asyncio.gather(*(one(n) for n in range(count)))
    return result


def rabbitmq(command: str) -> None:
    subprocess.run(["rabbitmqctl", command], check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def rabbitmq_stopped() -> Iterator[None]:
    rabbitmq("stop_app")
    try:
        yield
    finally:
        rabbitmq("start_app")
        subprocess.run(
            ["rabbitmqctl", "await_startup"], check=False, capture_output=True, timeout=120
        )


def postgres_restart_immediate() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            "restart",
            "-m",
            "immediate",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


async def queue_request_ids(world: Stack) -> list[str]:
    """Drain the job queue (nobody consumes in scenarios that read it)."""
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    ids: list[str] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(world.queue, passive=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            ids.append(json.loads(message.body)["request_id"])
    return ids

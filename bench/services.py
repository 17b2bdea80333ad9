"""The processes under test: the service (one uvicorn worker, uvloop + httptools) and the floor
app with the same server settings, on the same database and broker."""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from creativeflow.services.aigeneration.core.config import Settings, load_settings
from creativeflow.services.aigeneration.infrastructure.database.db_config import create_engine

from . import fixtures

AIGEN = shutil.which("aigen", path=str(Path(sys.executable).parent)) or "aigen"
POOL = 20  # the service's default DB_POOL_SIZE; the floor gets the same


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat): the steady figure on a shared
    machine, where throughput moves with the neighbours."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """A process and its children (`aigen serve --workers N` runs N under one parent)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(process) for process in process_tree(pid))


def machine_cpu_seconds() -> float:
    """The CPU every process on the machine has spent: /proc/stat's user, nice, system, irq and
    softirq (not idle, iowait, the time the hypervisor took, or guests already in user)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


@dataclass
class Services:
    dsn: str
    rabbitmq_url: str
    env: dict[str, str]
    settings: Settings
    engine: AsyncEngine
    api_url: str
    floor_url: str
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def api_pid(self) -> int:
        return self.processes[0].pid

    @property
    def floor_pid(self) -> int:
        return self.processes[1].pid

    @property
    def simulator_pid(self) -> int:
        """`aigen simulate-n8n`, once start_simulator ran (after the service and the floor)."""
        return self.processes[2].pid

    def flow_cpu(self) -> dict[str, float]:
        """CPU seconds so far: the machine's, the API's workers', the simulator's."""
        return {
            "machine": machine_cpu_seconds(),
            "api": tree_cpu_seconds(self.api_pid),
            "simulator": cpu_seconds(self.simulator_pid),
        }

    @property
    def assets_dir(self) -> Path:
        """The service's local asset store (DATA_DIR/assets), where n8n's uploads would land."""
        return self.folder / "data" / "assets"

    async def serve_for_flows(self, workers: int) -> None:
        """The service again, as shipped: the default bound of requests in flight (shedding on),
        on a new port that its jobs' links name, with `workers` processes (as the soak runs it)."""
        old = self.processes[0]
        old.terminate()
        old.wait(timeout=30)
        port = free_port()
        env = {k: v for k, v in self.env.items() if k != "MAX_REQUESTS_IN_FLIGHT"}
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
        self.env = env
        self.processes[0] = _serve(self.folder, env, port, workers)
        self.api_url = f"http://127.0.0.1:{port}"
        await _wait(f"{self.api_url}/healthz")

    def start_simulator(self) -> None:
        """`aigen simulate-n8n` in plain mode (one-colour pictures: a real model renders on other
        hosts, and Pillow's full pictures would take the cores from the service)."""
        env = {
            **self.env,
            "SIMULATOR_CONCURRENCY": "32",
            "SIMULATOR_RENDER_MODE": "plain",
            "SIMULATOR_RENDER_DELAY_SECONDS": "0",
        }
        self.processes.append(
            subprocess.Popen(
                [AIGEN, "simulate-n8n"],
                cwd=self.folder,
                env=env,
                stdout=(self.folder / "simulator.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )

    async def purge_jobs(self) -> None:
        """Empties the job queue: the jobs earlier scenarios published are nobody's to render."""
        import aio_pika

        connection = await aio_pika.connect(self.rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.env["RABBITMQ_N8N_JOB_QUEUE"], passive=True)
            await queue.purge()

    async def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        await self.engine.dispose()
        import aio_pika

        connection = await aio_pika.connect(self.rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            queue = self.env["RABBITMQ_N8N_JOB_QUEUE"]
            exchange = self.env["RABBITMQ_GENERATION_EXCHANGE"]
            for name in (queue, f"{queue}.dead"):
                await channel.queue_delete(name)
            for name in (exchange, f"{exchange}.dead"):
                await channel.exchange_delete(name)


async def start_services(dsn: str, rabbitmq_url: str, suffix: str, folder: Path) -> Services:
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "RABBITMQ", "AIGEN_"))
        },
        "DATABASE_URL": dsn,
        "RABBITMQ_URL": rabbitmq_url,
        "RABBITMQ_GENERATION_EXCHANGE": f"bench_jobs_{suffix}",
        "RABBITMQ_N8N_JOB_QUEUE": f"bench_jobs_q_{suffix}",
        "DATA_DIR": str(folder / "data"),
        "LOG_LEVEL": "WARNING",
        "RUN_SWEEPS": "false",
        "DB_POOL_SIZE": str(POOL),
        "MAX_ACTIVE_REQUESTS_PER_USER": "1000000000",
        "LOCAL_LEDGER_STARTING_BALANCE": "1000000000",
        "SSE_RECHECK_SECONDS": "30",
        # wrk's closed loop of 32 connections measures throughput, not the door: nothing shed
        # (the whole-flow scenarios run a service with the default bound, see serve_for_flows)
        "MAX_REQUESTS_IN_FLIGHT": "10000",
    }
    subprocess.run([AIGEN, "migrate"], cwd=folder, env=env, check=True, capture_output=True)
    await _floor_tables(dsn)
    settings = load_settings(_env_file=None, DATABASE_URL=dsn)
    engine = create_engine(settings.effective_database_url)
    api_port, floor_port = free_port(), free_port()
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{api_port}"
    api = _serve(folder, env, api_port)
    floor_env = {
        **env,
        "FLOOR_DSN": dsn,
        "FLOOR_POOL": str(POOL),
        "FLOOR_ROW_TEMPLATE": fixtures.floor_row_template(),
    }
    floor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.floor_app:app",
            "--port",
            str(floor_port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=floor_env,
        stdout=(folder / "floor.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    services = Services(
        dsn,
        rabbitmq_url,
        env,
        settings,
        engine,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{floor_port}",
        folder,
        [api, floor],
    )
    try:
        for url in (f"{services.api_url}/healthz", f"{services.floor_url}/docs"):
            await _wait(url)
    except BaseException:
        await services.stop()
        raise
    return services


def _serve(
    folder: Path, env: dict[str, str], port: int, workers: int = 1
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [AIGEN, "serve", "--port", str(port), "--workers", str(workers)],
        cwd=folder,
        env=env,
        stdout=(folder / "api.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


async def _floor_tables(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    await connection.execute(
        "CREATE TABLE bench_floor (id text PRIMARY KEY, payload jsonb NOT NULL);"
        "CREATE TABLE bench_floor_rows (id int PRIMARY KEY, version int NOT NULL, payload jsonb);"
        "INSERT INTO bench_floor_rows SELECT g, 0, '{}' FROM generate_series(1, 100000) g;"
    )
    await connection.close()


async def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")

"""Runs wrk (Debian's package) as the load generator and reads its summary."""

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).parent / "lua" / "rotate.lua"
# One thread: on two cores shared with the service, PostgreSQL and RabbitMQ, a second wrk
# thread is descheduled with answers unread, and wrk counts that wait as the service's. Measured
# on the list (32 connections, same service): P99 353 ms with one thread, 1,040 ms with two,
# 967 ms with four; an aiohttp client saw 331 ms (bench/notes.md).
THREADS = 1
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors

    def as_dict(self) -> dict[str, float]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "errors": self.errors,
        }


def run_wrk(base_url: str, requests_file: Path, connections: int, seconds: float) -> WrkResult:
    threads = min(THREADS, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        base_url,
        "--",
        str(requests_file),
        str(threads),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stdout[-500:]} {result.stderr[-500:]}")
    return parse(result.stdout)


def parse(output: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = {
        int(p): float(v) * UNITS[u]
        for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return WrkResult(rps, percentiles[50], percentiles[90], percentiles[99], errors)


def write_requests(path: Path, lines: list[tuple[str, str, dict[str, str], str]]) -> Path:
    """One request per line for rotate.lua: METHOD \\t PATH \\t k=v;k=v \\t BODY."""
    with path.open("w") as out:
        for method, target, headers, body in lines:
            header_text = ";".join(f"{k}={v}" for k, v in headers.items())
            out.write(f"{method}\t{target}\t{header_text}\t{body}\n")
    return path

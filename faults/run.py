"""`make faults`: break RabbitMQ, PostgreSQL, the service and its dependencies in the middle of
load, and count. Writes docs/RELIABILITY.md. `--short` is the bounded mode (about 5 minutes; the long mode about 16)."""

import argparse
import asyncio
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from .scenarios import LONG, SCENARIOS, SHORT, Mode, Row

ROOT = Path(__file__).resolve().parents[1]
NOT_YET: list[tuple[str, str]] = []


async def run(mode: Mode, only: list[str]) -> list[Row]:
    work = ROOT / "faults" / ".work"
    rows = []
    for scenario in SCENARIOS:
        if only and not any(o in scenario.__name__ for o in only):
            continue
        print(f"{scenario.__name__} …", flush=True)
        try:
            row = await scenario(work, mode)
        except Exception as exc:  # a broken scenario is a row that is not met, not the end
            traceback.print_exc()
            row = Row(scenario.__name__, "crashed", {"error": repr(exc)}, "to finish", False)
        print(f"  {'met' if row.met else 'NOT MET'}: {row.figures}", flush=True)
        rows.append(row)
    return rows


def write(rows: list[Row], mode: Mode) -> None:
    lines = [
        "# Reliability",
        "",
        f"Measured by `make faults` ({mode.name} mode, {datetime.now(UTC):%Y-%m-%d}): each scenario runs",
        "the service (and `aigen simulate-n8n` where said) as processes on PostgreSQL and RabbitMQ",
        "on 127.0.0.1, breaks something in the middle of load, restores it, and counts.",
        "",
        "| scenario | what was done | figures | expected | met |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        figures = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in row.figures.items())
        lines.append(
            f"| {row.scenario} | {row.done} | {figures} | {row.expected} | {'yes' if row.met else '**no**'} |"
        )
    for scenario, note in NOT_YET:
        lines.append(f"| {scenario} | {note} | – | – | – |")
    notes = ROOT / "faults" / "notes.md"  # hand-written, kept across runs
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    (ROOT / "docs" / "RELIABILITY.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faults")
    parser.add_argument("--short", action="store_true")
    parser.add_argument("only", nargs="*", help="run only scenarios whose name contains these")
    args = parser.parse_args(argv)
    mode = SHORT if args.short else LONG
    rows = asyncio.run(run(mode, args.only))
    if not args.only:
        write(rows, mode)
    return 0 if all(row.met for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Counts the security tests measure (bad inputs tried, examples, stateful steps), written to
test-artifacts/security_figures.json at the end of the run for docs/SECURITY.md."""

import json
from collections import Counter
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FIGURES: Counter[str] = Counter()


def count(name: str, amount: int = 1) -> None:
    FIGURES[name] += amount


def write() -> None:
    if not FIGURES:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "security_figures.json"
    path.write_text(json.dumps(dict(sorted(FIGURES.items())), indent=2) + "\n")

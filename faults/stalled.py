"""Stalled uploads, held open against a running service (issue "the new doors"): connections that
send `POST /api/v1/assets` headers with `Content-Length: 100000` and 600 bytes of body, then
nothing. Some carry no token, some a valid one. Each is reopened a second after the service
lets it go, for as long as the load runs, so the service always has them open; what is counted
is how each connection ended (its status line) and how long it was held."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DECLARED = 100_000
# the start of a real upload: the form's file part, then the first bytes of the file
FILE_PART = (
    b'--stall\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
)
SENT = FILE_PART + b"x" * (600 - len(FILE_PART))


@dataclass
class StalledReport:
    answers: Counter[str] = field(default_factory=Counter)  # "kind status" -> connections
    longest_s: dict[str, float] = field(default_factory=dict)  # kind -> the longest held
    not_closed: int = 0  # connections still open past the bound

    def note(self, kind: str, status: str, held_s: float) -> None:
        self.answers[f"{kind} {status}"] += 1
        self.longest_s[kind] = max(self.longest_s.get(kind, 0.0), round(held_s, 2))

    def figures(self) -> dict[str, object]:
        return {
            "stalled_connections": sum(self.answers.values()),
            "stalled_answers": dict(sorted(self.answers.items())),
            "stalled_longest_held_s": self.longest_s,
            "stalled_not_closed": self.not_closed,
        }


async def hold_stalled_uploads(
    api_url: str,
    tokens: list[str],
    unauthenticated: int,
    seconds: float,
    bound_s: float,
) -> StalledReport:
    """`unauthenticated` connections without a token and one per token with it, each reopened
    a second after it ends, for `seconds`; a connection still open `bound_s` after its bytes
    were sent is counted in `not_closed` and dropped."""
    split = urlsplit(api_url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    report = StalledReport()
    until = time.monotonic() + seconds

    async def keep_one(kind: str, token: str | None) -> None:
        while time.monotonic() < until:
            await _one(host, port, kind, token, bound_s, report)
            await asyncio.sleep(1)

    await asyncio.gather(
        *(keep_one("unauthenticated", None) for _ in range(unauthenticated)),
        *(keep_one("authenticated", token) for token in tokens),
    )
    return report


async def _one(
    host: str, port: int, kind: str, token: str | None, bound_s: float, report: StalledReport
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST /api/v1/assets HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}"
        "Content-Type: multipart/form-data; boundary=stall\r\n"
        f"Content-Length: {DECLARED}\r\n\r\n"
    )
    writer.write(head.encode() + SENT)
    await writer.drain()
    sent_at = time.monotonic()
    try:
        answer = await asyncio.wait_for(_until_closed(reader), bound_s)
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "none"
        report.note(kind, status, time.monotonic() - sent_at)
    except TimeoutError:
        report.not_closed += 1
    except (ConnectionError, OSError):
        report.note(kind, "reset", time.monotonic() - sent_at)
    finally:
        writer.close()


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the service sends until it closes the connection."""
    received = b""
    while chunk := await reader.read(65536):
        received += chunk
    return received

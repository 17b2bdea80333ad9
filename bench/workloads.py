"""Request files for wrk, one set per scenario (a fresh file per run where a request may only
be sent once)."""

import itertools
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from creativeflow.services.aigeneration.infrastructure.database.tables import generation_requests
from creativeflow.services.aigeneration.infrastructure.simulator.signing import CallbackSigner

from . import fixtures
from .services import Services
from .wrk import write_requests

USERS = 1000
READ_USER = "bench-reader"


class Workloads:
    def __init__(self, services: Services, tokens: list[str]) -> None:
        self._services = services
        self._tokens = tokens
        self._folder = services.folder
        self._counter = itertools.count()

    @classmethod
    async def prepare(cls, services: Services) -> "Workloads":
        work = cls(services, fixtures.tokens(services.settings, USERS))
        # the reader's own requests, for GET by id and the list's first page
        await fixtures.store(services.engine, fixtures.waiting_for_samples(200, READ_USER))
        return work

    def _file(self, name: str, lines: list[tuple[str, str, dict[str, str], str]]) -> Path:
        return write_requests(self._folder / f"{name}-{next(self._counter)}.txt", lines)

    def creates(self, run: int) -> Path:
        lines = [
            (
                "POST",
                "/api/v1/generation-requests",
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                fixtures.CREATE_BODY,
            )
            for token in self._tokens
        ]
        return self._file("creates", lines)

    def floor_inserts(self, run: int) -> Path:
        lines = [
            ("POST", "/insert", {"Content-Type": "application/json"}, fixtures.CREATE_BODY)
        ] * 100
        return self._file("floor-inserts", lines)

    def floor_create_statements(self, run: int) -> Path:
        lines = [
            ("POST", f"/create-statements?user=floor-user-{n}", headers, fixtures.CREATE_BODY)
            for n, headers in enumerate([{"Content-Type": "application/json"}] * USERS)
        ]
        return self._file("floor-create-statements", lines)

    def floor_updates(self, run: int) -> Path:
        lines = [("POST", f"/lock-update/{row}", {}, "") for row in range(1, 100_001)]
        return self._file("floor-updates", lines)

    async def callbacks(self, per_run: int, runs: int) -> Callable[[int], Path]:
        """Each run (and the warm-up, run -1) gets callbacks of requests of its own, stored
        beforehand, so every callback sent applies."""
        signer = CallbackSigner(self._services.settings.n8n_callback_secret)
        files: dict[int, Path] = {}
        for run in range(-1, runs):
            requests = fixtures.waiting_for_samples(per_run)
            await fixtures.store(self._services.engine, requests)
            lines = []
            for request in requests:
                body, headers = fixtures.samples_callback(
                    request, signer, self._services.assets_dir
                )
                lines.append(("POST", "/api/v1/n8n-callbacks/samples", headers, body))
            files[run] = self._file("callbacks", lines)
        return lambda run: files[run]

    async def gets(self) -> Callable[[int], Path]:
        ids = await self._reader_ids()
        token = self._reader_token()
        lines = [
            ("GET", f"/api/v1/generation-requests/{i}", {"Authorization": f"Bearer {token}"}, "")
            for i in ids
        ]
        path = self._file("gets", lines)
        return lambda run: path

    async def lists(self) -> Callable[[int], Path]:
        token = self._reader_token()
        lines = [
            (
                "GET",
                "/api/v1/generation-requests?limit=20",
                {"Authorization": f"Bearer {token}"},
                "",
            )
        ]
        path = self._file("lists", lines)
        return lambda run: path

    async def floor_gets(self) -> Callable[[int], Path]:
        lines = [
            ("GET", f"/requests/{i}?user={READ_USER}", {}, "") for i in await self._reader_ids()
        ]
        path = self._file("floor-gets", lines)
        return lambda run: path

    def floor_lists(self, run: int) -> Path:
        return self._file("floor-lists", [("GET", f"/requests?user={READ_USER}&limit=20", {}, "")])

    async def grow_to(self, total: int) -> None:
        template = fixtures.waiting_for_samples(1, "filler")[0]
        await fixtures.grow_to(self._services.engine, total, template)

    def _reader_token(self) -> str:
        from creativeflow.services.aigeneration.core.security import create_dev_token

        return create_dev_token(self._services.settings, READ_USER)

    async def _reader_ids(self) -> list[str]:
        async with self._services.engine.connect() as connection:
            rows = await connection.execute(
                select(generation_requests.c.id).where(generation_requests.c.user_id == READ_USER)
            )
            return [row.id for row in rows]

import asyncio
from collections.abc import AsyncGenerator, Collection, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .async_client import AsyncGenerationClient
from .models import CreditsRead, FormatsRead, GenerationRequestRead, ModelsRead

T = TypeVar("T")


class GenerationClient:
    """The blocking twin of AsyncGenerationClient (same methods, same retries), for scripts and
    notebooks. It runs the async client on a private event loop, so use it outside asyncio."""

    def __init__(
        self, base_url: str = "http://127.0.0.1:8000", token: str = "", **options: Any
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = self._run(_make(base_url, token, options))

    def __enter__(self) -> "GenerationClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._run(self._client.aclose())
        self._loop.close()

    def create(
        self,
        prompt: str,
        format: str,
        project_id: str = "default",
        **fields: Any,
    ) -> GenerationRequestRead:
        return self._run(self._client.create(prompt, format, project_id, **fields))

    def create_batch(
        self, requests: list[dict[str, Any]], **options: Any
    ) -> list[GenerationRequestRead]:
        return self._run(self._client.create_batch(requests, **options))

    def get(self, request_id: str) -> GenerationRequestRead:
        return self._run(self._client.get(request_id))

    def list(self, **filters: Any) -> Iterator[GenerationRequestRead]:
        return self._iterate(self._client.list(**filters))

    def select_sample(
        self, request_id: str, sample_id: str, **options: Any
    ) -> GenerationRequestRead:
        return self._run(self._client.select_sample(request_id, sample_id, **options))

    def regenerate(self, request_id: str, **options: Any) -> GenerationRequestRead:
        return self._run(self._client.regenerate(request_id, **options))

    def vary(self, request_id: str, sample_id: str, **options: Any) -> GenerationRequestRead:
        return self._run(self._client.vary(request_id, sample_id, **options))

    def cancel(self, request_id: str) -> GenerationRequestRead:
        return self._run(self._client.cancel(request_id))

    def formats(self) -> FormatsRead:
        return self._run(self._client.formats())

    def models(self) -> ModelsRead:
        return self._run(self._client.models())

    def credits(self) -> CreditsRead:
        return self._run(self._client.credits())

    def events(
        self, request_id: str, last_event_id: str | None = None
    ) -> Iterator[GenerationRequestRead]:
        return self._iterate(self._client.events(request_id, last_event_id))

    def wait_for(self, request_id: str, statuses: Collection[str]) -> GenerationRequestRead:
        return self._run(self._client.wait_for(request_id, statuses))

    def download(self, url: str, path: Path) -> Path:
        return self._run(self._client.download(url, path))

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coroutine)

    def _iterate(self, generator: AsyncGenerator[T, None]) -> Iterator[T]:
        try:
            while True:
                yield self._run(generator.__anext__())
        except StopAsyncIteration:
            return
        finally:
            self._run(generator.aclose())


async def _make(base_url: str, token: str, options: dict[str, Any]) -> AsyncGenerationClient:
    return AsyncGenerationClient(base_url, token, **options)  # its httpx client binds to this loop

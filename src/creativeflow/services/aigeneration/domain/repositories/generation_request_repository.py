from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from ..models import GenerationRequest, GenerationStatus


@dataclass(frozen=True)
class ListQuery:
    """The caller's requests, newest first, after the keyset position `after` (exclusive)."""

    user_id: str
    limit: int
    project_id: str | None = None
    status: GenerationStatus | None = None
    after: tuple[datetime, str] | None = None  # (created_at, id) of the last item seen


class GenerationRequestRepository(ABC):
    """The requests of one unit of work. It keeps the requests it hands out for change (and
    those added): the unit of work writes them, with what their new events call for, when it
    commits (cosmic python's `seen`)."""

    def __init__(self) -> None:
        self.seen: dict[str, GenerationRequest] = {}
        self.status_at_load: dict[str, GenerationStatus | None] = {}  # None: added

    async def add(self, request: GenerationRequest) -> None:
        """A new request: inserted when the unit of work commits."""
        self.seen[request.id] = request
        self.status_at_load[request.id] = None

    async def get_for_update(self, request_id: str) -> GenerationRequest | None:
        """Load with a row lock held to the end of the transaction: concurrent changes
        serialize. The request is written back when the unit of work commits."""
        request = await self._get_for_update(request_id)
        if request is not None:
            self.seen[request.id] = request
            self.status_at_load[request.id] = request.status
        return request

    async def write_seen(self) -> None:
        """Insert the added requests and write the loaded ones back; raises ConcurrentUpdate
        if one changed since it was loaded (the version check)."""
        for request_id, request in self.seen.items():
            if self.status_at_load[request_id] is None:
                await self._insert(request)
            else:
                await self._update(request)

    def forget_seen(self) -> None:
        self.seen, self.status_at_load = {}, {}

    @abstractmethod
    async def _insert(self, request: GenerationRequest) -> None: ...

    @abstractmethod
    async def _get_for_update(self, request_id: str) -> GenerationRequest | None: ...

    @abstractmethod
    async def _update(self, request: GenerationRequest) -> None:
        """Write a loaded request back, its version raised by one (ConcurrentUpdate if the
        stored version is not the loaded one)."""

    @abstractmethod
    async def get(self, request_id: str) -> GenerationRequest | None: ...

    @abstractmethod
    async def list_for_user(self, query: ListQuery) -> list[GenerationRequest]: ...

    @abstractmethod
    async def count_active(self, user_id: str) -> int:
        """The user's requests in processing statuses. Call lock_user first for a stable count."""

    @abstractmethod
    async def lock_user(self, user_id: str) -> None:
        """Serialise this transaction with the user's other creates until it ends."""

    @abstractmethod
    async def ids_stalled(
        self, statuses: frozenset[GenerationStatus], updated_before: datetime, limit: int
    ) -> list[str]:
        """Requests left in a transient status (a crash mid-saga) for longer than they should."""

    @abstractmethod
    async def ids_overdue(self, now: datetime, limit: int) -> list[str]:
        """Requests whose job in flight has passed its deadline."""

    @abstractmethod
    async def ids_created_before(
        self, before: datetime, limit: int, *, noticed: bool | None = None
    ) -> list[str]:
        """Requests created before `before` whose images are still kept (not deleted, not
        expired), oldest first; `noticed=False`: only those whose owner was not told yet."""


class ConcurrentUpdate(Exception):
    """The row changed between load and save (optimistic version check)."""

from datetime import datetime
from functools import cache

from sqlalchemy import Select, and_, bindparam, func, literal, or_, select, update

from ...domain.models import GenerationRequest, GenerationStatus
from ...domain.models.generation_status import PROCESSING_STATUSES
from ...domain.repositories import ConcurrentUpdate, GenerationRequestRepository, ListQuery
from ..database.runners import Runner
from ..database.tables import generation_requests as t
from .request_mapping import from_row, to_row

# Built once: a statement object reused with new parameters skips SQLAlchemy's per-call
# construction and cache-key work (a measurable part of each request's CPU; docs/PERFORMANCE.md).
_INSERT = t.insert()
_GET = select(t).where(t.c.id == bindparam("request_id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_SAVE = update(t).where(t.c.id == bindparam("b_id"), t.c.version == bindparam("b_version"))
_COUNT_ACTIVE = (
    select(func.count())
    .select_from(t)
    .where(
        t.c.user_id == bindparam("user_id"),
        # literals, not an IN list of unknown length: the statement is compiled once
        t.c.status.in_([literal(str(status)) for status in sorted(PROCESSING_STATUSES)]),
    )
)
_LOCK_USER = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("user_id"), 0)))


@cache
def _list(by_project: bool, by_status: bool, after: bool) -> Select[tuple[object, ...]]:
    """A user's page, newest first: one statement per combination of filters, built once."""
    statement = select(t).where(t.c.user_id == bindparam("user_id"))
    if by_project:
        statement = statement.where(t.c.project_id == bindparam("project_id"))
    if by_status:
        statement = statement.where(t.c.status == bindparam("status"))
    else:  # tombstones only when asked for
        statement = statement.where(t.c.status != literal(str(GenerationStatus.DELETED)))
    if after:
        statement = statement.where(
            or_(
                t.c.created_at < bindparam("after_at"),
                and_(t.c.created_at == bindparam("after_at"), t.c.id < bindparam("after_id")),
            )
        )
    return statement.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(bindparam("limit"))


class SqlaGenerationRequestRepository(GenerationRequestRepository):
    def __init__(self, run: Runner) -> None:
        super().__init__()
        self._run = run

    async def _insert(self, request: GenerationRequest) -> None:
        await self._run.execute(_INSERT, to_row(request))

    async def get(self, request_id: str) -> GenerationRequest | None:
        row = await self._run.first(_GET, {"request_id": request_id})
        return from_row(row) if row else None

    async def _get_for_update(self, request_id: str) -> GenerationRequest | None:
        # FOR UPDATE on PostgreSQL; SQLite ignores it and holds its write lock from BEGIN.
        row = await self._run.first(_GET_FOR_UPDATE, {"request_id": request_id})
        return from_row(row) if row else None

    async def _update(self, request: GenerationRequest) -> None:
        values = to_row(request)
        values.update(version=request.version + 1, b_id=request.id, b_version=request.version)
        del values["id"]
        if await self._run.execute(_SAVE, values) != 1:
            raise ConcurrentUpdate(request.id)
        request.version += 1

    async def list_for_user(self, query: ListQuery) -> list[GenerationRequest]:
        statement = _list(
            query.project_id is not None, query.status is not None, query.after is not None
        )
        params: dict[str, object] = {
            "user_id": query.user_id,
            "project_id": query.project_id,
            "status": str(query.status) if query.status is not None else None,
            "limit": query.limit,
        }
        if query.after is not None:
            params["after_at"], params["after_id"] = query.after
        return [from_row(row) for row in await self._run.all(statement, params)]

    async def count_active(self, user_id: str) -> int:
        return int(await self._run.scalar(_COUNT_ACTIVE, {"user_id": user_id}) or 0)

    async def lock_user(self, user_id: str) -> None:
        # PostgreSQL: a transaction-scoped advisory lock per user. SQLite: BEGIN IMMEDIATE
        # already serialises every writing transaction.
        if self._run.dialect_name == "postgresql":
            await self._run.execute(_LOCK_USER, {"user_id": user_id})

    async def ids_stalled(
        self, statuses: frozenset[GenerationStatus], updated_before: datetime, limit: int
    ) -> list[str]:
        query = (
            select(t.c.id)
            .where(t.c.status.in_([str(s) for s in statuses]), t.c.updated_at < updated_before)
            .order_by(t.c.updated_at)
            .limit(limit)
        )
        return [row.id for row in await self._run.all(query)]

    async def ids_overdue(self, now: datetime, limit: int) -> list[str]:
        # deadline_at is set only while a job is in flight (see request_mapping.to_row)
        query = select(t.c.id).where(t.c.deadline_at < now).order_by(t.c.deadline_at).limit(limit)
        return [row.id for row in await self._run.all(query)]

    async def ids_created_before(
        self, before: datetime, limit: int, *, noticed: bool | None = None
    ) -> list[str]:
        query = (
            select(t.c.id)
            .where(
                t.c.created_at < before,
                t.c.assets_expired_at.is_(None),
                t.c.status != str(GenerationStatus.DELETED),
            )
            .order_by(t.c.created_at)
            .limit(limit)
        )
        if noticed is False:
            query = query.where(t.c.retention_notice_at.is_(None))
        return [row.id for row in await self._run.all(query)]

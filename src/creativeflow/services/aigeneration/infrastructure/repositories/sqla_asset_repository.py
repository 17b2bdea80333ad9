"""Rows of the assets table <-> AssetRecord. Additions are staged and written at commit, with
the outbox rows of the same change."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select

from ...application.ports import AssetRecord
from ...domain.models import AssetInfo
from ..database.runners import Runner
from ..database.tables import assets as t

_GET = select(t).where(t.c.id == bindparam("asset_id"))
INSERT_ASSETS = t.insert()
DELETE_ASSETS = t.delete().where(t.c.id.in_(bindparam("ids", expanding=True)))


class SqlaAssetRepository:
    def __init__(self, run: Runner) -> None:
        self._run = run
        self.pending: list[AssetRecord] = []
        self.removed: list[str] = []

    def add(self, record: AssetRecord) -> None:
        self.pending.append(record)

    async def get(self, asset_id: str) -> AssetRecord | None:
        row = await self._run.first(_GET, {"asset_id": asset_id})
        return _record(row) if row else None

    async def owned(self, user_id: str, asset_ids: Sequence[str]) -> list[AssetRecord]:
        query = select(t).where(t.c.user_id == user_id, t.c.id.in_(list(asset_ids)))
        return [_record(row) for row in await self._run.all(query)]

    async def uploads_of(self, user_id: str) -> list[AssetRecord]:
        query = select(t).where(t.c.user_id == user_id, t.c.request_id.is_(None))
        return [_record(row) for row in await self._run.all(query)]

    def remove(self, asset_ids: Sequence[str]) -> None:
        self.removed += asset_ids

    def pending_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "id": r.info.asset_id,
                "user_id": r.user_id,
                "request_id": r.request_id,
                "kind": r.kind,
                "storage_key": r.key,
                "format": r.info.format,
                "width": r.info.width,
                "height": r.info.height,
                "bytes": r.info.bytes,
                "sha256": r.info.sha256,
                "seed": r.info.seed,
                "created_at": r.created_at,
            }
            for r in self.pending
        ]


def _record(row: Any) -> AssetRecord:
    info = AssetInfo(row.id, row.width, row.height, row.format, row.bytes, row.sha256, row.seed)
    return AssetRecord(info, row.user_id, row.kind, row.storage_key, row.created_at, row.request_id)

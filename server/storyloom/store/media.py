"""Media metadata in SQL."""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from storyloom.domain.media import MediaItem
from storyloom.store.db import Database, completes_when_cancelled
from storyloom.store.models import MediaRow

_FIELDS = ("id", "user_id", "sha256", "content_type", "size_bytes", "create_time", "width", "height",
           "duration_ms", "sample_rate_hertz", "channel_count", "parent_id", "purpose")


@completes_when_cancelled
class SqlMediaRepository:
    def __init__(self, db: Database):
        self._db = db

    async def add(self, item: MediaItem, request_id: str) -> tuple[MediaItem, bool]:
        existing = await self._db.insert_once(
            [MediaRow(**{f: getattr(item, f) for f in _FIELDS}, request_id=request_id or None)], request_id)
        if existing is None:
            return item, True
        found = await self.get(existing)
        assert found is not None
        return found, False

    async def get(self, media_id: str) -> MediaItem | None:
        return (await self.get_many([media_id])).get(media_id)

    async def get_many(self, media_ids: list[str]) -> dict[str, MediaItem]:
        """The items with their renditions, by id, in two queries however many there are."""
        if not media_ids:
            return {}
        async with self._db.begin() as session:
            rows = list(await session.scalars(select(MediaRow).where(MediaRow.id.in_(media_ids))))
            children = await session.scalars(
                select(MediaRow).where(MediaRow.parent_id.in_(media_ids)).order_by(MediaRow.purpose))
        renditions: dict[str, list[MediaItem]] = {}
        for child in children:
            renditions.setdefault(child.parent_id or "", []).append(_item(child))
        return {row.id: _item(row, tuple(renditions.get(row.id, ()))) for row in rows}

    async def delete(self, user_id: str, media_ids: list[str]) -> list[str]:
        if not media_ids:
            return []
        async with self._db.begin() as session, session.begin():
            doomed = (MediaRow.user_id == user_id) & or_(MediaRow.id.in_(media_ids), MediaRow.parent_id.in_(media_ids))
            hashes = set(await session.scalars(select(MediaRow.sha256).where(doomed)))
            await session.execute(delete(MediaRow).where(doomed))
            still_used = set(await session.scalars(select(MediaRow.sha256).where(MediaRow.sha256.in_(hashes))))
        return sorted(hashes - still_used)


def _item(row: MediaRow, renditions: tuple[MediaItem, ...] = ()) -> MediaItem:
    return MediaItem(**{f: getattr(row, f) for f in _FIELDS}, renditions=renditions)

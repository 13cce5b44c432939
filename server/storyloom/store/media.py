"""Media metadata in SQL, and the reference counts of the blobs the media name."""

from __future__ import annotations

import collections
import datetime as dt
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import BindParameter, Connection, Row, Table, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storyloom.domain.media import MediaItem
from storyloom.domain.task_types import LIVE_STATES
from storyloom.store.db import Database, changed_rows, completes_when_cancelled, one_fetch
from storyloom.store.faults import fault_point
from storyloom.store.models import BlobRefRow, MediaRow, TaskRow

_FIELDS = ("id", "user_id", "sha256", "content_type", "size_bytes", "create_time", "width", "height",
           "duration_ms", "sample_rate_hertz", "channel_count", "parent_id", "purpose")


# Items and their renditions by id, built once (see `Database.fetch`).
_IDS: BindParameter[str] = bindparam("ids", expanding=True)
_GET_MANY = (select(*(getattr(MediaRow, f) for f in _FIELDS))
             .where(or_(MediaRow.id.in_(_IDS), MediaRow.parent_id.in_(_IDS))).order_by(MediaRow.purpose))
MEDIA = typing.cast("Table", MediaRow.__table__)
# Attached: no longer marked as its task's (built once, see `Database.fetch`).
_ATTACHED: BindParameter[str] = bindparam("attached", expanding=True)
_ATTACH = update(MEDIA).where(MEDIA.c.id.in_(_ATTACHED), MEDIA.c.made_by_task.is_not(None)).values(made_by_task=None)


def attaching(write: Callable[[Connection], None], media_ids: Sequence[str]) -> Callable[[Connection], None]:
    """`write` (a task's write of its story or video, for `Database.transaction`) that attaches `media_ids`: in its
    transaction, once it succeeded, the media are no longer marked as their task's, so no sweep of unattached media
    takes them (one statement more, none without media)."""
    if not media_ids:
        return write

    def write_and_attach(connection: Connection) -> None:
        write(connection)
        connection.execute(_ATTACH, {"attached": list(media_ids)})

    return write_and_attach


@completes_when_cancelled
class SqlMediaRepository:
    def __init__(self, db: Database):
        self._db = db

    async def add(self, item: MediaItem, request_id: str, made_by_task: str = "") -> tuple[MediaItem, bool]:
        existing = await self._db.insert_once(
            [MediaRow(**{f: getattr(item, f) for f in _FIELDS}, request_id=request_id or None,
                      made_by_task=made_by_task or None)], request_id)
        if existing is None:
            if made_by_task:
                fault_point("media.stored_by_task")  # stored, not attached yet: what a kill here leaves is swept
            return item, True
        found = await self.get(existing)
        assert found is not None
        return found, False

    @one_fetch
    async def get(self, media_id: str) -> MediaItem | None:
        return (await self.get_many([media_id])).get(media_id)

    @one_fetch
    async def get_many(self, media_ids: list[str]) -> dict[str, MediaItem]:
        """The items with their renditions, by id, in one statement however many there are."""
        if not media_ids:
            return {}
        found = await self._db.fetch(_GET_MANY, {"ids": media_ids})
        wanted = set(media_ids)
        renditions: dict[str, list[MediaItem]] = {}
        for row in found:
            if row.parent_id in wanted:
                renditions.setdefault(row.parent_id, []).append(_item(row))
        return {row.id: _item(row, tuple(renditions.get(row.id, ()))) for row in found if row.id in wanted}

    async def delete(self, user_id: str, media_ids: list[str]) -> list[str]:
        if not media_ids:
            return []
        now = _now()
        async with self._db.write() as session:
            # Counted from the rows these statements deleted, so a concurrent delete of the same items gives back
            # each reference once. The renditions first: one that went with its item (the foreign key's cascade,
            # at once on SQLite) would not be among the rows deleted, and its blob's reference never given back.
            released: collections.Counter[str] = collections.Counter()
            for doomed in (MediaRow.parent_id.in_(media_ids), MediaRow.id.in_(media_ids)):
                released.update(await session.scalars(
                    delete(MediaRow).where(MediaRow.user_id == user_id, doomed).returning(MediaRow.sha256)))
            for sha256, count in sorted(released.items()):  # in one order, so two deletes cannot deadlock
                await session.execute(update(BlobRefRow).where(BlobRefRow.sha256 == sha256)
                                      .values(ref_count=BlobRefRow.ref_count - count, update_time=now)
                                      .execution_options(synchronize_session=False))
            unreferenced = await session.scalars(select(BlobRefRow.sha256).where(
                BlobRefRow.sha256.in_(list(released)), BlobRefRow.ref_count <= 0))
            return sorted(unreferenced)

    async def pin_blob(self, sha256: str, size_bytes: int) -> None:
        now = _now()
        insert = postgresql.insert if not self._db.is_sqlite else sqlite.insert
        statement = insert(BlobRefRow).values(sha256=sha256, ref_count=1, size_bytes=size_bytes, create_time=now,
                                              update_time=now)
        # A delete holding the row (removing the bytes) makes this wait; if it then deleted the row, this
        # inserts a new one, and the upload writes the bytes again.
        statement = statement.on_conflict_do_update(
            index_elements=[BlobRefRow.sha256],
            set_={"ref_count": BlobRefRow.ref_count + 1, "update_time": now})
        async with self._db.write() as session:
            await session.execute(statement)

    async def release_pin(self, sha256: str, media_id: str) -> bool:
        stored = select(MediaRow.id).where(MediaRow.id == media_id).exists()
        async with self._db.write() as session:
            # One statement: if the item was stored, its row holds the reference and nothing changes.
            await session.execute(update(BlobRefRow).where(BlobRefRow.sha256 == sha256, ~stored)
                                  .values(ref_count=BlobRefRow.ref_count - 1, update_time=_now())
                                  .execution_options(synchronize_session=False))
            count = await session.scalar(select(BlobRefRow.ref_count).where(BlobRefRow.sha256 == sha256))
        return count is not None and count <= 0

    async def remove_blob_if_unreferenced(self, sha256: str, remove: Callable[[str], Awaitable[None]]) -> bool:
        async with self._db.write() as session:
            # Holds the row (PostgreSQL) or the write lock (SQLite) while the bytes go: a concurrent pin waits,
            # and one that came first makes this claim nothing.
            claimed = await changed_rows(session, update(BlobRefRow)
                                         .where(BlobRefRow.sha256 == sha256, BlobRefRow.ref_count <= 0)
                                         .values(update_time=_now()).execution_options(synchronize_session=False))
            if claimed != 1:
                return False
            await remove(sha256)
            await session.execute(delete(BlobRefRow).where(BlobRefRow.sha256 == sha256))
        return True

    async def unattached(self, limit: int) -> list[tuple[str, str]]:
        # Its task's row is locked by a write that attaches (`claim_holds`), so a task seen ended here attaches
        # nothing any more: what it marked stays unattached.
        live = select(TaskRow.id).where(TaskRow.id == MediaRow.made_by_task,
                                        TaskRow.state.in_([state.value for state in LIVE_STATES]))
        query = (select(MediaRow.user_id, MediaRow.id).where(MediaRow.made_by_task.is_not(None), ~exists(live))
                 .order_by(MediaRow.create_time, MediaRow.id).limit(limit))
        async with self._db.begin() as session:
            return [(row.user_id, row.id) for row in await session.execute(query)]

    async def unreferenced_blobs(self, pins_older_than: dt.timedelta) -> list[str]:
        now = _now()
        rows = select(func.count()).where(MediaRow.sha256 == BlobRefRow.sha256).scalar_subquery()
        async with self._db.write() as session:
            await session.execute(update(BlobRefRow)
                                  .where(BlobRefRow.update_time < now - pins_older_than, BlobRefRow.ref_count != rows)
                                  .values(ref_count=rows, update_time=now).execution_options(synchronize_session=False))
            return list(await session.scalars(select(BlobRefRow.sha256).where(BlobRefRow.ref_count <= 0)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _item(row: Row[Any], renditions: tuple[MediaItem, ...] = ()) -> MediaItem:
    """The item in a row of `_GET_MANY` (its columns are `_FIELDS`, in order)."""
    return MediaItem(**dict(zip(_FIELDS, row, strict=True)), renditions=renditions)

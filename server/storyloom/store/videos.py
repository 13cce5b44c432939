"""Story videos in SQL."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import typing
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy import update as sql_update

from storyloom.domain.tasks import TaskClaim
from storyloom.domain.videos import SceneClip, StoryVideo, VideoOptions
from storyloom.store.db import Database, completes_when_cancelled
from storyloom.store.media import attaching
from storyloom.store.models import StoryVideoRow
from storyloom.store.pages import newest_first
from storyloom.store.tasks import claim_conditions, write_under_claim

VIDEOS = typing.cast("Table", StoryVideoRow.__table__)


@completes_when_cancelled
class SqlVideoRepository:
    def __init__(self, db: Database):
        self._db = db

    async def create(self, video: StoryVideo, request_id: str) -> tuple[StoryVideo, bool]:
        existing = await self._db.insert_once([StoryVideoRow(
            id=video.id, user_id=video.user_id, story_id=video.story_id, state=video.state,
            options=dataclasses.asdict(video.options), task_id=video.task_id, clips=[], media_id="", poster_id="",
            captions_id="", duration_ms=0, request_id=request_id or None, create_time=video.create_time,
            update_time=video.update_time)], request_id)
        if existing is None:
            return video, True
        found = await self.get(existing)
        assert found is not None
        return found, False

    async def get(self, video_id: str) -> StoryVideo | None:
        async with self._db.begin() as session:
            row = await session.get(StoryVideoRow, video_id)
            return _video(row) if row else None

    async def list(self, story_id: str, *, limit: int,
                   after: tuple[dt.datetime, str] | None) -> list[StoryVideo]:
        query = select(StoryVideoRow).where(StoryVideoRow.story_id == story_id)
        query = newest_first(query, StoryVideoRow.create_time, StoryVideoRow.id, after, limit)
        async with self._db.begin() as session:
            return [_video(r) for r in await session.scalars(query)]

    async def update(self, video_id: str, *, claim: TaskClaim | None = None, attach: Sequence[str] = (),
                     **fields: Any) -> None:
        if "clips" in fields:
            fields["clips"] = [dataclasses.asdict(c) for c in fields["clips"]]
        statement = sql_update(VIDEOS).where(VIDEOS.c.id == video_id, *claim_conditions(claim)).values(**fields)
        await self._db.transaction(attaching(write_under_claim(statement, VIDEOS, video_id, claim), attach))

    async def delete_for_story(self, story_id: str) -> builtins.list[StoryVideo]:
        async with self._db.write() as session:
            rows = list(await session.scalars(select(StoryVideoRow).where(StoryVideoRow.story_id == story_id)))
            videos = [_video(r) for r in rows]
            await session.execute(delete(StoryVideoRow).where(StoryVideoRow.story_id == story_id))
        return videos


def _video(row: StoryVideoRow) -> StoryVideo:
    return StoryVideo(
        id=row.id, user_id=row.user_id, story_id=row.story_id, state=row.state,
        options=VideoOptions(**row.options), create_time=row.create_time, update_time=row.update_time,
        task_id=row.task_id, clips=tuple(SceneClip(**c) for c in row.clips), media_id=row.media_id,
        poster_id=row.poster_id, captions_id=row.captions_id, duration_ms=row.duration_ms)

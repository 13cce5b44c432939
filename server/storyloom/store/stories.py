"""Stories and their scenes in SQL."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, Text, bindparam, cast, delete, select

from storyloom.domain.picture_spec import PictureSpec
from storyloom.domain.ports.story import OutlineScene
from storyloom.domain.stories import Scene, Story, StoryOptions, StoryState
from storyloom.domain.tasks import NewTask, TaskError
from storyloom.store.conversations import requirements_from_json
from storyloom.store.db import Database, completes_when_cancelled, one_fetch
from storyloom.store.models import SceneRow, StoryRow
from storyloom.store.pages import newest_first
from storyloom.store.tasks import task_rows

_SCENE_FIELDS = tuple(f.name for f in dataclasses.fields(Scene) if f.name != "picture_spec")


@completes_when_cancelled
class SqlStoryRepository:
    def __init__(self, db: Database):
        self._db = db

    async def create(self, story: Story, request_id: str, task: NewTask) -> tuple[Story, bool]:
        existing = await self._db.insert_once([StoryRow(
            id=story.id, user_id=story.user_id, state=story.state, title=story.title,
            requirements=dataclasses.asdict(story.requirements), options=dataclasses.asdict(story.options),
            premise="", outline=[], planned_scene_count=0, task_id=story.task_id,
            conversation_id=story.conversation_id, source_text=story.source_text,
            fingerprint=story.fingerprint, request_id=request_id or None, create_time=story.create_time,
            update_time=story.update_time), *task_rows(task)], request_id, fault="story.create")
        if existing is None:
            return story, True
        found = await self.get(existing)
        assert found is not None
        return found, False

    @one_fetch
    async def get(self, story_id: str) -> Story | None:
        rows = await self._db.fetch(_GET, {"story_id": story_id})
        if not rows:
            return None
        return _story(rows[0], tuple(_scene_of(r) for r in rows if r.scene_index is not None), decode=json.loads)

    @one_fetch
    async def scene(self, story_id: str, index: int) -> tuple[str, Scene] | None:
        rows = await self._db.fetch(_SCENE, {"story_id": story_id, "index": index})
        return (rows[0].user_id, _scene_of(rows[0])) if rows else None

    async def list(self, user_id: str, *, states: tuple[StoryState, ...], limit: int,
                   after: tuple[dt.datetime, str] | None) -> list[Story]:
        query = select(StoryRow).where(StoryRow.user_id == user_id)
        if states:
            query = query.where(StoryRow.state.in_(states))
        query = newest_first(query, StoryRow.create_time, StoryRow.id, after, limit)
        async with self._db.begin() as session:
            return [_story(r, ()) for r in await session.scalars(query)]

    async def find_recent(self, user_id: str, fingerprint: str, since: dt.datetime) -> Story | None:
        async with self._db.begin() as session:
            story_id = await session.scalar(
                select(StoryRow.id).where(StoryRow.user_id == user_id, StoryRow.fingerprint == fingerprint,
                                          StoryRow.create_time >= since,
                                          StoryRow.state.in_(("GENERATING", "READY")))
                .order_by(StoryRow.create_time.desc()).limit(1))
        return await self.get(story_id) if story_id else None

    async def generating(self) -> builtins.list[Story]:
        async with self._db.begin() as session:
            return [_story(r, ()) for r in await session.scalars(
                select(StoryRow).where(StoryRow.state == "GENERATING").order_by(StoryRow.create_time))]

    async def update(self, story_id: str, **fields: Any) -> None:
        if "error" in fields:
            fields["error"] = dataclasses.asdict(fields["error"]) if fields["error"] else None
        if "requirements" in fields:
            fields["requirements"] = dataclasses.asdict(fields["requirements"])
        if "outline" in fields:
            fields["outline"] = [dataclasses.asdict(o) for o in fields["outline"]]
        async with self._db.write() as session:
            row = await session.get(StoryRow, story_id)
            if row is None:
                raise LookupError(story_id)
            for key, value in fields.items():
                setattr(row, key, value)

    async def put_scene(self, story_id: str, scene: Scene) -> None:
        async with self._db.write() as session:
            await session.merge(SceneRow(story_id=story_id, **{f: getattr(scene, f) for f in _SCENE_FIELDS},
                                         picture_spec=scene.picture_spec.as_dict() if scene.picture_spec else None))

    async def delete(self, story_id: str) -> builtins.list[str]:
        async with self._db.write() as session:
            scenes = list(await session.scalars(select(SceneRow).where(SceneRow.story_id == story_id)))
            media = [i for s in scenes for i in (s.picture_id, s.narration_id) if i]
            await session.execute(delete(SceneRow).where(SceneRow.story_id == story_id))
            await session.execute(delete(StoryRow).where(StoryRow.id == story_id))
        return media


def _story(row: StoryRow | Row[Any], scenes: tuple[Scene, ...], decode: Callable[[Any], Any] = lambda v: v) -> Story:
    """The story of a row; `decode` turns its JSON columns into values (`_GET` reads them as text)."""
    error = decode(row.error) if row.error is not None else None
    return Story(
        id=row.id, user_id=row.user_id, state=row.state, title=row.title,
        requirements=requirements_from_json(decode(row.requirements)),
        options=StoryOptions(**decode(row.options)), create_time=row.create_time, update_time=row.update_time,
        premise=row.premise, outline=tuple(OutlineScene(**o) for o in decode(row.outline)), scenes=scenes,
        planned_scene_count=row.planned_scene_count, task_id=row.task_id, conversation_id=row.conversation_id,
        source_text=row.source_text, fingerprint=row.fingerprint, error=TaskError(**error) if error else None)


_SCENE_COLUMNS = tuple(getattr(SceneRow, f).label(f"scene_{f}") for f in (*_SCENE_FIELDS, "picture_spec"))
# The hot reads, built once (see `Database.fetch`). `_GET` is one statement: the story's columns repeat on each of
# its scenes' rows (none: one row of NULL scenes), its JSON as text, decoded once (`_story`) rather than per row.
_STORY_JSON = ("requirements", "options", "outline", "error")
_GET = (select(*(cast(c, Text).label(c.name) if c.name in _STORY_JSON else c for c in StoryRow.__table__.c),
               *_SCENE_COLUMNS)
        .outerjoin(SceneRow, SceneRow.story_id == StoryRow.id)
        .where(StoryRow.id == bindparam("story_id")).order_by(SceneRow.index))
_SCENE = (select(StoryRow.user_id, *_SCENE_COLUMNS).join(SceneRow, SceneRow.story_id == StoryRow.id)
          .where(StoryRow.id == bindparam("story_id"), SceneRow.index == bindparam("index")))


def _scene_of(row: Row[Any]) -> Scene:
    """The scene in a row of `get`'s join (its columns prefixed `scene_`)."""
    fields = {f: getattr(row, f"scene_{f}") for f in _SCENE_FIELDS}
    spec = row.scene_picture_spec
    return Scene(**fields, picture_spec=PictureSpec.from_dict(spec) if spec else None)

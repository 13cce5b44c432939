"""Stories and their scenes in SQL."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import json
import typing
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row, Table, Text, bindparam, cast, delete, literal, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite

from storyloom.domain.picture_spec import PictureSpec
from storyloom.domain.ports.story import OutlineScene
from storyloom.domain.stories import Scene, Story, StoryOptions, StoryState
from storyloom.domain.tasks import NewTask, TaskClaim, TaskError
from storyloom.store.conversations import requirements_from_json
from storyloom.store.db import Database, completes_when_cancelled, one_fetch
from storyloom.store.media import attaching
from storyloom.store.models import SceneRow, StoryRow
from storyloom.store.pages import newest_first
from storyloom.store.tasks import claim_conditions, claim_holds, task_rows, write_under_claim

_SCENE_FIELDS = tuple(f.name for f in dataclasses.fields(Scene) if f.name != "picture_spec")
STORIES = typing.cast("Table", StoryRow.__table__)
SCENES = typing.cast("Table", SceneRow.__table__)


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

    async def update(self, story_id: str, *, claim: TaskClaim | None = None, **fields: Any) -> None:
        if "error" in fields:
            fields["error"] = dataclasses.asdict(fields["error"]) if fields["error"] else None
        if "requirements" in fields:
            fields["requirements"] = dataclasses.asdict(fields["requirements"])
        if "outline" in fields:
            fields["outline"] = [dataclasses.asdict(o) for o in fields["outline"]]
        statement = sql_update(STORIES).where(STORIES.c.id == story_id, *claim_conditions(claim)).values(**fields)
        await self._db.transaction(write_under_claim(statement, STORIES, story_id, claim))

    async def put_scene(self, story_id: str, scene: Scene, *, claim: TaskClaim | None = None,
                        attach: Sequence[str] = ()) -> None:
        values: dict[str, Any] = {"story_id": story_id, **{_SCENE_COLUMN_NAMES[f]: getattr(scene, f)
                                                           for f in _SCENE_FIELDS},
                                  "picture_spec": scene.picture_spec.as_dict() if scene.picture_spec else None}
        insert = sqlite.insert if self._db.is_sqlite else postgresql.insert
        if claim is None:
            statement = insert(SCENES).values(values)
        else:  # inserted (or, on a clash, updated) only from a row that exists while the claim holds
            statement = insert(SCENES).from_select(list(values), select(
                *(literal(value, SCENES.c[name].type) for name, value in values.items())).where(claim_holds(claim)))
        statement = statement.on_conflict_do_update(
            index_elements=[SCENES.c.story_id, SCENES.c.scene_index],
            set_={name: statement.excluded[name] for name in values if name not in ("story_id", "scene_index")})
        await self._db.transaction(attaching(write_under_claim(statement, STORIES, story_id, claim), attach))

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


# The column of each Scene field (the index's is `scene_index`).
_SCENE_COLUMN_NAMES = {f: getattr(SceneRow, f).property.columns[0].name for f in _SCENE_FIELDS}
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

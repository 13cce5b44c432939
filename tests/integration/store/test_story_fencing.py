"""A story's writes made by its task are fenced by the task's claim, on SQLite and PostgreSQL: a worker that lost the
task (it was resumed by another at a newer attempt, or it ended) is refused with TaskFenced and changes nothing; the
current attempt's writes land; writes from outside the task are not fenced."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text

from storyloom.domain.ports.story import OutlineScene
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Scene, Story, StoryOptions
from storyloom.domain.task_types import NewTask
from storyloom.domain.tasks import (
    Task,
    TaskClaim,
    TaskEvent,
    TaskFence,
    TaskFenced,
    TaskState,
    TaskUpdate,
)
from storyloom.store.db import Database
from storyloom.store.stories import SqlStoryRepository
from storyloom.store.tasks import SqlTaskRepository
from tests.support.task_rows import claim_next, resume_elsewhere

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def claim_of(task: Task) -> TaskClaim:
    """The claim a runner's attempt holds (`TaskRunner._claim_fence`)."""
    assert task.owner is not None
    return TaskClaim(task.id, TaskFence(states=(TaskState.RUNNING,), owner=task.owner, attempt=task.attempt))


def scene(index: int, **fields: Any) -> Scene:
    return dataclasses.replace(Scene(index=index, title=f"Scene {index + 1}", text="Once upon a time.", mood="calm",
                                     illustration_prompt="a fox"), **fields)


@dataclasses.dataclass
class Stored:
    stories: SqlStoryRepository
    tasks: SqlTaskRepository
    story_id: str
    task_id: str

    async def claim(self, owner: str) -> Task:
        return await claim_next(self.tasks, self.task_id, owner, NOW)

    async def resume_elsewhere(self, task: Task, owner: str) -> Task:
        return await resume_elsewhere(self.tasks, task, owner, NOW)

    async def story(self) -> Story:
        found = await self.stories.get(self.story_id)
        assert found is not None
        return found


@pytest_asyncio.fixture
async def stored(db: Database) -> Stored:
    """A story GENERATING with its PENDING task, as CreateStory stores them."""
    stories, tasks = SqlStoryRepository(db), SqlTaskRepository(db)
    story_id, task_id = uuid.uuid4().hex, uuid.uuid4().hex
    task = Task(id=task_id, user_id="u1", kind="story.create", state=TaskState.PENDING, create_time=NOW,
                update_time=NOW, target=f"users/u1/stories/{story_id}", params={"story_id": story_id},
                last_sequence=1)
    story = Story(id=story_id, user_id="u1", state="GENERATING", requirements=StoryRequirements(setting="the moon"),
                  options=StoryOptions(scene_count=2), create_time=NOW, update_time=NOW, task_id=task_id,
                  fingerprint="f" * 64)
    await stories.create(story, "", NewTask(task, TaskEvent(task_id, 1, NOW, TaskState.PENDING, "", 0, "Waiting.")))
    return Stored(stories, tasks, story_id, task_id)


async def test_the_current_attempts_writes_land(stored: Stored) -> None:
    claim = claim_of(await stored.claim("w1"))
    await stored.stories.update(stored.story_id, claim=claim, title="The Moon Fox", premise="A fox on the moon.",
                                outline=[OutlineScene("Up", "The fox climbs."), OutlineScene("Down", "It comes back.")],
                                planned_scene_count=2)
    await stored.stories.put_scene(stored.story_id, scene(0), claim=claim)
    await stored.stories.put_scene(stored.story_id, scene(0, narration_id="n1", narration_state="READY"), claim=claim)
    await stored.stories.put_scene(stored.story_id, scene(1), claim=claim)

    story = await stored.story()
    assert (story.title, story.premise, story.planned_scene_count) == ("The Moon Fox", "A fox on the moon.", 2)
    assert [o.title for o in story.outline] == ["Up", "Down"]
    assert story.scenes == (scene(0, narration_id="n1", narration_state="READY"), scene(1))


async def test_a_worker_whose_task_was_resumed_elsewhere_can_no_longer_write_the_story(stored: Stored) -> None:
    first = await stored.claim("w1")
    await stored.stories.put_scene(stored.story_id, scene(0), claim=claim_of(first))
    second = await stored.resume_elsewhere(first, "w2")
    assert second.attempt == first.attempt + 1
    await stored.stories.put_scene(stored.story_id, scene(0, narration_id="new", narration_state="READY"),
                                   claim=claim_of(second))
    before = await stored.story()

    stale = claim_of(first)
    with pytest.raises(TaskFenced):
        await stored.stories.update(stored.story_id, claim=stale, title="Stale", state="READY")
    with pytest.raises(TaskFenced):  # a scene it would replace
        await stored.stories.put_scene(stored.story_id, scene(0, narration_id="stale", narration_state="READY"),
                                       claim=stale)
    with pytest.raises(TaskFenced):  # a scene it would add
        await stored.stories.put_scene(stored.story_id, scene(1, text="Stale."), claim=stale)
    assert await stored.story() == before

    await stored.stories.put_scene(stored.story_id, scene(1, text="New."), claim=claim_of(second))  # still its own
    assert [s.text for s in (await stored.story()).scenes] == ["Once upon a time.", "New."]


@pytest.mark.parametrize("end", [TaskState.SUCCEEDED, TaskState.CANCELLED])
async def test_once_the_task_ended_its_claim_writes_nothing_and_writes_outside_the_task_still_land(
        stored: Stored, end: TaskState) -> None:
    task = await stored.claim("w1")
    await stored.tasks.append_event(task.id, TaskUpdate(state=end, end_time=NOW), NOW)  # e.g. cancelled elsewhere
    with pytest.raises(TaskFenced):
        await stored.stories.update(stored.story_id, claim=claim_of(task), premise="Late.")
    with pytest.raises(TaskFenced):
        await stored.stories.put_scene(stored.story_id, scene(0), claim=claim_of(task))
    story = await stored.story()
    assert (story.premise, story.scenes) == ("", ())

    # The end recorded on the story (the task's end hook) and the like are not the task's writes: not fenced.
    await stored.stories.update(stored.story_id, state="CANCELLED", update_time=NOW)
    assert (await stored.story()).state == "CANCELLED"


async def test_a_missing_story_is_a_lookup_error_not_a_fenced_write(stored: Stored) -> None:
    claim = claim_of(await stored.claim("w1"))
    await stored.stories.delete(stored.story_id)
    with pytest.raises(LookupError):
        await stored.stories.update(stored.story_id, claim=claim, title="Gone")
    with pytest.raises(LookupError):
        await stored.stories.update(stored.story_id, title="Gone")


async def test_on_postgresql_a_claim_committed_while_the_write_waits_refuses_the_write(
        db: Database, stored: Stored) -> None:
    """The fence is read under a share lock on the task's row: a write that meets another worker's claim in
    progress waits for it and sees it, rather than the task as it was when the write began."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: no write runs while another's claim is in progress")
    first = await stored.claim("w1")
    async with db.engine.connect() as other:
        await other.execute(text("UPDATE tasks SET attempt = attempt + 1, owner = 'w2' WHERE id = :id"),
                            {"id": stored.task_id})  # another worker's claim, not committed yet
        write = asyncio.create_task(stored.stories.put_scene(stored.story_id, scene(0), claim=claim_of(first)))
        deadline = asyncio.get_running_loop().time() + 30
        while not await waiting_on_a_lock(db):
            assert not write.done(), "the write did not wait for the claim in progress"
            assert asyncio.get_running_loop().time() < deadline, "the write never waited on a lock"
        await other.commit()
    with pytest.raises(TaskFenced):
        await write
    assert (await stored.story()).scenes == ()


async def waiting_on_a_lock(db: Database) -> bool:
    async with db.engine.connect() as watcher:
        return bool(await watcher.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")))

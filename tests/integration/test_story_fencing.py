"""A story task's worker that lost the task while it still ran (presumed dead, the task resumed by another worker)
writes nothing more of the story: on the real task runner and story store (SQLite, and PostgreSQL with procrastinate's
dispatcher), with fake engines and media, and what it made but could not store in the story goes (there with the real
media store). The store's own fencing is tested in tests/integration/store."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from storyloom.domain.media import MediaLibrary
from storyloom.domain.ports.story import Narration, OutlineScene, SceneText
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Stories, Story, StoryEngines, StoryOptions
from storyloom.domain.tasks import (
    Task,
    TaskRunner,
    TaskState,
    new_worker_id,
)
from storyloom.store.db import Database
from storyloom.store.procrastinate_dispatch import ProcrastinateDispatcher
from storyloom.store.stories import SqlStoryRepository
from storyloom.store.tasks import SqlTaskRepository
from tests.support.fakes import (
    FakeIllustrator,
    FakeNarrator,
    InMemoryBlobStore,
    InMemoryMediaRepository,
    ScriptedTextEngine,
    TrustingInspector,
)
from tests.support.media import wav_bytes
from tests.support.shared_media import SharedMedia, shared_media
from tests.support.task_rows import take_over, taken_over
from tests.support.waiting import read_until

USER = "u1"


@dataclasses.dataclass
class Worker:
    """One worker's story service: its runner, its narrator, and media of its own (whose ids tell whose a scene's
    narration is)."""

    runner: TaskRunner
    stories: Stories
    narrator: FakeNarrator
    media: InMemoryMediaRepository


class StuckWriter(ScriptedTextEngine):
    """Writes scene `stuck_at` only once the test lets it, and then fails."""

    def __init__(self, stuck_at: int) -> None:
        super().__init__()
        self.stuck_at = stuck_at
        self.waiting = False
        self.release = asyncio.Event()

    async def scene(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene], index: int,
                    story_so_far: Sequence[SceneText]) -> SceneText:
        if index == self.stuck_at:
            self.waiting = True
            await self.release.wait()
            raise RuntimeError("the writer lost its thread")
        return await super().scene(requirements, premise, outline, index, story_so_far)


# What the old worker's narrator reads (`OwnNarrator`): bytes no other narration has, so a blob of their own.
OLD_WAV = wav_bytes(0.2)


class OwnNarrator(FakeNarrator):
    """Narrates as FakeNarrator does, in OLD_WAV."""

    async def narrate(self, text: str, *, voice: str = "", words_per_minute: float = 0.0,
                      priority: int = 0) -> Narration:
        await super().narrate(text, voice=voice, words_per_minute=words_per_minute, priority=priority)
        return Narration(OLD_WAV, 16000, 0.2)


def worker(db: Database, *, shared_dispatch: bool, writer: ScriptedTextEngine | None = None,
           library: MediaLibrary | None = None, narrator: FakeNarrator | None = None) -> Worker:
    """A worker with media of its own in memory, or the `library` given (then its `media` stays empty)."""
    worker_id = new_worker_id()
    dispatcher = (ProcrastinateDispatcher(db, worker_name=worker_id, lease_seconds=3)
                  if shared_dispatch and not db.is_sqlite else None)  # SQLite: the in-process one
    runner = TaskRunner(SqlTaskRepository(db), worker_id=worker_id, dispatcher=dispatcher)
    narrator, media = narrator or FakeNarrator(), InMemoryMediaRepository()
    stories = Stories(SqlStoryRepository(db), runner,
                      library or MediaLibrary(media, InMemoryBlobStore(), TrustingInspector()),
                      None,  # type: ignore[arg-type]  # no story here comes from a conversation
                      StoryEngines(writer or ScriptedTextEngine(), FakeIllustrator(), narrator), scene_concurrency=1)
    return Worker(runner, stories, narrator, media)


async def story_when(repo: SqlStoryRepository, story_id: str, check: Callable[[Story], bool], what: str) -> Story:
    return await read_until(lambda: repo.get(story_id), check, what=what)


async def test_a_superseded_attempt_is_refused_its_next_scene_write_and_the_new_attempts_scenes_stand(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="storyloom.domain.tasks")
    tasks, stories = SqlTaskRepository(db), SqlStoryRepository(db)
    old = worker(db, shared_dispatch=True)
    old.narrator.gate = asyncio.Event()  # its first narration runs until the test lets it end
    await old.runner.start()
    try:
        task = await old.stories.create(USER, requirements=StoryRequirements(setting="the moon"),
                                        options=StoryOptions(scene_count=2, skip_illustrations=True))
        story_id = str(task.params["story_id"])
        # Both texts stored and scene 1 narrating: the old attempt's next step is that narration's scene write.
        await story_when(stories, story_id, lambda s: len(s.scenes) == 2 and old.narrator.running == 1,
                         "the old worker narrates scene 1 with both texts stored")
        running = await tasks.get(task.id)
        assert running is not None and running.state is TaskState.RUNNING and running.owner == old.runner.worker_id

        # Its worker is presumed dead: another takes the task over, and writes the story under its own claim, as its
        # runner would run the handler.
        new = worker(db, shared_dispatch=False)
        ctx = await taken_over(tasks, running, new.runner.worker_id)
        await new.stories._write(ctx)
        written = await story_when(stories, story_id, lambda s: s.state == "READY", "the new attempt finished")
        narrations = [s.narration_id for s in written.scenes]
        assert all(n in new.media.items for n in narrations), narrations

        # The old worker was not dead: its narration ends, and storing it in the scene is refused.
        old.narrator.gate.set()
        await old.runner.settled(USER, task.id)
        assert ("end", written.scenes[0].text) in old.narrator.log  # it made its narration
        assert "task no longer held: its write was refused" in caplog.text  # and got as far as the scene's write
        assert old.media.items == {}  # which, refused, took the narration with it
        after = await stories.get(story_id)
        assert after is not None
        assert after.scenes == written.scenes and after.state == "READY"
        stored = await tasks.get(task.id)
        assert stored is not None and (stored.attempt, stored.owner) == (ctx.claim.fence.attempt, ctx.claim.fence.owner)
    finally:
        old.narrator.gate.set()
        await old.runner.stop()


async def narrating_held(db: Database, old: Worker) -> tuple[Task, Story]:
    """A story of two unillustrated scenes, both texts stored, the old worker's task narrating scene 1 (held, its
    `narrator.gate`): the task as it runs, and the story."""
    stories = SqlStoryRepository(db)
    task = await old.stories.create(USER, requirements=StoryRequirements(setting="the moon"),
                                    options=StoryOptions(scene_count=2, skip_illustrations=True))
    story = await story_when(stories, str(task.params["story_id"]),
                             lambda s: len(s.scenes) == 2 and old.narrator.running == 1,
                             "the old worker narrates scene 1 with both texts stored")
    running = await SqlTaskRepository(db).get(task.id)
    assert running is not None and running.state is TaskState.RUNNING and running.owner == old.runner.worker_id
    return running, story


async def test_the_narration_a_superseded_attempt_made_goes_when_its_scene_write_is_refused(
        db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="storyloom.domain.tasks")
    tasks, stories = SqlTaskRepository(db), SqlStoryRepository(db)
    media = shared_media(db, tmp_path / "blobs")
    old = worker(db, shared_dispatch=True, library=media.library, narrator=OwnNarrator())
    old.narrator.gate = asyncio.Event()
    await old.runner.start()
    try:
        running, story = await narrating_held(db, old)
        new = worker(db, shared_dispatch=False, library=media.library)
        await new.stories._write(await taken_over(tasks, running, new.runner.worker_id))
        written = await story_when(stories, story.id, lambda s: s.state == "READY", "the new attempt finished")
        narrations = {s.narration_id for s in written.scenes}

        old.narrator.gate.set()  # its narration is stored, and its scene write refused
        await old.runner.settled(USER, running.id)
        assert "task no longer held: its write was refused" in caplog.text
        assert ("end", story.scenes[0].text) in old.narrator.log
        await assert_only_these_media(media, narrations, gone=OLD_WAV)
        assert await stories.get(story.id) == written
    finally:
        old.narrator.gate.set()
        await old.runner.stop()


async def test_a_story_deleted_elsewhere_while_its_task_narrates_leaves_none_of_its_media(
        db: Database, tmp_path: Path) -> None:
    stories = SqlStoryRepository(db)
    media = shared_media(db, tmp_path / "blobs")
    # Not told of the deletion (no shared dispatcher to abort its job): it learns of it at its next write.
    old = worker(db, shared_dispatch=False, library=media.library, narrator=OwnNarrator())
    old.narrator.gate = asyncio.Event()
    await old.runner.start()
    try:
        running, story = await narrating_held(db, old)
        await worker(db, shared_dispatch=False, library=media.library).stories.delete(USER, story.id)  # elsewhere
        assert await stories.get(story.id) is None

        old.narrator.gate.set()  # its narration is stored, and the story it belongs to is gone
        await old.runner.settled(USER, running.id)
        assert ("end", story.scenes[0].text) in old.narrator.log
        await assert_only_these_media(media, set(), gone=OLD_WAV)
        assert media.blob_count() == 0
    finally:
        old.narrator.gate.set()
        await old.runner.stop()


async def assert_only_these_media(media: SharedMedia, ids: set[str | None], gone: bytes) -> None:
    """The user's media are `ids` (each blob still there), and the blob of `gone` was removed."""
    left = await media.ids(USER)
    assert left == ids, left
    for item in (await media.library.get_many(USER, list(left))).values():
        assert media.blobs.path(item.sha256).exists(), item
    assert not media.holds(gone)


async def test_a_superseded_attempt_that_fails_does_not_end_the_story_the_new_attempt_writes(db: Database) -> None:
    tasks, stories = SqlTaskRepository(db), SqlStoryRepository(db)
    writer = StuckWriter(stuck_at=1)
    old = worker(db, shared_dispatch=True, writer=writer)
    await old.runner.start()
    try:
        task = await old.stories.create(USER, requirements=StoryRequirements(setting="the moon"), options=StoryOptions(
            scene_count=2, skip_illustrations=True, skip_narration=True))
        story_id = str(task.params["story_id"])
        # Scene 1 stored and announced (its event stored), scene 2 being written: nothing else under way.
        await story_when(stories, story_id, lambda s: len(s.scenes) == 1 and writer.waiting, "scene 2 is written")
        running = await eventually_task(tasks, task.id, lambda t: t.checkpoint.get("scenes_ready") == [0])
        taken, _fence = await take_over(tasks, running, new_worker_id())

        writer.release.set()  # the old attempt fails: its end (and the story's with it) is not its to record any more
        await old.runner.settled(USER, task.id)
        story = await stories.get(story_id)
        assert story is not None and (story.state, story.error) == ("GENERATING", None)
        stored = await tasks.get(task.id)
        assert stored is not None and (stored.state, stored.attempt) == (TaskState.RUNNING, taken.attempt)
    finally:
        writer.release.set()
        await old.runner.stop()


async def eventually_task(tasks: SqlTaskRepository, task_id: str, check: Callable[[Task], bool]) -> Task:
    return await read_until(lambda: tasks.get(task_id), check, what=f"task {task_id} changes")
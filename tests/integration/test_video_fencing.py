"""A video task's worker that lost the task while it still ran (presumed dead, the task resumed by another worker)
writes nothing more of the video: on the real task runner and video store (SQLite, and PostgreSQL with procrastinate's
dispatcher), with a fake encoder and per-worker in-memory media. The store's own fencing is tested in
tests/integration/store."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

import pytest

from storyloom.domain.media import MediaLibrary
from storyloom.domain.ports.video import ClipSpec, Cue, RenderedVideo, VideoFormat
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Stories, StoryEngines, StoryOptions
from storyloom.domain.tasks import (
    Task,
    TaskClaim,
    TaskContext,
    TaskError,
    TaskFenced,
    TaskRunner,
    TaskState,
    TaskUpdate,
    new_worker_id,
)
from storyloom.domain.videos import StoryVideo, StoryVideos, VideoOptions
from storyloom.store.db import Database
from storyloom.store.procrastinate_dispatch import ProcrastinateDispatcher
from storyloom.store.stories import SqlStoryRepository
from storyloom.store.tasks import SqlTaskRepository
from storyloom.store.videos import SqlVideoRepository
from tests.support.fakes import (
    FakeIllustrator,
    FakeNarrator,
    InMemoryBlobStore,
    InMemoryMediaRepository,
    ScriptedTextEngine,
    TrustingInspector,
)
from tests.support.task_rows import take_over
from tests.support.waiting import wait_until

USER = "u1"


class HeldEncoder:
    """Renders instantly; with `held`, its first clip only once the test lets it end (`release`), then fails if
    `fail` is set."""

    name = "held"

    def __init__(self, *, held: bool = False) -> None:
        self.held = held
        self.fail = False
        self.waiting = False
        self.release = asyncio.Event()

    async def render_clip(self, clip: ClipSpec, fmt: VideoFormat) -> RenderedVideo:
        if self.held:
            self.held, self.waiting = False, True
            await self.release.wait()
            if self.fail:
                raise RuntimeError("the encoder fell over")
        return RenderedVideo(b"mp4", b"png", clip.duration_ms, fmt.width, fmt.height)

    async def join(self, clips: Sequence[bytes], fade_ms: int, fmt: VideoFormat) -> RenderedVideo:
        return RenderedVideo(b"joined", b"png", 1000 * len(clips), fmt.width, fmt.height)


class NoAligner:
    def sentences(self, text: str, wav: bytes) -> list[Cue]:
        return []


@dataclasses.dataclass
class Worker:
    """One worker's video service: its runner, its encoder, and media of its own (whose ids tell whose a clip is)."""

    runner: TaskRunner
    stories: Stories
    videos: StoryVideos
    encoder: HeldEncoder
    media: InMemoryMediaRepository


def worker(db: Database, *, shared_dispatch: bool, encoder: HeldEncoder | None = None) -> Worker:
    worker_id = new_worker_id()
    dispatcher = (ProcrastinateDispatcher(db, worker_name=worker_id, lease_seconds=3)
                  if shared_dispatch and not db.is_sqlite else None)  # SQLite: the in-process one
    runner = TaskRunner(SqlTaskRepository(db), worker_id=worker_id, dispatcher=dispatcher)
    media = InMemoryMediaRepository()
    library = MediaLibrary(media, InMemoryBlobStore(), TrustingInspector())
    stories = Stories(SqlStoryRepository(db), runner, library,
                      None,  # type: ignore[arg-type]  # no story here comes from a conversation
                      StoryEngines(ScriptedTextEngine(), FakeIllustrator(), FakeNarrator()), scene_concurrency=1)
    encoder = encoder or HeldEncoder()
    videos = StoryVideos(SqlVideoRepository(db), runner, stories, library, encoder, NoAligner())
    return Worker(runner, stories, videos, encoder, media)


async def filming(db: Database, old: Worker) -> tuple[Task, StoryVideo]:
    """A finished story, and the old worker's task filming it, its first clip being rendered (held): the task as it
    runs, and the video."""
    story_task = await old.stories.create(USER, requirements=StoryRequirements(setting="the moon"),
                                          options=StoryOptions(scene_count=2, skip_illustrations=True,
                                                               skip_narration=True))
    await old.runner.settled(USER, story_task.id)
    task = await old.videos.create(USER, str(story_task.params["story_id"]), VideoOptions(resolution="360p"))
    await wait_until(lambda: old.encoder.waiting, what="the old worker renders the first clip")
    running = await SqlTaskRepository(db).get(task.id)
    assert running is not None and running.state is TaskState.RUNNING and running.owner == old.runner.worker_id
    video = await old.videos.find(str(task.params["video_id"]))
    assert video is not None and (video.state, video.clips) == ("RENDERING", ())
    return running, video


async def test_a_superseded_attempt_is_refused_its_next_clip_write_and_the_new_attempts_video_stands(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="storyloom.domain.tasks")
    tasks, videos = SqlTaskRepository(db), SqlVideoRepository(db)
    old = worker(db, shared_dispatch=True, encoder=HeldEncoder(held=True))
    await old.runner.start()
    try:
        running, video = await filming(db, old)

        # Its worker is presumed dead: another takes the task over, and films the video under its own claim, as its
        # runner would run the handler.
        new = worker(db, shared_dispatch=False)
        taken, fence = await take_over(tasks, running, new.runner.worker_id)

        async def record(update: TaskUpdate) -> None:
            await tasks.append_event(running.id, update, taken.update_time, fence)

        await new.videos._render(TaskContext(taken, record=record, cancel_requested=lambda: False,
                                             claim=TaskClaim(running.id, fence)))
        filmed = await videos.get(video.id)
        assert filmed is not None and filmed.state == "READY" and len(filmed.clips) == 2
        assert all(i in new.media.items for i in (filmed.media_id, *(c.media_id for c in filmed.clips)))

        # The old worker was not dead: its clip is rendered, and storing it in the video is refused.
        old.encoder.release.set()
        await old.runner.settled(USER, running.id)
        assert any(i.purpose == "scene-clip" for i in old.media.items.values())  # it got as far as the clip's write
        assert "task no longer held: its write was refused" in caplog.text
        assert await videos.get(video.id) == filmed
        stored = await tasks.get(running.id)
        assert stored is not None and (stored.attempt, stored.owner) == (fence.attempt, fence.owner)
    finally:
        old.encoder.release.set()
        await old.runner.stop()


async def test_a_superseded_attempt_that_fails_does_not_fail_the_video_the_new_attempt_renders(db: Database) -> None:
    tasks, videos = SqlTaskRepository(db), SqlVideoRepository(db)
    old = worker(db, shared_dispatch=True, encoder=HeldEncoder(held=True))
    await old.runner.start()
    try:
        running, video = await filming(db, old)
        taken, _fence = await take_over(tasks, running, new_worker_id())

        old.encoder.fail = True
        old.encoder.release.set()  # the old attempt fails: the video's failure is not its to record any more
        await old.runner.settled(USER, running.id)
        assert await videos.get(video.id) == video
        stored = await tasks.get(running.id)
        assert stored is not None and (stored.state, stored.attempt) == (TaskState.RUNNING, taken.attempt)
    finally:
        old.encoder.release.set()
        await old.runner.stop()


async def test_the_end_hook_ends_the_video_only_under_a_claim_that_holds(db: Database) -> None:
    tasks, videos = SqlTaskRepository(db), SqlVideoRepository(db)
    old = worker(db, shared_dispatch=True, encoder=HeldEncoder(held=True))
    await old.runner.start()
    try:
        running, video = await filming(db, old)
        taken, fence = await take_over(tasks, running, new_worker_id())
        failed = TaskError("INTERNAL", "TASK_FAILED", "The task failed: RuntimeError.")
        stale = TaskClaim(running.id, dataclasses.replace(fence, owner=running.owner, attempt=running.attempt))

        with pytest.raises(TaskFenced):  # the old attempt's end, refused
            await old.videos._follow(running, TaskState.FAILED, failed, stale)
        assert await videos.get(video.id) == video

        await old.videos._follow(taken, TaskState.FAILED, failed, TaskClaim(running.id, fence))  # the current one's
        ended = await videos.get(video.id)
        assert ended is not None and ended.state == "FAILED"
    finally:
        old.encoder.release.set()
        await old.runner.stop()

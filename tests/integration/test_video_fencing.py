"""A video task's worker that lost the task while it still ran (presumed dead, the task resumed by another worker)
writes nothing more of the video: on the real task runner and video store (SQLite, and PostgreSQL with procrastinate's
dispatcher), with a fake encoder and per-worker in-memory media; what it rendered but could not store in the video
goes (there with the real media store, shared by the workers). The store's own fencing is tested in
tests/integration/store."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from storyloom.domain.media import MediaLibrary
from storyloom.domain.ports.video import ClipSpec, Cue, RenderedVideo, VideoFormat
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Stories, StoryEngines, StoryOptions
from storyloom.domain.tasks import (
    Task,
    TaskClaim,
    TaskError,
    TaskFenced,
    TaskRunner,
    TaskState,
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
from tests.support.shared_media import SharedMedia, shared_media
from tests.support.task_rows import take_over, taken_over
from tests.support.waiting import wait_until

USER = "u1"


# What the old worker's encoder makes (`HeldEncoder(mark=OLD)`): bytes no other worker's have, so blobs of their own.
OLD = b"old-"


class HeldEncoder:
    """Renders instantly; with `held`, its first clip only once the test lets it end (`release`), then fails if
    `fail` is set; with `held_join`, its join likewise. What it makes begins with `mark`."""

    name = "held"

    def __init__(self, *, held: bool = False, held_join: bool = False, mark: bytes = b"") -> None:
        self.held = held
        self.held_join = held_join
        self.mark = mark
        self.fail = False
        self.waiting = False
        self.release = asyncio.Event()

    async def render_clip(self, clip: ClipSpec, fmt: VideoFormat) -> RenderedVideo:
        if self.held:
            self.held = False
            await self._wait()
        return RenderedVideo(self.mark + b"mp4", self.mark + b"png", clip.duration_ms, fmt.width, fmt.height)

    async def join(self, clips: Sequence[bytes], fade_ms: int, fmt: VideoFormat) -> RenderedVideo:
        if self.held_join:
            self.held_join = False
            await self._wait()
        return RenderedVideo(self.mark + b"joined", self.mark + b"joined-png", 1000 * len(clips), fmt.width,
                             fmt.height)

    async def _wait(self) -> None:
        self.waiting = True
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the encoder fell over")


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


def worker(db: Database, *, shared_dispatch: bool, encoder: HeldEncoder | None = None,
           library: MediaLibrary | None = None) -> Worker:
    """A worker with media of its own in memory, or the `library` given (then its `media` stays empty)."""
    worker_id = new_worker_id()
    dispatcher = (ProcrastinateDispatcher(db, worker_name=worker_id, lease_seconds=3)
                  if shared_dispatch and not db.is_sqlite else None)  # SQLite: the in-process one
    runner = TaskRunner(SqlTaskRepository(db), worker_id=worker_id, dispatcher=dispatcher)
    media = InMemoryMediaRepository()
    library = library or MediaLibrary(media, InMemoryBlobStore(), TrustingInspector())
    stories = Stories(SqlStoryRepository(db), runner, library,
                      None,  # type: ignore[arg-type]  # no story here comes from a conversation
                      StoryEngines(ScriptedTextEngine(), FakeIllustrator(), FakeNarrator()), scene_concurrency=1)
    encoder = encoder or HeldEncoder()
    videos = StoryVideos(SqlVideoRepository(db), runner, stories, library, encoder, NoAligner())
    return Worker(runner, stories, videos, encoder, media)


SMALL = VideoOptions(resolution="360p")


async def filming(db: Database, old: Worker, options: VideoOptions = SMALL, clips: int = 0) -> tuple[Task, StoryVideo]:
    """A finished story of two scenes, and the old worker's task filming it, held in its encoder (its first clip, or
    its join) with `clips` clips stored: the task as it runs, and the video."""
    story_task = await old.stories.create(USER, requirements=StoryRequirements(setting="the moon"),
                                          options=StoryOptions(scene_count=2, skip_illustrations=True,
                                                               skip_narration=True))
    await old.runner.settled(USER, story_task.id)
    task = await old.videos.create(USER, str(story_task.params["story_id"]), options)
    await wait_until(lambda: old.encoder.waiting, what="the old worker renders")
    running = await SqlTaskRepository(db).get(task.id)
    assert running is not None and running.state is TaskState.RUNNING and running.owner == old.runner.worker_id
    video = await old.videos.find(str(task.params["video_id"]))
    assert video is not None and (video.state, len(video.clips)) == ("RENDERING", clips)
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
        ctx = await taken_over(tasks, running, new.runner.worker_id)
        await new.videos._render(ctx)
        filmed = await videos.get(video.id)
        assert filmed is not None and filmed.state == "READY" and len(filmed.clips) == 2
        assert all(i in new.media.items for i in (filmed.media_id, *(c.media_id for c in filmed.clips)))

        # The old worker was not dead: its clip is rendered, and storing it in the video is refused.
        old.encoder.release.set()
        await old.runner.settled(USER, running.id)
        assert "task no longer held: its write was refused" in caplog.text  # it got as far as the clip's write
        assert old.media.items == {}  # which, refused, took the clip and its poster with it
        assert await videos.get(video.id) == filmed
        stored = await tasks.get(running.id)
        assert stored is not None and (stored.attempt, stored.owner) == (ctx.claim.fence.attempt, ctx.claim.fence.owner)
    finally:
        old.encoder.release.set()
        await old.runner.stop()


async def superseded_attempt_refused(db: Database, old: Worker, media: SharedMedia, running: Task,
                                     video: StoryVideo, caplog: pytest.LogCaptureFixture) -> StoryVideo:
    """Another worker takes the task over and films the video; the old one is let go, and its write refused. Returns
    the video as the new attempt filmed it."""
    tasks, videos = SqlTaskRepository(db), SqlVideoRepository(db)
    new = worker(db, shared_dispatch=False, library=media.library)
    await new.videos._render(await taken_over(tasks, running, new.runner.worker_id))
    filmed = await videos.get(video.id)
    assert filmed is not None and filmed.state == "READY" and len(filmed.clips) == 2

    old.encoder.release.set()
    await old.runner.settled(USER, running.id)
    assert "task no longer held: its write was refused" in caplog.text
    assert await videos.get(video.id) == filmed
    return filmed


async def assert_only_the_media_of(media: SharedMedia, video: StoryVideo, gone: Sequence[bytes]) -> None:
    """The user's media are the video's (each blob still there), and the blobs of `gone` were removed."""
    ids = {i for i in (video.media_id, video.poster_id, video.captions_id) if i}
    ids |= {i for c in video.clips for i in (c.media_id, c.poster_id, c.captions_id) if i}
    left = await media.ids(USER)
    assert left == ids, left
    for item in (await media.library.get_many(USER, list(left))).values():
        assert media.blobs.path(item.sha256).exists(), item
    assert [data for data in gone if media.holds(data)] == []


async def test_the_clip_a_superseded_attempt_rendered_goes_with_its_poster_when_its_write_is_refused(
        db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="storyloom.domain.tasks")
    media = shared_media(db, tmp_path / "blobs")
    old = worker(db, shared_dispatch=True, encoder=HeldEncoder(held=True, mark=OLD), library=media.library)
    await old.runner.start()
    try:
        running, video = await filming(db, old)
        filmed = await superseded_attempt_refused(db, old, media, running, video, caplog)
        await assert_only_the_media_of(media, filmed, gone=[OLD + b"mp4", OLD + b"png"])  # its clip and poster
    finally:
        old.encoder.release.set()
        await old.runner.stop()


async def test_the_video_a_superseded_attempt_joined_goes_with_its_poster_and_captions_when_its_write_is_refused(
        db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="storyloom.domain.tasks")
    media = shared_media(db, tmp_path / "blobs")
    old = worker(db, shared_dispatch=True, encoder=HeldEncoder(held_join=True, mark=OLD), library=media.library)
    await old.runner.start()
    try:
        running, video = await filming(db, old, VideoOptions(resolution="360p", captions=True), clips=2)
        filmed = await superseded_attempt_refused(db, old, media, running, video, caplog)
        assert filmed.clips == video.clips  # the old attempt's clips, stored under its claim, stand
        assert filmed.captions_id  # (the same bytes as the old attempt's captions: one blob, which stays)
        await assert_only_the_media_of(media, filmed, gone=[OLD + b"joined", OLD + b"joined-png"])
    finally:
        old.encoder.release.set()
        await old.runner.stop()


async def test_a_story_deleted_elsewhere_while_its_video_renders_leaves_none_of_its_media(
        db: Database, tmp_path: Path) -> None:
    videos = SqlVideoRepository(db)
    media = shared_media(db, tmp_path / "blobs")
    # Not told of the deletion (no shared dispatcher to abort its job): it learns of it at its next write.
    old = worker(db, shared_dispatch=False, encoder=HeldEncoder(held=True, mark=OLD), library=media.library)
    await old.runner.start()
    try:
        running, video = await filming(db, old)
        await worker(db, shared_dispatch=False, library=media.library).stories.delete(USER, video.story_id)
        assert await videos.get(video.id) is None

        old.encoder.release.set()  # its clip is stored, and the video it belongs to is gone
        await old.runner.settled(USER, running.id)
        assert await media.ids(USER) == set()
        assert media.blob_count() == 0
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

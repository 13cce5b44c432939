"""Media a story or video task stored and never attached (the task killed or cancelled between the media's store and
the write that puts them in its story or video) are deleted, rows and blobs, by the sweep run with the tasks' clean-up
once their task has ended; media a running task made, attached media and uploads never are. On the real task runner,
story, video and media stores (SQLite and PostgreSQL) with fake engines; the kill is a runner stopped as a crash
leaves it, its task resumed by the next worker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from storyloom.domain.ports.story import Narration
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Scene, Stories, Story, StoryEngines, StoryOptions
from storyloom.domain.tasks import Task, TaskClaim, TaskRunner, TaskState, new_worker_id
from storyloom.domain.videos import StoryVideos, VideoOptions
from storyloom.store.db import Database
from storyloom.store.procrastinate_dispatch import ProcrastinateDispatcher
from storyloom.store.stories import SqlStoryRepository
from storyloom.store.tasks import SqlTaskRepository
from storyloom.store.videos import SqlVideoRepository
from tests.integration.test_video_fencing import HeldEncoder, NoAligner
from tests.support.fakes import FakeIllustrator, FakeNarrator, ScriptedTextEngine
from tests.support.media import png_bytes, wav_bytes
from tests.support.shared_media import SharedMedia, shared_media
from tests.support.waiting import read_until

USER = "u1"
# What the first attempt's narrator reads: bytes no other narration has, so a blob of their own.
FIRST_WAV = wav_bytes(0.2)


class OwnNarrator(FakeNarrator):
    """Narrates as FakeNarrator does, in `wav`."""

    def __init__(self, wav: bytes) -> None:
        super().__init__()
        self.wav = wav

    async def narrate(self, text: str, *, voice: str = "", words_per_minute: float = 0.0,
                      priority: int = 0) -> Narration:
        await super().narrate(text, voice=voice, words_per_minute=words_per_minute, priority=priority)
        return Narration(self.wav, 16000, 0.2)


class HeldAttaching(SqlStoryRepository):
    """The story store, whose first scene write that attaches media waits (`held` set once it does) until the test
    lets it go on (`release`): the media are stored, the write that would refer to them not yet made."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self._holding = True

    async def put_scene(self, story_id: str, scene: Scene, *, claim: TaskClaim | None = None,
                        attach: Sequence[str] = ()) -> None:
        if attach and self._holding:
            self._holding = False
            self.held.set()
            await self.release.wait()
        await super().put_scene(story_id, scene, claim=claim, attach=attach)


@dataclasses.dataclass
class Worker:
    runner: TaskRunner
    stories: Stories
    scenes: HeldAttaching


def worker(db: Database, media: SharedMedia, narrator: FakeNarrator | None = None, *,
           shared_dispatch: bool = False, sweeping: bool = False) -> Worker:
    """A story worker on the shared media; `sweeping`: its task runner's clean-up (each second) sweeps them, as the
    server's does (app.py), else the test sweeps."""
    worker_id = new_worker_id()
    dispatcher = (ProcrastinateDispatcher(db, worker_name=worker_id, lease_seconds=3)
                  if shared_dispatch and not db.is_sqlite else None)  # SQLite: the in-process one
    runner = TaskRunner(SqlTaskRepository(db), worker_id=worker_id, dispatcher=dispatcher, cleanup_interval=1)
    if sweeping:
        runner.on_clean_up(media.library.sweep_unattached)
    scenes = HeldAttaching(db)
    stories = Stories(scenes, runner, media.library, None,  # type: ignore[arg-type]  # no conversation here
                      StoryEngines(ScriptedTextEngine(), FakeIllustrator(), narrator or FakeNarrator()),
                      scene_concurrency=1)
    return Worker(runner, stories, scenes)


async def narrated_story_held(db: Database, w: Worker, media: SharedMedia) -> tuple[Task, str]:
    """A story of one unillustrated scene, its task held after storing the narration, before the scene's write that
    attaches it: the task as it runs, and the narration's id (the user's only media)."""
    task = await w.stories.create(USER, requirements=StoryRequirements(setting="the moon"),
                                  options=StoryOptions(scene_count=1, skip_illustrations=True))
    await asyncio.wait_for(w.scenes.held.wait(), 60)
    running = await SqlTaskRepository(db).get(task.id)
    assert running is not None and running.state is TaskState.RUNNING
    [narration] = await media.ids(USER)
    return running, narration


async def story_when(db: Database, story_id: str, state: str) -> Story:
    return await read_until(lambda: SqlStoryRepository(db).get(story_id), lambda s: s.state == state,
                            what=f"the story is {state}")


async def held_now(media: SharedMedia, data: bytes) -> tuple[set[str], bool]:
    """The user's media ids, and whether the blob of `data` is on disk: what a sweep running beside changes (the row
    first, the blob just after)."""
    return await media.ids(USER), media.holds(data)


async def test_media_a_cancelled_story_task_stored_but_never_attached_are_swept_rows_and_blobs(
        db: Database, tmp_path: Path) -> None:
    media = shared_media(db, tmp_path / "blobs")
    w = worker(db, media, OwnNarrator(FIRST_WAV))
    await w.runner.start()
    try:
        running, narration = await narrated_story_held(db, w, media)
        assert media.holds(FIRST_WAV)
        assert await media.library.sweep_unattached() == 0  # its task runs: it may still attach them

        await w.runner.cancel(USER, running.id)  # cancelled between the store and the attaching write
        await story_when(db, str(running.params["story_id"]), "CANCELLED")
        assert await media.ids(USER) == {narration}  # left unattached

        assert await media.library.sweep_unattached() == 1
        assert await media.ids(USER) == set()
        assert not media.holds(FIRST_WAV) and media.blob_count() == 0
    finally:
        w.scenes.release.set()
        await w.runner.stop()


async def test_a_killed_attempts_media_wait_while_its_task_resumes_and_go_once_it_ended_the_new_ones_stay(
        db: Database, tmp_path: Path) -> None:
    media = shared_media(db, tmp_path / "blobs")
    first = worker(db, media, OwnNarrator(FIRST_WAV), sweeping=True)
    await first.runner.start()
    try:
        running, dead_attempts = await narrated_story_held(db, first, media)
    finally:
        await first.runner.stop()  # killed: the task stays RUNNING under the dead worker, the narration unattached
    story_id = str(running.params["story_id"])

    # The next worker resumes the task; held before its own narration's write, both attempts' media are there.
    second = worker(db, media, OwnNarrator(wav_bytes(0.3)), sweeping=True)
    await second.runner.start()
    try:
        await asyncio.wait_for(second.scenes.held.wait(), 60)
        resumed = await SqlTaskRepository(db).get(running.id)
        assert resumed is not None and resumed.state is TaskState.RUNNING and resumed.attempt > running.attempt
        assert await media.library.sweep_unattached() == 0  # the task runs again: neither goes
        own = await media.ids(USER) - {dead_attempts}
        assert len(own) == 1

        second.scenes.release.set()
        story = await story_when(db, story_id, "READY")
        assert [s.narration_id for s in story.scenes] == list(own)  # made its own, used nothing of the dead one's

        # Its task ended: the clean-up (at start on SQLite, each second here) takes the dead attempt's narration.
        # (The sweep runs beside: the blob goes just after the row.)
        await read_until(lambda: held_now(media, FIRST_WAV), lambda found: found == (own, False),
                         what="the dead attempt's media and blob went")
        assert media.holds(wav_bytes(0.3))
        assert await media.library.sweep_unattached() == 0
    finally:
        second.scenes.release.set()
        await second.runner.stop()


async def test_attached_media_and_uploads_are_never_swept(db: Database, tmp_path: Path) -> None:
    media = shared_media(db, tmp_path / "blobs")
    w = worker(db, media)
    w.scenes.release.set()  # nothing held
    await w.runner.start()
    try:
        task = await w.stories.create(USER, requirements=StoryRequirements(setting="the sea"),
                                      options=StoryOptions(scene_count=2))
        await w.runner.settled(USER, task.id)
        story = await story_when(db, str(task.params["story_id"]), "READY")
        upload = await media.library.store(USER, png_bytes(8, 8, seed=7), "image/png")  # a user's, attached to nothing
        kept = await media.ids(USER)
        attached = {i for s in story.scenes for i in (s.picture_id, s.narration_id)}
        assert attached <= kept and upload.id in kept and len(attached) == 4

        assert await media.library.sweep_unattached() == 0
        await SqlTaskRepository(db).delete(task.id)  # even once the task that made them is gone
        assert await media.library.sweep_unattached() == 0
        assert await media.ids(USER) == kept
        for item in (await media.library.get_many(USER, list(kept))).values():
            assert media.blobs.path(item.sha256).exists(), item
    finally:
        await w.runner.stop()


async def test_the_periodic_clean_up_sweeps_on_the_shared_dispatcher_too(db: Database, tmp_path: Path) -> None:
    media = shared_media(db, tmp_path / "blobs")
    w = worker(db, media, OwnNarrator(FIRST_WAV), shared_dispatch=True, sweeping=True)
    await w.runner.start()
    try:
        running, _narration = await narrated_story_held(db, w, media)
        await w.runner.cancel(USER, running.id)
        await read_until(lambda: held_now(media, FIRST_WAV), lambda found: found == (set(), False),
                         what="the clean-up swept the narration and its blob")
    finally:
        w.scenes.release.set()
        await w.runner.stop()


class HeldClips(SqlVideoRepository):
    """The video store, whose first write that attaches a clip (with `join`: the joined video) waits (`held`) until
    the test lets it (`release`)."""

    def __init__(self, db: Database, *, join: bool = False) -> None:
        super().__init__(db)
        self.join = join
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def update(self, video_id: str, *, claim: TaskClaim | None = None, attach: Sequence[str] = (),
                     **fields: Any) -> None:
        if attach and ("media_id" in fields) == self.join and not self.release.is_set():
            self.held.set()
            await self.release.wait()
        await super().update(video_id, claim=claim, attach=attach, **fields)


@dataclasses.dataclass
class HeldVideo:
    """A story's video task held before the write attaching its first clip (with `join`: its joined video)."""

    media: SharedMedia
    worker: Worker
    store: HeldClips
    videos: StoryVideos
    story_media: set[str]  # the story's own media, there before the video task
    task: Task


@contextlib.asynccontextmanager
async def video_held(db: Database, tmp_path: Path, *, scene_count: int, join: bool = False
                     ) -> AsyncIterator[HeldVideo]:
    """A finished story of `scene_count` unillustrated scenes, then its video task, held (`HeldClips`) with the
    held media stored; the worker stopped at the end."""
    media = shared_media(db, tmp_path / "blobs")
    w = worker(db, media)
    w.scenes.release.set()
    store = HeldClips(db, join=join)
    videos = StoryVideos(store, w.runner, w.stories, media.library, HeldEncoder(mark=b"first-"), NoAligner())
    await w.runner.start()
    try:
        story_task = await w.stories.create(USER, requirements=StoryRequirements(setting="the moon"),
                                            options=StoryOptions(scene_count=scene_count, skip_illustrations=True))
        await w.runner.settled(USER, story_task.id)
        story_media = await media.ids(USER)
        task = await videos.create(USER, str(story_task.params["story_id"]), VideoOptions(resolution="360p"))
        await asyncio.wait_for(store.held.wait(), 60)
        yield HeldVideo(media, w, store, videos, story_media, task)
    finally:
        store.release.set()
        await w.runner.stop()


async def test_a_clip_a_cancelled_video_task_stored_but_never_attached_goes_with_its_poster(
        db: Database, tmp_path: Path) -> None:
    async with video_held(db, tmp_path, scene_count=2) as held:
        media, story_media = held.media, held.story_media
        made = await media.ids(USER) - story_media
        assert len(made) == 2 and media.holds(b"first-mp4") and media.holds(b"first-png")  # the clip, its poster
        assert await media.library.sweep_unattached() == 0

        await held.worker.runner.cancel(USER, held.task.id)
        assert await media.ids(USER) == story_media | made
        assert await media.library.sweep_unattached() == 1  # the clip, and its poster with it
        assert await media.ids(USER) == story_media
        assert not media.holds(b"first-mp4") and not media.holds(b"first-png")


async def test_a_joined_video_a_cancelled_task_stored_but_never_attached_goes_its_clips_stay(
        db: Database, tmp_path: Path) -> None:
    async with video_held(db, tmp_path, scene_count=1, join=True) as held:
        media, story_media = held.media, held.story_media
        video = await held.videos.find(str(held.task.params["video_id"]))
        assert video is not None and len(video.clips) == 1
        clip = {video.clips[0].media_id, video.clips[0].poster_id}
        joined = await media.ids(USER) - story_media - clip
        assert len(joined) == 2 and media.holds(b"first-joined")  # the joined video and its poster

        await held.worker.runner.cancel(USER, held.task.id)
        assert await media.library.sweep_unattached() == 1
        assert await media.ids(USER) == story_media | clip  # the attached clip stays
        assert not media.holds(b"first-joined") and not media.holds(b"first-joined-png")
        assert media.holds(b"first-mp4")

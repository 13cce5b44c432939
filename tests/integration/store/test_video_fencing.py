"""A video's writes made by its task are fenced by the task's claim, on SQLite and PostgreSQL: a worker that lost the
task (it was resumed by another at a newer attempt, or it ended) is refused with TaskFenced and changes nothing; the
current attempt's writes land; writes from outside the task are not fenced."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
import pytest_asyncio

from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Story, StoryOptions
from storyloom.domain.task_types import NewTask
from storyloom.domain.tasks import Task, TaskClaim, TaskEvent, TaskFence, TaskFenced, TaskState, TaskUpdate
from storyloom.domain.videos import VIDEO_KIND, SceneClip, StoryVideo, VideoOptions
from storyloom.store.db import Database
from storyloom.store.stories import SqlStoryRepository
from storyloom.store.tasks import SqlTaskRepository
from storyloom.store.videos import SqlVideoRepository
from tests.support.task_rows import claim_next, resume_elsewhere

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=1)


def claim_of(task: Task) -> TaskClaim:
    """The claim a runner's attempt holds (`TaskRunner._claim_fence`)."""
    assert task.owner is not None
    return TaskClaim(task.id, TaskFence(states=(TaskState.RUNNING,), owner=task.owner, attempt=task.attempt))


def clip(index: int, media_id: str) -> SceneClip:
    return SceneClip(scene_index=index, media_id=media_id, duration_ms=4000, poster_id=f"{media_id}-poster")


@dataclasses.dataclass
class Stored:
    videos: SqlVideoRepository
    tasks: SqlTaskRepository
    stories: SqlStoryRepository
    story_id: str
    video_id: str
    task_id: str

    async def claim(self, owner: str) -> Task:
        return await claim_next(self.tasks, self.task_id, owner, NOW)

    async def resume_elsewhere(self, task: Task, owner: str) -> Task:
        return await resume_elsewhere(self.tasks, task, owner, NOW)

    async def video(self) -> StoryVideo:
        found = await self.videos.get(self.video_id)
        assert found is not None
        return found


@pytest_asyncio.fixture
async def stored(db: Database) -> Stored:
    """A finished story, and a video of it RENDERING with its PENDING task, as CreateStoryVideo stores them."""
    stories, tasks, videos = SqlStoryRepository(db), SqlTaskRepository(db), SqlVideoRepository(db)
    story_id, story_task_id, video_id, task_id = (uuid.uuid4().hex for _ in range(4))
    story_task = Task(id=story_task_id, user_id="u1", kind="story.create", state=TaskState.SUCCEEDED,
                      create_time=NOW, update_time=NOW, target=f"users/u1/stories/{story_id}",
                      params={"story_id": story_id}, last_sequence=1)
    await stories.create(Story(
        id=story_id, user_id="u1", state="READY", requirements=StoryRequirements(setting="the moon"),
        options=StoryOptions(scene_count=2), create_time=NOW, update_time=NOW, task_id=story_task_id,
        fingerprint="f" * 64), "", NewTask(story_task, TaskEvent(story_task_id, 1, NOW, TaskState.SUCCEEDED, "",
                                                                 100, "Done.")))
    video = StoryVideo(id=video_id, user_id="u1", story_id=story_id, state="RENDERING", options=VideoOptions(),
                       create_time=NOW, update_time=NOW, task_id=task_id)
    await videos.create(video, "")
    task = Task(id=task_id, user_id="u1", kind=VIDEO_KIND, state=TaskState.PENDING, create_time=NOW,
                update_time=NOW, target=video.name, params={"video_id": video_id}, last_sequence=1)
    await tasks.create(task, TaskEvent(task_id, 1, NOW, TaskState.PENDING, "", 0, "Waiting to start filming."))
    return Stored(videos, tasks, stories, story_id, video_id, task_id)


async def test_the_current_attempts_writes_land(stored: Stored) -> None:
    claim = claim_of(await stored.claim("w1"))
    await stored.videos.update(stored.video_id, claim=claim, clips=[clip(0, "c0")], update_time=LATER)
    await stored.videos.update(stored.video_id, claim=claim, clips=[clip(0, "c0"), clip(1, "c1")], update_time=LATER)
    await stored.videos.update(stored.video_id, claim=claim, state="READY", media_id="joined", poster_id="poster",
                               duration_ms=9000, update_time=LATER)

    video = await stored.video()
    assert video.clips == (clip(0, "c0"), clip(1, "c1"))
    assert (video.state, video.media_id, video.poster_id, video.duration_ms, video.update_time) == (
        "READY", "joined", "poster", 9000, LATER)


async def test_a_worker_whose_task_was_resumed_elsewhere_can_no_longer_write_the_video(stored: Stored) -> None:
    first = await stored.claim("w1")
    await stored.videos.update(stored.video_id, claim=claim_of(first), clips=[clip(0, "old-0")], update_time=NOW)
    second = await stored.resume_elsewhere(first, "w2")
    assert second.attempt == first.attempt + 1
    await stored.videos.update(stored.video_id, claim=claim_of(second), clips=[clip(0, "old-0"), clip(1, "new-1")],
                               update_time=NOW)
    before = await stored.video()

    stale = claim_of(first)
    with pytest.raises(TaskFenced):  # a clip it rendered meanwhile
        await stored.videos.update(stored.video_id, claim=stale, clips=[clip(0, "old-0"), clip(1, "stale-1")],
                                   update_time=LATER)
    with pytest.raises(TaskFenced):  # its joined video
        await stored.videos.update(stored.video_id, claim=stale, state="READY", media_id="stale", update_time=LATER)
    with pytest.raises(TaskFenced):  # its failure
        await stored.videos.update(stored.video_id, claim=stale, state="FAILED", update_time=LATER)
    assert await stored.video() == before

    await stored.videos.update(stored.video_id, claim=claim_of(second), state="READY", media_id="new",
                               update_time=LATER)  # still its own
    video = await stored.video()
    assert (video.state, video.media_id, [c.media_id for c in video.clips]) == ("READY", "new", ["old-0", "new-1"])


@pytest.mark.parametrize("end", [TaskState.SUCCEEDED, TaskState.CANCELLED])
async def test_once_the_task_ended_its_claim_writes_nothing_and_writes_outside_the_task_still_land(
        stored: Stored, end: TaskState) -> None:
    task = await stored.claim("w1")
    await stored.tasks.append_event(task.id, TaskUpdate(state=end, end_time=NOW), NOW)  # e.g. cancelled elsewhere
    with pytest.raises(TaskFenced):
        await stored.videos.update(stored.video_id, claim=claim_of(task), clips=[clip(0, "late")], update_time=LATER)
    with pytest.raises(TaskFenced):
        await stored.videos.update(stored.video_id, claim=claim_of(task), state="FAILED", update_time=LATER)
    video = await stored.video()
    assert (video.state, video.clips, video.update_time) == ("RENDERING", (), NOW)

    # A write from outside the task (an end already recorded, told to the end hook) is not fenced.
    await stored.videos.update(stored.video_id, state="CANCELLED", update_time=LATER)
    assert (await stored.video()).state == "CANCELLED"


async def test_a_missing_video_is_a_lookup_error_not_a_fenced_write(stored: Stored) -> None:
    claim = claim_of(await stored.claim("w1"))
    await stored.videos.delete_for_story(stored.story_id)
    with pytest.raises(LookupError):
        await stored.videos.update(stored.video_id, claim=claim, state="READY")
    with pytest.raises(LookupError):
        await stored.videos.update(stored.video_id, state="CANCELLED")

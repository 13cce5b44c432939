"""A story's server process SIGKILLed right after the task stored a picture or narration, before the write that puts it
in the story: after a restart the story finishes with media of its own, and what the dead attempt stored (row and
blob) goes with the clean-up once the task has ended, here at the next start."""

from __future__ import annotations

import signal
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from storyloom.store.blobs import FileBlobStore
from storyloom.store.db import Database
from storyloom.store.models import MediaRow
from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2 as pb
from storyloom.v1 import story_pb2_grpc, task_pb2, task_pb2_grpc
from tests.support.server import caller_in_data_dir, settings_for_tests
from tests.support.server_process import ServerProcess
from tests.support.waiting import read_until

ENV = {"STORYLOOM_TEXT_ENGINE": "offline", "STORYLOOM_VOICE_WARM_UP": "0"}


@pytest.fixture
def processes(tmp_path: Path):
    made: list[ServerProcess] = []

    def process(**env: str) -> ServerProcess:
        made.append(ServerProcess(tmp_path / "data", tmp_path / "server.log", env={**ENV, **env}))
        return made[-1]

    yield process
    for server in made:
        server.kill()


async def media_rows(data_dir: Path) -> dict[str, tuple[str, str | None, str | None]]:
    """Every media row: id -> (sha256, parent, task that stored it and has not attached it)."""
    db = Database(settings_for_tests(data_dir).resolved_database_url)
    try:
        async with db.begin() as session:
            rows = await session.execute(select(MediaRow.id, MediaRow.sha256, MediaRow.parent_id,
                                                MediaRow.made_by_task))
            return {r.id: (r.sha256, r.parent_id, r.made_by_task) for r in rows}
    finally:
        await db.close()


async def test_media_a_story_task_stored_when_killed_before_attaching_them_go_once_the_story_is_done(processes):
    faulty = processes(STORYLOOM_FAULT_POINT="media.stored_by_task")
    data_dir = faulty.data_dir
    caller = await caller_in_data_dir(data_dir)
    faulty.start()
    async with grpc.aio.insecure_channel(faulty.address) as channel:
        task = await story_pb2_grpc.StoryServiceStub(channel).CreateStory(pb.CreateStoryRequest(
            parent="users/me", scene_count=2, requirements=req.StoryRequirements(setting="the moon")),
            metadata=caller.metadata)
    assert faulty.proc is not None and faulty.proc.wait(timeout=120) == -signal.SIGKILL  # at its first media
    [(dead_id, (sha256, _parent, made_by))] = list((await media_rows(data_dir)).items())
    assert made_by == task.name.removeprefix("tasks/")
    blobs = FileBlobStore(data_dir / "blobs")
    assert blobs.path(sha256).exists()

    server = processes()
    server.start()
    async with grpc.aio.insecure_channel(server.address) as channel:
        tasks, stories = task_pb2_grpc.TaskServiceStub(channel), story_pb2_grpc.StoryServiceStub(channel)
        events = [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name),
                                                    metadata=caller.metadata)]
        story = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED and story.state == pb.STORY_STATE_READY
    used = {m.removeprefix("media/") for s in story.scenes for m in (s.picture.name, s.narration.name)}
    assert len(used) == 4 and dead_id not in used  # the resumed attempt made its own
    rows = await media_rows(data_dir)
    assert dead_id in rows and all(rows[i][2] is None for i in used)  # left while its task ran; the used attached
    assert server.signal(signal.SIGTERM) == 0

    server.start()  # the clean-up runs at the start (and every minute): the task has ended
    rows = await read_until(lambda: media_rows(data_dir), lambda found: dead_id not in found,
                            what="the dead attempt's media went")
    assert {i for i, (_sha, parent, _task) in rows.items() if parent is None} == used
    # Its blob went too, unless the new attempt made the very same bytes (the offline painter may): then it is theirs.
    assert blobs.path(sha256).exists() == (sha256 in {sha for sha, _parent, _task in rows.values()})

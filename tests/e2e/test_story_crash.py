"""A story whose server process is SIGKILLed mid-way: after a restart it finishes, and nothing
finished before the kill is made again."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2 as pb
from storyloom.v1 import story_pb2_grpc, task_pb2, task_pb2_grpc
from tests.support.server import caller_in_data_dir
from tests.support.server_process import ServerProcess
from tests.support.stories import scene_of, without_bundle_renditions


@pytest.fixture
def process(tmp_path: Path):
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log",
                           env={"STORYLOOM_TEXT_ENGINE": "offline", "STORYLOOM_VOICE_WARM_UP": "0"})
    yield server
    server.kill()


async def test_a_story_killed_mid_narration_finishes_after_restart_without_redoing_finished_work(process):
    caller = await caller_in_data_dir(process.data_dir)
    process.start()
    async with grpc.aio.insecure_channel(process.address) as channel:
        stories, tasks = story_pb2_grpc.StoryServiceStub(channel), task_pb2_grpc.TaskServiceStub(channel)
        task = await stories.CreateStory(pb.CreateStoryRequest(
            parent="users/me", scene_count=4, requirements=req.StoryRequirements(
                characters=[req.Character(name="Milo", description="a curious robot")], setting="the moon")),
            metadata=caller.metadata)
        seen: list[task_pb2.TaskEvent] = []
        async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata):
            seen.append(event)
            if event.type == task_pb2.TASK_EVENT_TYPE_SCENE_READY:  # one scene is finished, the rest are not
                break
        before = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    process.kill()  # SIGKILL: no clean-up at all
    finished = {s.index: s for s in before.scenes
                if (s.picture_state, s.narration_state) == (pb.ASSET_STATE_READY, pb.ASSET_STATE_READY)}
    announced = scene_of(seen[-1])
    assert before.state == pb.STORY_STATE_GENERATING
    assert without_bundle_renditions(announced) == without_bundle_renditions(finished[announced.index])
    assert len(finished) < 4

    process.start()
    async with grpc.aio.insecure_channel(process.address) as channel:
        stories, tasks = story_pb2_grpc.StoryServiceStub(channel), task_pb2_grpc.TaskServiceStub(channel)
        rest = [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(
            name=task.name, after_sequence=seen[-1].sequence), metadata=caller.metadata)]
        log = [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata)]
        after = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
        resumed = await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)

    assert rest[-1].state == task_pb2.TASK_STATE_SUCCEEDED and resumed.attempt == 2
    assert [e.sequence for e in log] == list(range(1, len(log) + 1))
    assert [e.percent for e in log] == sorted(e.percent for e in log)
    assert after.state == pb.STORY_STATE_READY
    assert all(s.narration_state == pb.ASSET_STATE_READY for s in after.scenes)
    # The scenes finished before the kill are the very same afterwards (text, picture, narration: same media; the
    # renditions for bundles, made after a scene is out, may be completed), and nothing of them was made again: no
    # step of theirs after the restart, and each scene announced exactly once.
    for index, scene in finished.items():
        assert without_bundle_renditions(after.scenes[index]) == without_bundle_renditions(scene)
        assert not [e for e in rest if e.message in (f"Painting scene {index + 1}.",
                                                     f"Reading scene {index + 1} aloud.")]
    ready = [scene_of(e).index for e in log if e.type == task_pb2.TASK_EVENT_TYPE_SCENE_READY]
    assert sorted(ready) == [0, 1, 2, 3]
    # The stages before the scenes (premise, outline) were not started again.
    assert {e.stage for e in rest if e.stage} <= {"scenes", "illustrations", "narration", "scene_ready", "done"}

"""A story video whose server process is SIGKILLed after its first clip: after a restart it finishes from the clips
already rendered, and the first is not rendered again."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2 as pb
from storyloom.v1 import story_pb2_grpc, task_pb2, task_pb2_grpc, video_pb2
from tests.support.server import caller_in_data_dir
from tests.support.server_process import ServerProcess


@pytest.fixture
def process(tmp_path: Path):
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log",
                           env={"STORYLOOM_TEXT_ENGINE": "offline", "STORYLOOM_VOICE_WARM_UP": "0"})
    yield server
    server.kill()


async def test_a_video_killed_after_its_first_clip_resumes_from_the_clips_already_rendered(process):
    caller = await caller_in_data_dir(process.data_dir)
    process.start()
    async with grpc.aio.insecure_channel(process.address) as channel:
        stories, tasks = story_pb2_grpc.StoryServiceStub(channel), task_pb2_grpc.TaskServiceStub(channel)
        story_task = await stories.CreateStory(pb.CreateStoryRequest(
            parent="users/me", scene_count=3, requirements=req.StoryRequirements(setting="a snowy wood")),
            metadata=caller.metadata)
        async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=story_task.name), metadata=caller.metadata):
            last = event
        assert last.state == task_pb2.TASK_STATE_SUCCEEDED
        task = await stories.CreateStoryVideo(pb.CreateStoryVideoRequest(
            parent=story_task.target, options=video_pb2.StoryVideoOptions(
                resolution=video_pb2.VIDEO_RESOLUTION_360P, captions=True)), metadata=caller.metadata)
        seen: list[task_pb2.TaskEvent] = []
        async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata):
            seen.append(event)
            if event.message.startswith("Filming scene 2"):  # scene 1's clip is stored, the rest is not
                break
        before = await stories.GetStoryVideo(pb.GetStoryVideoRequest(name=task.target), metadata=caller.metadata)
    process.kill()  # SIGKILL: no clean-up at all
    assert before.state == video_pb2.STORY_VIDEO_STATE_RENDERING and len(before.clips) == 1

    process.start()
    async with grpc.aio.insecure_channel(process.address) as channel:
        stories, tasks = story_pb2_grpc.StoryServiceStub(channel), task_pb2_grpc.TaskServiceStub(channel)
        rest = [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(
            name=task.name, after_sequence=seen[-1].sequence), metadata=caller.metadata)]
        after = await stories.GetStoryVideo(pb.GetStoryVideoRequest(name=task.target), metadata=caller.metadata)
        resumed = await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)

    assert rest[-1].state == task_pb2.TASK_STATE_SUCCEEDED and resumed.attempt == 2
    assert after.state == video_pb2.STORY_VIDEO_STATE_READY and after.video and len(after.clips) == 3
    # The clip finished before the kill is the very same media afterwards, and was not filmed again.
    assert after.clips[0].clip == before.clips[0].clip
    filmed_after_restart = [e.message for e in rest if e.message.startswith("Filming")]
    assert filmed_after_restart == ["Filming scene 2 of 3.", "Filming scene 3 of 3."]
    assert [e.percent for e in seen + rest] == sorted(e.percent for e in seen + rest)

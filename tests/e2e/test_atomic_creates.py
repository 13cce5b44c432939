"""Creates that cannot orphan: a story (or a message) and its task are one transaction. A server SIGKILLed between
the story row and its task (a fault point) leaves neither; the retry with the same request_id makes both, and gets
the same story ever after. Stories follow their task to the end, and a whole-database check finds nothing a kill
left half-made. On SQLite and PostgreSQL alike, with the server as a real process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from storyloom.v1 import conversation_pb2, conversation_pb2_grpc, story_pb2, story_pb2_grpc, task_pb2, task_pb2_grpc
from storyloom.v1 import requirements_pb2 as req
from tests.conftest import Caller
from tests.support import consistency
from tests.support.server import caller_in_database
from tests.support.server_process import ServerProcess

OFFLINE = {"STORYLOOM_TEXT_ENGINE": "offline", "STORYLOOM_VOICE_WARM_UP": "0"}
REQUIREMENTS = req.StoryRequirements(characters=[req.Character(name="Milo", description="a curious robot")],
                                     setting="the moon")


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The database URL the server uses, and its environment (SQLite in the data dir, or PostgreSQL)."""
    data_dir = tmp_path / "data"
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{data_dir / 'storyloom.db'}", dict(OFFLINE)
    else:
        yield database_url, {**OFFLINE, "STORYLOOM_DATABASE_URL": database_url,
                             "STORYLOOM_SECRET": f"test-{uuid.uuid4().hex}"}


def server(tmp_path: Path, env: dict[str, str], **more: str) -> ServerProcess:
    return ServerProcess(tmp_path / "data", tmp_path / "server.log", env={**env, **more})


async def watch_to_end(channel: grpc.aio.Channel, caller: Caller, name: str) -> list[task_pb2.TaskEvent]:
    stub = task_pb2_grpc.TaskServiceStub(channel)
    return [e async for e in stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata)]


async def test_a_kill_between_the_story_and_its_task_leaves_neither_and_the_retry_makes_both(tmp_path, deployment):
    url, env = deployment
    caller = await caller_in_database(url)
    request = story_pb2.CreateStoryRequest(parent="users/me", scene_count=2, requirements=REQUIREMENTS,
                                           request_id=str(uuid.uuid4()), skip_narration=True)
    faulty = server(tmp_path, env, STORYLOOM_FAULT_POINT="story.create")
    faulty.start()
    try:
        async with grpc.aio.insecure_channel(faulty.address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as died:
                await story_pb2_grpc.StoryServiceStub(channel).CreateStory(request, metadata=caller.metadata)
        assert died.value.code() == grpc.StatusCode.UNAVAILABLE
        assert faulty.proc is not None and faulty.proc.wait(timeout=20) == -9  # killed at the fault point
    finally:
        faulty.kill()
    assert await consistency.problems(url) == []

    healthy = server(tmp_path, env)
    healthy.start()
    try:
        async with grpc.aio.insecure_channel(healthy.address) as channel:
            stories = story_pb2_grpc.StoryServiceStub(channel)
            task = await stories.CreateStory(request, metadata=caller.metadata)
            again = await stories.CreateStory(request, metadata=caller.metadata)
            events = await watch_to_end(channel, caller, task.name)
            story = await stories.GetStory(story_pb2.GetStoryRequest(name=task.target), metadata=caller.metadata)
            listed = await stories.ListStories(story_pb2.ListStoriesRequest(parent="users/me"),
                                               metadata=caller.metadata)
            retried = await stories.CreateStory(request, metadata=caller.metadata)
    finally:
        healthy.kill()

    assert again.name == task.name and retried.name == task.name
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    assert story.state == story_pb2.STORY_STATE_READY and len(story.scenes) == 2
    assert [s.name for s in listed.stories] == [task.target]  # the killed attempt left no story behind
    assert await consistency.problems(url) == []


async def test_a_kill_between_the_message_and_its_task_leaves_neither_and_the_retry_is_answered(tmp_path,
                                                                                                   deployment):
    url, env = deployment
    caller = await caller_in_database(url)
    faulty = server(tmp_path, env, STORYLOOM_FAULT_POINT="message.create")
    faulty.start()
    try:
        async with grpc.aio.insecure_channel(faulty.address) as channel:
            chats = conversation_pb2_grpc.ConversationServiceStub(channel)
            conversation = await chats.CreateConversation(conversation_pb2.CreateConversationRequest(
                parent="users/me"), metadata=caller.metadata)
            request = conversation_pb2.SendMessageRequest(conversation=conversation.name, text="A dragon story!",
                                                          request_id=str(uuid.uuid4()))
            with pytest.raises(grpc.aio.AioRpcError) as died:
                [e async for e in chats.SendMessage(request, metadata=caller.metadata)]
        assert died.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        faulty.kill()

    healthy = server(tmp_path, env)
    healthy.start()
    try:
        async with grpc.aio.insecure_channel(healthy.address) as channel:
            chats = conversation_pb2_grpc.ConversationServiceStub(channel)
            events = [e async for e in chats.SendMessage(request, metadata=caller.metadata)]
            replayed = [e async for e in chats.SendMessage(request, metadata=caller.metadata)]
            reply = events[-1].finished.message
            task = await task_pb2_grpc.TaskServiceStub(channel).GetTask(
                task_pb2.GetTaskRequest(name=reply.task), metadata=caller.metadata)
            messages = await chats.ListMessages(conversation_pb2.ListMessagesRequest(parent=conversation.name),
                                                metadata=caller.metadata)
    finally:
        healthy.kill()

    assert events[0].WhichOneof("event") == "accepted" and events[-1].WhichOneof("event") == "finished"
    assert replayed[-1].finished.message.name == reply.name
    assert task.state == task_pb2.TASK_STATE_SUCCEEDED
    assert len(messages.messages) == 2  # one user message and its reply: the killed send stored nothing
    assert await consistency.problems(url) == []


async def test_a_story_follows_its_task_when_the_task_runs_out_of_attempts(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'storyloom.db'}"
    caller = await caller_in_database(url)
    process = server(tmp_path, OFFLINE, STORYLOOM_TASK_MAX_ATTEMPTS="1")
    process.start()
    try:
        async with grpc.aio.insecure_channel(process.address) as channel:
            task = await story_pb2_grpc.StoryServiceStub(channel).CreateStory(story_pb2.CreateStoryRequest(
                parent="users/me", scene_count=3, requirements=REQUIREMENTS), metadata=caller.metadata)
            async for event in task_pb2_grpc.TaskServiceStub(channel).WatchTask(
                    task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata):
                if event.stage == "illustrations":
                    break
        process.kill()  # one crash is all a task may have
        process.start()
        async with grpc.aio.insecure_channel(process.address) as channel:
            events = await watch_to_end(channel, caller, task.name)
            story = await story_pb2_grpc.StoryServiceStub(channel).GetStory(
                story_pb2.GetStoryRequest(name=task.target), metadata=caller.metadata)
    finally:
        process.kill()

    assert events[-1].state == task_pb2.TASK_STATE_FAILED
    assert story.state == story_pb2.STORY_STATE_FAILED
    assert story.error.code == grpc.StatusCode.ABORTED.value[0]
    assert error_info_of(story.error).reason == "TASK_ATTEMPTS_EXHAUSTED"
    assert await consistency.problems(url) == []


def error_info_of(status: status_pb2.Status) -> error_details_pb2.ErrorInfo:
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError(f"no ErrorInfo in {status}")

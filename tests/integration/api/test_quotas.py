"""Per-user quotas: tasks pending or running, and open streams; one more is RESOURCE_EXHAUSTED with one ErrorInfo
and a RetryInfo, and the next user is not affected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from storyloom.domain.errors import ResourceExhausted
from storyloom.v1 import story_pb2, story_pb2_grpc, task_pb2, task_pb2_grpc
from tests.conftest import Caller, StoryloomServer, serving, settings_for_tests
from tests.support import task_kinds
from tests.support.errors import retry_seconds, the_error_info

LIMIT = 2


@pytest_asyncio.fixture
async def storyloom_server(tmp_path: Path) -> AsyncIterator[StoryloomServer]:
    settings = settings_for_tests(tmp_path / "data", max_live_tasks_per_user=LIMIT, max_streams_per_user=LIMIT)
    async with serving(settings) as server:
        yield server


async def slow_tasks(server: StoryloomServer, caller: Caller, count: int) -> list[str]:
    """Tasks that stay running until cancelled."""
    return [(await server.app.tasks.submit(caller.user_id, task_kinds.STEPS, {"steps": 1000, "delay": 1})).id
            for _ in range(count)]


def story_request() -> story_pb2.CreateStoryRequest:
    return story_pb2.CreateStoryRequest(parent="users/me", text="A fox finds a lantern in the snow.",
                                        skip_illustrations=True, skip_narration=True)


async def test_a_story_over_the_task_limit_is_resource_exhausted_with_retry_info(
        storyloom_server: StoryloomServer, caller: Caller) -> None:
    stories = story_pb2_grpc.StoryServiceStub(storyloom_server.channel)
    tasks = task_pb2_grpc.TaskServiceStub(storyloom_server.channel)
    running = await slow_tasks(storyloom_server, caller, LIMIT)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stories.CreateStory(story_request(), metadata=caller.metadata)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert the_error_info(raised.value).reason == "TASK_LIMIT_EXCEEDED"
    assert retry_seconds(raised.value) > 0
    assert dict(raised.value.trailing_metadata() or ())["retry-after"] == "30"
    listed = await stories.ListStories(story_pb2.ListStoriesRequest(parent="users/me"), metadata=caller.metadata)
    assert not listed.stories  # nothing was stored for the refused call

    other = await storyloom_server.new_caller("other")
    await stories.CreateStory(story_request(), metadata=other.metadata)  # another user is not limited

    await tasks.CancelTask(task_pb2.CancelTaskRequest(name=f"tasks/{running[0]}"), metadata=caller.metadata)
    async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=f"tasks/{running[0]}"),
                                       metadata=caller.metadata):
        if event.state == task_pb2.TASK_STATE_CANCELLED:
            break
    created = await stories.CreateStory(story_request(), metadata=caller.metadata)
    assert created.name.startswith("tasks/")


async def test_a_burst_of_admissions_admits_exactly_the_limit(storyloom_server: StoryloomServer,
                                                                caller: Caller) -> None:
    runner = storyloom_server.app.tasks

    async def attempt() -> str:
        try:
            async with runner.admit(caller.user_id):
                await runner.submit(caller.user_id, task_kinds.STEPS, {"steps": 1000, "delay": 1})
        except ResourceExhausted as error:
            return error.reason
        return "accepted"

    answers = await asyncio.gather(*(attempt() for _ in range(8)))
    assert sorted(answers) == ["TASK_LIMIT_EXCEEDED"] * (8 - LIMIT) + ["accepted"] * LIMIT


async def test_one_stream_over_the_limit_is_resource_exhausted_and_closing_one_frees_it(
        storyloom_server: StoryloomServer, caller: Caller) -> None:
    tasks = task_pb2_grpc.TaskServiceStub(storyloom_server.channel)
    running = await slow_tasks(storyloom_server, caller, 1)
    watch = task_pb2.WatchTaskRequest(name=f"tasks/{running[0]}")
    open_calls = [tasks.WatchTask(watch, metadata=caller.metadata) for _ in range(LIMIT)]
    for call in open_calls:
        await call.read()  # each stream is open and has answered
    extra = tasks.WatchTask(watch, metadata=caller.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await extra.read()
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert the_error_info(raised.value).reason == "STREAM_LIMIT_EXCEEDED"
    assert retry_seconds(raised.value) > 0

    open_calls[0].cancel()
    again = tasks.WatchTask(watch, metadata=caller.metadata)
    for _ in range(200):  # the cancelled stream's handler ends on the server shortly after the client cancels
        try:
            await again.read()
            break
        except grpc.aio.AioRpcError as error:
            assert the_error_info(error).reason == "STREAM_LIMIT_EXCEEDED"
            await asyncio.sleep(0.05)
            again = tasks.WatchTask(watch, metadata=caller.metadata)
    else:
        raise AssertionError("the stream limit was not freed when a stream closed")
    again.cancel()
    for call in open_calls[1:]:
        call.cancel()

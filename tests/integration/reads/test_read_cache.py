"""The hot reads on a real server and database: one statement each where the data allows, finished resources
served from the response cache, and the cache never serving a deleted or changed resource."""

from __future__ import annotations

import grpc
import pytest

from storyloom.v1 import media_pb2, media_pb2_grpc, story_pb2_grpc, task_pb2, task_pb2_grpc
from storyloom.v1 import story_pb2 as pb
from tests.conftest import serving, settings_for_tests
from tests.support.sql_counter import counting_statements
from tests.support.stories import LUNA


@pytest.fixture
async def server(tmp_path, database_url):
    async with serving(settings_for_tests(tmp_path / "data", database_url=database_url)) as running:
        yield running


async def finished_story(server, caller) -> task_pb2.Task:
    stories = story_pb2_grpc.StoryServiceStub(server.channel)
    task = await stories.CreateStory(pb.CreateStoryRequest(parent="users/me", requirements=LUNA, scene_count=2,
                                                           skip_narration=True), metadata=caller.metadata)
    tasks = task_pb2_grpc.TaskServiceStub(server.channel)
    async for _event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata):
        pass
    return task


async def test_a_finished_story_task_and_picture_are_read_in_one_statement_each_once_cached(server):
    caller = await server.new_caller()
    task = await finished_story(server, caller)
    stories = story_pb2_grpc.StoryServiceStub(server.channel)
    tasks = task_pb2_grpc.TaskServiceStub(server.channel)
    media = media_pb2_grpc.MediaServiceStub(server.channel)
    first = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    picture = first.scenes[0].picture.name
    assert first.state == pb.STORY_STATE_READY and picture
    await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)
    await media.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=picture), metadata=caller.metadata)

    with counting_statements(server.app.db.engine) as story_reads:
        again = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    with counting_statements(server.app.db.engine) as task_reads:
        got = await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)
    with counting_statements(server.app.db.engine) as media_reads:
        info = await media.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=picture), metadata=caller.metadata)
    with counting_statements(server.app.db.engine) as list_reads:
        listed = await tasks.ListTasks(task_pb2.ListTasksRequest(), metadata=caller.metadata)

    assert again == first
    assert len(story_reads) == 1, story_reads.statements
    story_in_result = pb.Story()
    assert got.result.Unpack(story_in_result) and story_in_result == first
    assert len(task_reads) == 2, task_reads.statements  # the task's row, the story's version
    assert info.name == picture and info.renditions and len(media_reads) == 1, media_reads.statements
    assert [t.name for t in listed.tasks] == [task.name] and len(list_reads) == 2, list_reads.statements


async def test_a_deleted_story_is_never_served_from_the_cache_nor_in_its_tasks_result(server):
    caller = await server.new_caller()
    task = await finished_story(server, caller)
    stories = story_pb2_grpc.StoryServiceStub(server.channel)
    tasks = task_pb2_grpc.TaskServiceStub(server.channel)
    await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert (await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)).HasField("result")

    await stories.DeleteStory(pb.DeleteStoryRequest(name=task.target), metadata=caller.metadata)

    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    after = await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)
    assert after.state == task_pb2.TASK_STATE_SUCCEEDED and not after.HasField("result")


async def test_a_story_deleted_behind_the_servers_back_is_not_served_from_the_cache(server):
    """Another replica's delete does not reach this one's cache: the version read must catch it."""
    caller = await server.new_caller()
    task = await finished_story(server, caller)
    stories = story_pb2_grpc.StoryServiceStub(server.channel)
    await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)

    await server.app.stories.delete(caller.user_id, task.target.rsplit("/", 1)[1])  # not through the servicer

    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_deleted_task_is_not_found_after_being_cached(server):
    caller = await server.new_caller()
    task = await finished_story(server, caller)
    tasks = task_pb2_grpc.TaskServiceStub(server.channel)
    await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)

    await tasks.DeleteTask(task_pb2.DeleteTaskRequest(name=task.name), metadata=caller.metadata)

    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_another_users_cached_story_stays_hidden(server):
    caller = await server.new_caller()
    task = await finished_story(server, caller)
    stories = story_pb2_grpc.StoryServiceStub(server.channel)
    await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    stranger = await server.new_caller("stranger")
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=stranger.metadata)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

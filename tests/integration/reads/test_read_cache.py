"""The hot reads on a real server and database: finished resources served from the read cache with no statement,
and the cache never serving a deleted or changed resource, nor one resource to another user."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sqlalchemy import text

from storyloom.domain.ports.notifier import CHANGED
from storyloom.domain.stories import story_changes
from storyloom.v1 import media_pb2, media_pb2_grpc, story_pb2_grpc, task_pb2, task_pb2_grpc
from storyloom.v1 import story_pb2 as pb
from tests.conftest import serving, settings_for_tests
from tests.support.media import png_bytes
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


async def test_a_finished_story_task_and_picture_are_served_without_a_statement_once_cached(server):
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
    assert len(story_reads) == 0, story_reads.statements
    story_in_result = pb.Story()
    assert got.result.Unpack(story_in_result) and story_in_result == first
    assert len(task_reads) == 0, task_reads.statements
    assert info.name == picture and info.renditions and len(media_reads) == 0, media_reads.statements
    # The page is read; the finished task in it is built from the cached story.
    assert [t.name for t in listed.tasks] == [task.name] and len(list_reads) == 1, list_reads.statements


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
    """A delete that is not the servicer's (the domain's, as another replica's would be) is announced, and the
    announcement empties the cache before the delete returns."""
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


async def test_a_picture_that_gains_a_rendition_is_served_with_it_in_its_info_and_its_story(server):
    caller = await server.new_caller()
    task = await finished_story(server, caller)
    stories = story_pb2_grpc.StoryServiceStub(server.channel)
    media = media_pb2_grpc.MediaServiceStub(server.channel)
    story = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    picture = story.scenes[0].picture.name
    await media.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=picture), metadata=caller.metadata)

    await server.app.media.store(caller.user_id, png_bytes(8, 8), "image/png", parent_id=picture.split("/")[1],
                                 purpose="extra")

    info = await media.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=picture), metadata=caller.metadata)
    again = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert "extra" in [r.purpose for r in info.renditions]
    assert "extra" in [r.purpose for r in again.scenes[0].picture.renditions]


async def test_another_users_cached_task_and_media_answer_as_they_did_before_they_were_cached(server):
    caller = await server.new_caller()
    stranger = await server.new_caller("stranger")
    task = await finished_story(server, caller)
    stories = story_pb2_grpc.StoryServiceStub(server.channel)
    tasks = task_pb2_grpc.TaskServiceStub(server.channel)
    media = media_pb2_grpc.MediaServiceStub(server.channel)
    picture = (await stories.GetStory(pb.GetStoryRequest(name=task.target),
                                      metadata=caller.metadata)).scenes[0].picture.name

    async def codes() -> tuple[grpc.StatusCode, grpc.StatusCode]:
        found = []
        for call in (tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=stranger.metadata),
                     media.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=picture), metadata=stranger.metadata)):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            found.append(refused.value.code())
        return found[0], found[1]

    before = await codes()
    await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)
    await media.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=picture), metadata=caller.metadata)
    assert len(server.running.cache) >= 3  # the story, the task and the picture are kept
    assert await codes() == before


async def test_a_story_deleted_through_another_replica_is_not_served_once_the_notice_is_heard(tmp_path, postgres_url):
    secret = "test-replicas"
    async with serving(settings_for_tests(tmp_path / "a", database_url=postgres_url, secret=secret)) as a, \
            serving(settings_for_tests(tmp_path / "b", database_url=postgres_url, secret=secret)) as b:
        caller = await a.new_caller()
        task = await finished_story(a, caller)
        stories = story_pb2_grpc.StoryServiceStub(a.channel)
        tasks = task_pb2_grpc.TaskServiceStub(a.channel)
        await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
        await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)
        heard = asyncio.Event()
        a.app.notifier.listen(CHANGED, lambda key: heard.set() if key == task.target else None)

        await b.app.stories.delete(caller.user_id, task.target.rsplit("/", 1)[1])
        await asyncio.wait_for(heard.wait(), timeout=30)

        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        after = await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)
        assert not after.HasField("result")


async def test_nothing_is_served_from_the_cache_while_the_notice_connection_is_down(tmp_path, postgres_url):
    async with serving(settings_for_tests(tmp_path / "a", database_url=postgres_url)) as server:
        caller = await server.new_caller()
        task = await finished_story(server, caller)
        stories = story_pb2_grpc.StoryServiceStub(server.channel)
        await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
        notifier = server.app.notifier
        missed = asyncio.Event()
        notifier.listen(CHANGED, lambda key: missed.set() if key is None else None)

        pid = notifier._connection.get_server_pid()
        async with server.app.db.engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.wait_for(missed.wait(), timeout=30)
        assert len(server.running.cache) == 0
        with counting_statements(server.app.db.engine) as reads:
            await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
        assert len(reads) > 0  # read from the store, whether the connection is back yet or not


async def test_one_scene_is_read_in_one_statement_and_only_by_its_owner(server):
    caller = await server.new_caller()
    task = await finished_story(server, caller)
    story_id = task.target.rsplit("/", 1)[1]
    whole = await server.app.stories.get(caller.user_id, story_id)

    with counting_statements(server.app.db.engine) as reads:
        scene = await server.app.stories.scene(caller.user_id, story_id, 1)

    assert scene == whole.scenes[1] and len(reads) == 1, reads.statements
    assert await server.app.stories.scene("someone-else", story_id, 1) is None
    assert await server.app.stories.scene(caller.user_id, story_id, 7) is None


async def test_a_story_being_written_is_served_from_the_cache_and_never_behind_its_scenes(server):
    """A story still being written is kept too: each write of it is announced. Every SCENE_READY event comes after
    its scene's write, so the story read then (from the cache or not) already has that scene."""
    caller = await server.new_caller()
    stories = story_pb2_grpc.StoryServiceStub(server.channel)
    tasks = task_pb2_grpc.TaskServiceStub(server.channel)
    task = await stories.CreateStory(pb.CreateStoryRequest(parent="users/me", requirements=LUNA, scene_count=3,
                                                           skip_narration=True), metadata=caller.metadata)
    ready: list[int] = []
    async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata):
        if event.type == task_pb2.TASK_EVENT_TYPE_SCENE_READY:
            scene = pb.Scene()
            assert event.part.Unpack(scene)
            ready.append(scene.index)
        story = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
        written = {s.index: s for s in story.scenes}
        for index in ready:
            assert written[index].text and written[index].picture.name, (index, story)
    final = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert final.state == pb.STORY_STATE_READY and sorted(ready) == [0, 1, 2]
    assert [s.text for s in final.scenes] == [s.text for s in (await server.app.stories.get(
        caller.user_id, task.target.rsplit("/", 1)[1])).scenes]


async def test_an_unfinished_story_changed_through_another_replica_is_read_again_once_the_notice_is_heard(
        tmp_path, postgres_url):
    secret = "test-replicas"
    async with serving(settings_for_tests(tmp_path / "a", database_url=postgres_url, secret=secret)) as a, \
            serving(settings_for_tests(tmp_path / "b", database_url=postgres_url, secret=secret)) as b:
        caller = await a.new_caller()
        task = await finished_story(a, caller)
        story_id = task.target.rsplit("/", 1)[1]
        async with a.app.db.engine.begin() as conn:  # back to being written, as the bench does
            await conn.execute(text("UPDATE stories SET state = 'GENERATING' WHERE id = :id"), {"id": story_id})
        await a.app.notifier.publish(CHANGED, task.target)
        stories = story_pb2_grpc.StoryServiceStub(a.channel)
        first = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
        assert first.state == pb.STORY_STATE_GENERATING
        # Kept once the database's echoes of the announcements so far (the story's writing, the publish above),
        # which each drop the copy when they come, have all come.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            with counting_statements(a.app.db.engine) as reads:
                again = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
            assert again == first
            if len(reads) == 0:
                break
            assert asyncio.get_running_loop().time() < deadline, f"never kept: {reads.statements}"
            await asyncio.sleep(0.05)

        heard = asyncio.Event()
        a.app.notifier.listen(CHANGED, lambda key: heard.set() if key == story_changes(story_id) else None)
        async with b.app.db.engine.begin() as conn:  # a write of B's writer, announced as its domain does
            await conn.execute(text("UPDATE stories SET title = 'Retitled' WHERE id = :id"), {"id": story_id})
        await b.app.notifier.publish(CHANGED, story_changes(story_id))
        await asyncio.wait_for(heard.wait(), timeout=30)

        changed = await stories.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
        assert changed.title == "Retitled"

"""TaskService against a real grpc.aio server: watch, replay, cancel, list, delete, ownership."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import event as sql_event

from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.support import task_kinds
from tests.support.errors import error_info
from tests.support.server import Caller, StoryloomServer

TERMINAL = {task_pb2.TASK_STATE_SUCCEEDED, task_pb2.TASK_STATE_FAILED, task_pb2.TASK_STATE_CANCELLED}


async def submit(server: StoryloomServer, caller: Caller, **params: object) -> str:
    task = await server.app.tasks.submit(caller.user_id, task_kinds.STEPS, dict(params))
    return f"tasks/{task.id}"


async def watch_all(stub: task_pb2_grpc.TaskServiceStub, caller: Caller, name: str,
                    after: int = 0) -> list[task_pb2.TaskEvent]:
    call = stub.WatchTask(task_pb2.WatchTaskRequest(name=name, after_sequence=after), metadata=caller.metadata)
    return [event async for event in call]


@pytest.fixture
def stub(storyloom_server: StoryloomServer) -> task_pb2_grpc.TaskServiceStub:
    return task_pb2_grpc.TaskServiceStub(storyloom_server.channel)


async def test_a_watched_task_streams_a_gap_free_log_ending_with_its_result(storyloom_server, caller, stub):
    name = await submit(storyloom_server, caller, steps=4)
    events = await watch_all(stub, caller, name)

    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    percents = [e.percent for e in events]
    assert percents == sorted(percents) and percents[-1] == 100
    assert events[0].state == task_pb2.TASK_STATE_PENDING
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    assert [e.stage for e in events if e.stage.startswith("step-")][-1] == "step-4"
    result = struct_pb2.Struct()
    assert events[-1].result.Unpack(result)
    assert result["steps"] == 4
    task = await stub.GetTask(task_pb2.GetTaskRequest(name=name), metadata=caller.metadata)
    assert task.state == task_pb2.TASK_STATE_SUCCEEDED and task.last_sequence == events[-1].sequence
    assert task.HasField("end_time") and task.HasField("expire_time") and task.attempt == 1


async def test_watching_after_a_sequence_replays_exactly_the_missing_events(storyloom_server, caller, stub):
    name = await submit(storyloom_server, caller, steps=5)
    everything = await watch_all(stub, caller, name)
    for after in (0, 1, 3, len(everything) - 1, len(everything)):
        replay = await watch_all(stub, caller, name, after=after)
        assert [e.SerializeToString() for e in replay] == [e.SerializeToString() for e in everything[after:]]


async def test_a_watcher_that_reconnects_mid_task_misses_nothing(storyloom_server, caller, stub):
    name = await submit(storyloom_server, caller, steps=6, delay=0.05)
    seen: list[task_pb2.TaskEvent] = []
    call = stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata)
    async for event in call:
        seen.append(event)
        if len(seen) == 3:
            call.cancel()  # the connection drops
            break
    seen += await watch_all(stub, caller, name, after=seen[-1].sequence)
    assert [e.sequence for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].state == task_pb2.TASK_STATE_SUCCEEDED


async def test_watchers_opened_at_once_open_no_database_connection(storyloom_server, caller, stub):
    """Every watcher reads the task's events as it opens; on SQLite that read runs inline, like the other hot reads.
    Through the pool, a crowd of watchers arriving at once made it open its overflow (a thread and a SQLite
    connection each): ~4.5 KiB of server memory per stream in bench_watchers, 1,000 streams at once."""
    name = await submit(storyloom_server, caller, steps=2, hold_at=1)  # runs, then waits for ever
    running = stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata)
    async for seen in running:
        if seen.stage == "step-1":
            running.cancel()
            break
    connected: list[object] = []

    def connect(dbapi_connection: object, _record: object) -> None:
        connected.append(dbapi_connection)

    engine = storyloom_server.app.db.engine.sync_engine
    sql_event.listen(engine, "connect", connect)
    calls = [stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata) for _ in range(30)]
    try:
        firsts = await asyncio.gather(*(call.read() for call in calls))
    finally:
        sql_event.remove(engine, "connect", connect)
        for call in calls:
            call.cancel()
    assert all(first.sequence == 1 for first in firsts)
    assert len(connected) == 0


async def test_cancelling_a_running_task_stops_it_at_once(storyloom_server, caller, stub):
    name = await submit(storyloom_server, caller, steps=100, delay=0.2)
    call = stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata)
    async for event in call:
        if event.state == task_pb2.TASK_STATE_RUNNING:
            break
    started = time.monotonic()
    cancelled = await stub.CancelTask(task_pb2.CancelTaskRequest(name=name), metadata=caller.metadata)
    assert time.monotonic() - started < 10  # its 100 steps of 0.2 s would take 20 s
    assert cancelled.state == task_pb2.TASK_STATE_CANCELLED
    assert cancelled.error.code == grpc.StatusCode.CANCELLED.value[0]
    events = await watch_all(stub, caller, name)
    assert events[-1].state == task_pb2.TASK_STATE_CANCELLED and events[-1].percent < 100
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    again = await stub.CancelTask(task_pb2.CancelTaskRequest(name=name), metadata=caller.metadata)
    assert again.last_sequence == cancelled.last_sequence  # cancelling a finished task changes nothing


async def test_a_failing_task_ends_failed_with_the_handlers_reason(storyloom_server, caller, stub):
    name = await submit(storyloom_server, caller, steps=5, fail_at=3)
    events = await watch_all(stub, caller, name)
    assert events[-1].state == task_pb2.TASK_STATE_FAILED
    assert events[-1].error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    info = error_details_pb2.ErrorInfo()
    assert events[-1].error.details[0].Unpack(info) and info.reason == "TEST_STEP_FAILED"


async def test_list_tasks_pages_newest_first_and_filters_by_state(storyloom_server, caller, stub):
    names = [await submit(storyloom_server, caller, steps=1) for _ in range(5)]
    for name in names:
        await watch_all(stub, caller, name)
    failed = await submit(storyloom_server, caller, steps=2, fail_at=1)
    await watch_all(stub, caller, failed)

    listed, token = [], ""
    while True:
        page = await stub.ListTasks(task_pb2.ListTasksRequest(page_size=2, page_token=token), metadata=caller.metadata)
        assert len(page.tasks) <= 2
        listed += [t.name for t in page.tasks]
        token = page.next_page_token
        if not token:
            break
    assert listed == list(reversed([*names, failed]))

    only_failed = await stub.ListTasks(task_pb2.ListTasksRequest(states=[task_pb2.TASK_STATE_FAILED]),
                                       metadata=caller.metadata)
    assert [t.name for t in only_failed.tasks] == [failed]
    by_kind = await stub.ListTasks(task_pb2.ListTasksRequest(kind="no.such.kind"), metadata=caller.metadata)
    assert list(by_kind.tasks) == [] and by_kind.next_page_token == ""


async def test_list_tasks_refuses_bad_page_sizes_and_foreign_tokens(storyloom_server, caller, stub):
    for name in [await submit(storyloom_server, caller, steps=1) for _ in range(3)]:
        await watch_all(stub, caller, name)
    with pytest.raises(grpc.aio.AioRpcError) as negative:
        await stub.ListTasks(task_pb2.ListTasksRequest(page_size=-1), metadata=caller.metadata)
    assert negative.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    page = await stub.ListTasks(task_pb2.ListTasksRequest(page_size=1), metadata=caller.metadata)
    assert page.next_page_token
    with pytest.raises(grpc.aio.AioRpcError) as changed_filter:
        await stub.ListTasks(task_pb2.ListTasksRequest(page_size=1, page_token=page.next_page_token, kind="other"),
                             metadata=caller.metadata)
    assert error_info(changed_filter.value).reason == "PAGE_TOKEN_INVALID"
    with pytest.raises(grpc.aio.AioRpcError) as forged:
        await stub.ListTasks(task_pb2.ListTasksRequest(page_token=page.next_page_token[:-2] + "xx"),
                             metadata=caller.metadata)
    assert forged.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_deleting_a_live_task_needs_force_and_deleted_tasks_are_gone(storyloom_server, caller, stub):
    live = await submit(storyloom_server, caller, steps=100, delay=0.2)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.DeleteTask(task_pb2.DeleteTaskRequest(name=live), metadata=caller.metadata)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "TASK_NOT_FINISHED"
    await stub.DeleteTask(task_pb2.DeleteTaskRequest(name=live, force=True), metadata=caller.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stub.GetTask(task_pb2.GetTaskRequest(name=live), metadata=caller.metadata)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_another_users_task_is_not_found_and_a_missing_key_is_unauthenticated(storyloom_server, caller, stub):
    name = await submit(storyloom_server, caller, steps=1)
    stranger = await storyloom_server.new_caller("stranger")
    for call in (
        stub.GetTask(task_pb2.GetTaskRequest(name=name), metadata=stranger.metadata),
        stub.CancelTask(task_pb2.CancelTaskRequest(name=name), metadata=stranger.metadata),
        watch_all(stub, stranger, name),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await call
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_info(hidden.value).reason == "RESOURCE_NOT_FOUND"
    assert (await stub.ListTasks(task_pb2.ListTasksRequest(), metadata=stranger.metadata)).tasks == []

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetTask(task_pb2.GetTaskRequest(name=name))
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(missing.value).reason == "API_KEY_MISSING"
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await stub.GetTask(task_pb2.GetTaskRequest(name=name), metadata=(("authorization", "Bearer sl_nope"),))
    assert error_info(wrong.value).reason == "API_KEY_INVALID"
    bearer = await stub.GetTask(task_pb2.GetTaskRequest(name=name),
                                metadata=(("authorization", f"Bearer {caller.key}"),))
    assert bearer.name == name


@pytest.mark.parametrize("bad_name", ["", "tasks/", "tasks/UPPER", "task/abc", "tasks/a/b", "users/x/tasks/y"])
async def test_malformed_task_names_are_invalid_arguments_with_a_field_violation(storyloom_server, caller, stub,
                                                                                  bad_name):
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.GetTask(task_pb2.GetTaskRequest(name=bad_name), metadata=caller.metadata)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(bad.value)
    violations = error_details_pb2.BadRequest()
    assert any(d.Unpack(violations) for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR))
    assert [v.field for v in violations.field_violations] == ["name"]


async def test_watch_task_refuses_a_negative_sequence(storyloom_server, caller, stub):
    name = await submit(storyloom_server, caller, steps=1)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await watch_all(stub, caller, name, after=-1)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_cancelled_watch_leaves_the_server_serving_others(storyloom_server, caller, stub):
    name = await submit(storyloom_server, caller, steps=30, delay=0.05)
    call = stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata)
    await call.read()
    call.cancel()
    await asyncio.sleep(0.05)
    events = await watch_all(stub, caller, name)
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED

"""The server as a whole: reflection, health, shutdown, and crash recovery of a separate process."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from storyloom.app import build_app
from storyloom.domain.tasks import HANDED_BACK
from storyloom.server import SERVICE_NAMES
from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.support import task_kinds
from tests.support.server import Caller, settings_for_tests
from tests.support.server_process import ServerProcess


async def test_reflection_lists_the_five_services_without_a_key(storyloom_server):
    stub = reflection_pb2_grpc.ServerReflectionStub(storyloom_server.channel)
    requests = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    responses = [r async for r in stub.ServerReflectionInfo(requests)]
    names = {s.name for s in responses[0].list_services_response.service}
    assert {f"storyloom.v1.{s}Service" for s in ("Conversation", "Story", "Voice", "Task", "Media")} <= names
    assert "grpc.health.v1.Health" in names


async def test_health_answers_serving_overall_and_per_service_without_a_key(storyloom_server):
    stub = health_pb2_grpc.HealthStub(storyloom_server.channel)
    for service in ("", *SERVICE_NAMES):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.Check(health_pb2.HealthCheckRequest(service="storyloom.v1.NoSuchService"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_turns_not_serving_as_soon_as_shutdown_begins(storyloom_server):
    stub = health_pb2_grpc.HealthStub(storyloom_server.channel)
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
    stopping = asyncio.create_task(storyloom_server.running.stop(2.0))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
    await stopping


# --- a real server process ---------------------------------------------------------------


@pytest.fixture
def server_process(tmp_path: Path):
    process = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    yield process
    process.kill()


async def prepare(data_dir: Path, **params: object) -> tuple[Caller, str]:
    """Creates a user and a pending task in the data dir, as an earlier process would have."""
    app = await build_app(settings_for_tests(data_dir))
    task_kinds.register(app)
    try:
        user = await app.accounts.create_user("crash-test")
        caller = Caller(user.id, await app.accounts.create_key(user.id))
        task = await app.tasks.submit(user.id, task_kinds.STEPS, dict(params))
    finally:
        await app.close()
    return caller, f"tasks/{task.id}"


async def test_a_task_survives_sigkill_and_finishes_after_restart_with_a_gap_free_log(server_process):
    caller, name = await prepare(server_process.data_dir, steps=12, delay=0.25)
    server_process.start()
    seen: list[task_pb2.TaskEvent] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server_process.port}") as channel:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError):  # the stream breaks when the server dies
            async for event in stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata):
                seen.append(event)
                if event.stage == "step-3":
                    server_process.kill()  # SIGKILL: no clean-up at all
    assert seen[-1].state == task_pb2.TASK_STATE_RUNNING

    server_process.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server_process.port}") as channel:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        rest = [e async for e in stub.WatchTask(task_pb2.WatchTaskRequest(name=name, after_sequence=seen[-1].sequence),
                                                metadata=caller.metadata)]
        log = [e async for e in stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata)]
        task = await stub.GetTask(task_pb2.GetTaskRequest(name=name), metadata=caller.metadata)

    assert rest[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    assert [e.sequence for e in log] == list(range(1, len(log) + 1))  # no gaps, no duplicates
    assert [e.SerializeToString() for e in log[:len(seen)]] == [e.SerializeToString() for e in seen]
    assert task.attempt == 2
    result = struct_pb2.Struct()
    rest[-1].result.Unpack(result)
    steps_run = [int(step) for _, step in result["ran"]]
    assert steps_run == list(range(1, 13))  # each step ran exactly once across both processes
    assert {int(attempt) for attempt, _ in result["ran"]} == {1, 2}


async def test_sigterm_drains_and_exits_cleanly_and_the_running_task_resumes_on_restart(server_process):
    caller, name = await prepare(server_process.data_dir, steps=6, delay=0.3)
    server_process.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server_process.port}") as channel:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        async for event in stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata):
            if event.stage == "step-2":
                break
    started = time.monotonic()
    assert server_process.signal(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    log_text = server_process.log.read_text()
    assert '"shutting down"' in log_text and '"stopped"' in log_text

    server_process.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server_process.port}") as channel:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        events = [e async for e in stub.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata)]
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    # A graceful stop hands the task back (PENDING, no attempt used up), rather than leaving it to be found orphaned.
    handed_back = [e for e in events if e.message == HANDED_BACK]
    assert len(handed_back) == 1 and handed_back[0].state == task_pb2.TASK_STATE_PENDING
    assert not any(e.message == "Resuming after a server restart." for e in events)

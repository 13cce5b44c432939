"""Through the real Envoy: a story is one trace under the caller's span, the server's access log and Envoy's name
the same gRPC status for REST and gRPC callers, and Envoy's own metrics are on its admin port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.conftest import Caller, StoryloomServer, serving, settings_for_tests
from tests.support.gateway import Gateway, StartGateway, access_log_line, sse_events
from tests.support.waiting import wait_until

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest_asyncio.fixture
async def storyloom_server(tmp_path: Path, spans: InMemorySpanExporter) -> AsyncIterator[StoryloomServer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    async with serving(settings_for_tests(tmp_path / "data"), tracer_provider=provider) as server:
        yield server


@pytest_asyncio.fixture
async def gateway(storyloom_server: StoryloomServer, start_gateway: StartGateway) -> Gateway:
    return await start_gateway(storyloom_server.port, access_log=True)


async def test_a_story_over_rest_is_one_trace_under_the_callers_span(http: httpx.AsyncClient, caller: Caller,
                                                                      spans: InMemorySpanExporter):
    key = {"x-api-key": caller.key}
    created = await http.post("/v1/users/me/stories", headers={**key, **TRACEPARENT}, json={
        "requirements": {"characters": [{"name": "Milo", "description": "a curious robot"}]},
        "sceneCount": 1, "skipNarration": True})
    assert created.status_code == 200, created.text
    events = sse_events((await http.get(f"/v1/{created.json()['name']}:watch", headers=key)).text)
    assert events[-1]["state"] == "TASK_STATE_SUCCEEDED"

    story = [s for s in spans.get_finished_spans() if f"{s.context.trace_id:032x}" == TRACE_ID]
    call = next(s for s in story if s.name == "/storyloom.v1.StoryService/CreateStory")
    assert f"{call.parent.span_id:016x}" == CALLER_SPAN
    task = next(s for s in story if s.name == "task story.create")
    assert task.parent.span_id == call.context.span_id
    names = {s.name for s in story}
    assert {"stage premise", "stage scenes", "stage illustrations", "engine text.scenes", "engine picture"} <= names
    # The watch was another call, without a traceparent: another trace.
    assert not any(s.name.endswith("WatchTask") for s in story)


async def test_the_access_logs_agree_on_the_grpc_status_for_rest_and_grpc(http: httpx.AsyncClient, gateway: Gateway,
                                                                          caller: Caller, caplog):
    caplog.set_level(logging.INFO, logger="storyloom.access")
    key = {"x-api-key": caller.key}
    assert (await http.get("/v1/tasks/nope", headers=key)).status_code == 404
    assert (await http.get("/v1/tasks?pageSize=3", headers=key)).status_code == 200
    channel = grpc.aio.insecure_channel(gateway.address)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await task_pb2_grpc.TaskServiceStub(channel).GetTask(task_pb2.GetTaskRequest(name="tasks/gone"),
                                                                 metadata=caller.metadata)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await channel.close()

    # A call's line is written as its handler ends, which can be just after the caller has its answer (an error's
    # status goes out as the handler aborts).
    def logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "storyloom.access" and r.method.startswith("/storyloom.v1.")]

    await wait_until(lambda: len(logged()) >= 3, timeout=30, what="three access lines")
    access = logged()
    gets = [r for r in access if r.method == "/storyloom.v1.TaskService/GetTask"]
    lists = [r for r in access if r.method == "/storyloom.v1.TaskService/ListTasks"]
    assert len(gets) == 2 and len(lists) == 1
    rest_missing, grpc_missing, listed = gets[0], gets[1], lists[0]
    for record, code in ((rest_missing, "NOT_FOUND"), (listed, "OK"), (grpc_missing, "NOT_FOUND")):
        assert record.code == code and record.duration_ms >= 0 and record.user == caller.user_id
        assert record.request_id  # Envoy's x-request-id, which its own log can be matched by
    for path, http_status, grpc_status in (("/v1/tasks/nope", 404, 5), ("/v1/tasks?pageSize=3", 200, 0),
                                           ("/storyloom.v1.TaskService/GetTask", 200, 5)):
        line = await access_log_line(gateway, path)
        assert f" {http_status} grpc={grpc_status} " in line, line


async def test_envoys_own_metrics_are_on_its_admin_port(http: httpx.AsyncClient, gateway: Gateway, key):
    assert (await http.get("/v1/tasks?pageSize=1", headers=key)).status_code == 200
    async with httpx.AsyncClient() as admin:
        text = (await admin.get(f"http://127.0.0.1:{gateway.admin_port}/stats/prometheus")).text
    assert "envoy_cluster_upstream_rq_total" in text
    assert 'envoy_cluster_health_check_healthy{envoy_cluster_name="storyloom"}' in text or \
        "envoy_cluster_membership_healthy" in text

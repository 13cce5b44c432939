"""Metrics, traces and the access log of a real server: a chat and a story, scraped and traced."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from storyloom.v1 import conversation_pb2, conversation_pb2_grpc, story_pb2, story_pb2_grpc, task_pb2, task_pb2_grpc
from tests.conftest import Caller, StoryloomServer, serving, settings_for_tests
from tests.support.log_records import Records
from tests.support.stories import LUNA

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
GATEWAY_SPAN = "00f067aa0ba902b7"


@dataclasses.dataclass
class Run:
    """One server that ran a chat and a story (they take a while: the two tests share them)."""

    server: StoryloomServer
    caller: Caller
    task: task_pb2.Task
    spans: InMemorySpanExporter
    access: list[logging.LogRecord]


@pytest_asyncio.fixture(scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Run]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    settings = settings_for_tests(tmp_path_factory.mktemp("observed") / "data", metrics_address="127.0.0.1:0")
    access, logger = Records(), logging.getLogger("storyloom.access")
    logger.addHandler(access)
    level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not .level: it clears the logger's cached isEnabledFor answers
    try:
        async with serving(settings, tracer_provider=provider) as server:
            caller = await server.new_caller()
            task = await story_and_chat(server, caller)
            yield Run(server, caller, task, spans, access.records)
    finally:
        logger.removeHandler(access)
        logger.setLevel(level)


async def story_and_chat(server: StoryloomServer, caller: Caller) -> task_pb2.Task:
    """A chat reply and a one-scene story (painted and narrated), the story's calls carrying a `traceparent` as
    the gateway would send it; the task is watched to its end."""
    chat = conversation_pb2_grpc.ConversationServiceStub(server.channel)
    conversation = await chat.CreateConversation(conversation_pb2.CreateConversationRequest(
        parent="users/me", conversation=conversation_pb2.Conversation()), metadata=caller.metadata)
    replies = [e async for e in chat.SendMessage(conversation_pb2.SendMessageRequest(
        conversation=conversation.name, text="A story about a brave fox"), metadata=caller.metadata)]
    assert replies[-1].WhichOneof("event") == "finished"
    traced = (*caller.metadata, ("traceparent", f"00-{TRACE_ID}-{GATEWAY_SPAN}-01"))
    task = await story_pb2_grpc.StoryServiceStub(server.channel).CreateStory(
        story_pb2.CreateStoryRequest(parent="users/me", requirements=LUNA, scene_count=1), metadata=traced)
    tasks = task_pb2_grpc.TaskServiceStub(server.channel)
    events = [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata)]
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await tasks.GetTask(task_pb2.GetTaskRequest(name="tasks/missing"), metadata=caller.metadata)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    return task


async def test_metrics_show_calls_streams_tasks_stages_engines_and_the_pool(run: Run):
    port = run.server.running.metrics_port
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text

    def value(line_start: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(line_start)]
        assert lines, f"no {line_start} in /metrics"
        return float(lines[0].rsplit(" ", 1)[1])

    assert value('storyloom_rpcs_total{code="OK",method="/storyloom.v1.StoryService/CreateStory"}') == 1
    assert value('storyloom_rpcs_total{code="NOT_FOUND",method="/storyloom.v1.TaskService/GetTask"}') == 1
    assert value('storyloom_rpc_duration_seconds_count{method="/storyloom.v1.TaskService/WatchTask"}') == 1
    assert value('storyloom_open_streams{method="/storyloom.v1.TaskService/WatchTask"}') == 0
    assert value('storyloom_tasks_finished_total{kind="story.create",state="SUCCEEDED"}') == 1
    assert value('storyloom_tasks_finished_total{kind="conversation.reply",state="SUCCEEDED"}') == 1
    assert value('storyloom_tasks{kind="story.create",state="RUNNING"}') == 0
    assert value('storyloom_task_queue_wait_seconds_count{kind="story.create"}') == 1
    for stage in ("premise", "outline", "scenes", "illustrations", "narration"):
        assert value(f'storyloom_task_stage_unit_seconds_count{{kind="story.create",stage="{stage}"}}') == 1
    for operation in ("picture", "tts", "text.premise"):
        assert value(f'storyloom_engine_duration_seconds_count{{operation="{operation}",outcome="ok"}}') == 1
    assert value('storyloom_engine_time_to_first_chunk_seconds_count{engine="text.chat"}') == 1
    assert 0 < value("storyloom_tts_real_time_factor_sum") < 5
    assert value('storyloom_db_pool_connections{state="checked_out"}') >= 0
    assert value("storyloom_db_pool_size") >= 1



async def test_the_access_log_has_one_line_per_call_with_method_code_duration_user_peer_and_bytes(run: Run):
    lines = run.access
    create = next(r for r in lines if r.method == "/storyloom.v1.StoryService/CreateStory")
    assert create.code == "OK" and create.user == run.caller.user_id and create.duration_ms > 0
    assert create.bytes_in > 0 and create.bytes_out > 0 and create.peer.startswith("ipv4:127.0.0.1")
    missing = next(r for r in lines if r.method == "/storyloom.v1.TaskService/GetTask")
    assert missing.code == "NOT_FOUND"
    watch = next(r for r in lines if r.method == "/storyloom.v1.TaskService/WatchTask")
    assert watch.code == "OK" and watch.bytes_out > 0


async def test_one_story_is_one_trace_from_the_gateways_span_to_the_engines(run: Run):
    task = run.task
    story = [s for s in run.spans.get_finished_spans() if f"{s.context.trace_id:032x}" == TRACE_ID]
    by_id = {s.context.span_id: s for s in story}
    names = [s.name for s in story]
    call = next(s for s in story if s.name == "/storyloom.v1.StoryService/CreateStory")
    assert f"{call.parent.span_id:016x}" == GATEWAY_SPAN  # the gateway's span is the call's parent
    task_span = next(s for s in story if s.name == "task story.create")
    assert task_span.attributes["storyloom.task"] == task.name.removeprefix("tasks/")
    assert task_span.parent.span_id == call.context.span_id
    for stage in ("premise", "outline", "scenes", "illustrations", "narration"):
        assert f"stage {stage}" in names
    for engine in ("engine picture", "engine tts", "engine text.premise"):
        span = next(s for s in story if s.name == engine)
        ancestors = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            ancestors.append(span.name)
        assert ancestors[-2:] == ["task story.create", "/storyloom.v1.StoryService/CreateStory"], ancestors
    # The chat was not part of the story's trace.
    assert not any("SendMessage" in name for name in names)

"""A reply no one reads any more (its client gone, no StreamReply within the grace period) stops: its task is
cancelled and the message ends CUT, finish reason CANCELLED, with the text written so far."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc, task_pb2, task_pb2_grpc
from tests.support.fakes import ScriptedTextEngine
from tests.support.server import StoryloomServer, serving, settings_for_tests


@pytest_asyncio.fixture
async def held_engine() -> ScriptedTextEngine:
    engine = ScriptedTextEngine("Once upon a time there was a fox.")
    engine.gate = asyncio.Event()  # the reply stays "being written" after its first word
    return engine


@pytest_asyncio.fixture
async def server(tmp_path: Path, held_engine: ScriptedTextEngine) -> AsyncIterator[StoryloomServer]:
    async with serving(settings_for_tests(tmp_path / "data", abandoned_reply_seconds=0.2),
                       text_engine=held_engine) as running:
        yield running


async def test_a_reply_whose_client_left_and_never_came_back_stops_and_ends_cut(server, held_engine):
    caller = await server.new_caller()
    chat = conversation_pb2_grpc.ConversationServiceStub(server.channel)
    tasks = task_pb2_grpc.TaskServiceStub(server.channel)
    conversation = await chat.CreateConversation(pb.CreateConversationRequest(parent="users/me"),
                                                 metadata=caller.metadata)
    call = chat.SendMessage(pb.SendMessageRequest(conversation=conversation.name, text="Tell me a story"),
                            metadata=caller.metadata)
    seen = []
    async for event in call:
        seen.append(event)
        if event.WhichOneof("event") == "delta":
            call.cancel()  # the client is gone, and nothing re-attaches
            break
    task_name = seen[0].accepted.task
    events = [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task_name), metadata=caller.metadata,
                                               timeout=60)]
    assert events[-1].state == task_pb2.TASK_STATE_CANCELLED
    messages = await chat.ListMessages(pb.ListMessagesRequest(parent=conversation.name), metadata=caller.metadata)
    reply = messages.messages[0]
    assert reply.role == pb.MESSAGE_ROLE_ASSISTANT
    assert (reply.state, reply.finish_reason, reply.text) == (pb.MESSAGE_STATE_CUT, pb.FINISH_REASON_CANCELLED,
                                                              "Once")
    assert held_engine.closed_streams == 1  # the engine's stream was closed: the model stops being asked

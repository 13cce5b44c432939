"""Errors quote at most 200 characters of what was sent; conversation titles are one line of plain text."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from storyloom.v1 import conversation_pb2 as cpb
from storyloom.v1 import conversation_pb2_grpc, task_pb2, task_pb2_grpc, voice_pb2, voice_pb2_grpc
from tests.conftest import Caller, StoryloomServer
from tests.support.errors import rich_status, the_error_info


async def refused(call, request, caller: Caller) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(request, metadata=caller.metadata)
    return raised.value


@pytest.mark.parametrize("size", [300, 20_000, 1_000_000])
async def test_an_oversize_name_is_invalid_argument_quoting_at_most_200_characters(
        storyloom_server: StoryloomServer, caller: Caller, size: int) -> None:
    tasks = task_pb2_grpc.TaskServiceStub(storyloom_server.channel)
    error = await refused(tasks.GetTask, task_pb2.GetTaskRequest(name="tasks/" + "x" * size), caller)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert the_error_info(error).reason == "RESOURCE_NAME_INVALID"
    status = rich_status(error)
    assert "x" * 201 not in status.SerializeToString().decode("utf-8", "replace")


async def test_an_oversize_memory_summary_name_and_update_mask_are_quoted_short(
        storyloom_server: StoryloomServer, caller: Caller) -> None:
    voice = voice_pb2_grpc.VoiceServiceStub(storyloom_server.channel)
    error = await refused(voice.GetMemorySummary, voice_pb2.GetMemorySummaryRequest(name="y" * 50_000), caller)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert the_error_info(error).reason == "RESOURCE_NAME_INVALID"
    assert len(rich_status(error).SerializeToString()) < 2000
    conversations = conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)
    created = await conversations.CreateConversation(cpb.CreateConversationRequest(parent="users/me"),
                                                     metadata=caller.metadata)
    error = await refused(conversations.UpdateConversation, cpb.UpdateConversationRequest(
        conversation=cpb.Conversation(name=created.name),
        update_mask=field_mask_pb2.FieldMask(paths=["z" * 30_000])), caller)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    the_error_info(error)
    assert len(rich_status(error).SerializeToString()) < 2000


@pytest.mark.parametrize("title", ["nul\x00here", "bell\x07", "two\nlines", "tab\there", "bidi\u202eevil",
                                   "esc\x1b[31m"])
async def test_a_title_with_control_characters_is_refused(storyloom_server: StoryloomServer, caller: Caller,
                                                          title: str) -> None:
    conversations = conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)
    error = await refused(conversations.CreateConversation, cpb.CreateConversationRequest(
        parent="users/me", conversation=cpb.Conversation(title=title)), caller)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert the_error_info(error).reason == "TITLE_CHARACTERS_INVALID"
    created = await conversations.CreateConversation(cpb.CreateConversationRequest(
        parent="users/me", conversation=cpb.Conversation(title="A fine title")), metadata=caller.metadata)
    error = await refused(conversations.UpdateConversation, cpb.UpdateConversationRequest(
        conversation=cpb.Conversation(name=created.name, title=title),
        update_mask=field_mask_pb2.FieldMask(paths=["title"])), caller)
    assert the_error_info(error).reason == "TITLE_CHARACTERS_INVALID"
    kept = await conversations.GetConversation(cpb.GetConversationRequest(name=created.name),
                                               metadata=caller.metadata)
    assert kept.title == "A fine title"

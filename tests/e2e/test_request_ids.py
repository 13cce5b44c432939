"""Every creating call checks its request_id the same way (AIP-155): empty, or a UUID."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import grpc
import pytest
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from storyloom.v1 import (
    conversation_pb2,
    conversation_pb2_grpc,
    media_pb2,
    media_pb2_grpc,
    story_pb2,
    story_pb2_grpc,
    voice_pb2,
    voice_pb2_grpc,
)
from tests.support.errors import error_info
from tests.support.server import Caller, StoryloomServer

Call = Callable[[grpc.aio.Channel, Caller, str], Awaitable[object]]


async def create_conversation(channel: grpc.aio.Channel, caller: Caller, request_id: str) -> object:
    return await conversation_pb2_grpc.ConversationServiceStub(channel).CreateConversation(
        conversation_pb2.CreateConversationRequest(parent="users/me", request_id=request_id), metadata=caller.metadata)


async def send_message(channel: grpc.aio.Channel, caller: Caller, request_id: str) -> object:
    stub = conversation_pb2_grpc.ConversationServiceStub(channel)
    conversation = await stub.CreateConversation(conversation_pb2.CreateConversationRequest(parent="users/me"),
                                                 metadata=caller.metadata)
    call = stub.SendMessage(conversation_pb2.SendMessageRequest(conversation=conversation.name, text="Hello",
                                                                request_id=request_id), metadata=caller.metadata)
    return [event async for event in call]


async def create_story(channel: grpc.aio.Channel, caller: Caller, request_id: str) -> object:
    return await story_pb2_grpc.StoryServiceStub(channel).CreateStory(story_pb2.CreateStoryRequest(
        parent="users/me", text="Once upon a time a fox found a lantern.", scene_count=1, skip_illustrations=True,
        skip_narration=True, request_id=request_id), metadata=caller.metadata)


async def create_media(channel: grpc.aio.Channel, caller: Caller, request_id: str) -> object:
    return await media_pb2_grpc.MediaServiceStub(channel).CreateMedia(media_pb2.CreateMediaRequest(
        content=httpbody_pb2.HttpBody(content_type="audio/L16;rate=16000", data=b"\x00\x00" * 160),
        request_id=request_id), metadata=caller.metadata)


async def create_voice_session(channel: grpc.aio.Channel, caller: Caller, request_id: str) -> object:
    return await voice_pb2_grpc.VoiceServiceStub(channel).CreateVoiceSession(
        voice_pb2.CreateVoiceSessionRequest(parent="users/me", request_id=request_id), metadata=caller.metadata)


CREATING_CALLS = [create_conversation, send_message, create_story, create_media, create_voice_session]


def violated_fields(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields += [violation.field for violation in bad_request.field_violations]
    return fields


@pytest.mark.parametrize("call", CREATING_CALLS, ids=lambda call: call.__name__)
@pytest.mark.parametrize("request_id", ["c1b2", "x" * 101, "7d3e3f6a5c1b4b8e9f0a2c4d6e8f0a1b",
                                        "{7d3e3f6a-5c1b-4b8e-9f0a-2c4d6e8f0a1b}"])
async def test_a_request_id_that_is_not_a_uuid_is_refused(storyloom_server: StoryloomServer, caller: Caller,
                                                          call: Call, request_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(storyloom_server.channel, caller, request_id)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(refused.value).reason == "REQUEST_ID_INVALID"
    assert violated_fields(refused.value) == ["request_id"]


@pytest.mark.parametrize("call", CREATING_CALLS, ids=lambda call: call.__name__)
async def test_a_uuid_in_either_case_is_a_request_id(storyloom_server: StoryloomServer, caller: Caller,
                                                     call: Call) -> None:
    await call(storyloom_server.channel, caller, str(uuid.uuid4()).upper())

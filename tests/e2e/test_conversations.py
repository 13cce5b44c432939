"""ConversationService on a real server with the offline storyteller: streaming, re-attaching,
cancelling, limits, ownership and requirement extraction."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc, requirements_pb2, task_pb2, task_pb2_grpc
from tests.support.errors import error_info


@pytest.fixture
def stub(storyloom_server) -> conversation_pb2_grpc.ConversationServiceStub:
    return conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)


async def new_conversation(stub, caller, title: str = "") -> str:
    created = await stub.CreateConversation(pb.CreateConversationRequest(
        parent="users/me", conversation=pb.Conversation(title=title)), metadata=caller.metadata)
    return created.name


async def send(stub, caller, conversation: str, text: str, request_id: str = "") -> list[pb.ReplyEvent]:
    call = stub.SendMessage(pb.SendMessageRequest(conversation=conversation, text=text, request_id=request_id),
                            metadata=caller.metadata)
    return [event async for event in call]


def reply_text(events: list[pb.ReplyEvent]) -> str:
    return "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")


async def test_a_reply_streams_accepted_deltas_and_finished_with_the_stored_message(stub, caller):
    conversation = await new_conversation(stub, caller)
    events = await send(stub, caller, conversation, "I want a story about a brave fox named Luna")

    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[0].WhichOneof("event") == "accepted"
    assert events[0].accepted.user_message.text == "I want a story about a brave fox named Luna"
    assert events[0].accepted.user_message.role == pb.MESSAGE_ROLE_USER
    # Streamed, not one blob: the first words go out alone; how many chunks the rest make depends on the loop's pace
    # (what is written while a chunk is being stored joins the next one: two on a machine running two suites).
    assert sum(1 for e in events if e.WhichOneof("event") == "delta") > 1
    final = events[-1]
    assert final.WhichOneof("event") == "finished"
    stored = final.finished.message
    assert stored.text == reply_text(events) and "Luna" in stored.text
    assert stored.state == pb.MESSAGE_STATE_COMPLETE and stored.finish_reason == pb.FINISH_REASON_STOP
    assert stored.usage.output_tokens > 0 and stored.name == final.reply

    listed = await stub.ListMessages(pb.ListMessagesRequest(parent=conversation), metadata=caller.metadata)
    assert [m.role for m in listed.messages] == [pb.MESSAGE_ROLE_ASSISTANT, pb.MESSAGE_ROLE_USER]
    assert listed.messages[0] == stored
    got = await stub.GetConversation(pb.GetConversationRequest(name=conversation), metadata=caller.metadata)
    assert got.message_count == 2 and got.title.startswith("I want a story")


async def test_a_client_that_drops_mid_reply_reattaches_and_assembles_exactly_the_stored_text(storyloom_server, stub,
                                                                                               caller):
    conversation = await new_conversation(stub, caller)
    call = stub.SendMessage(pb.SendMessageRequest(conversation=conversation, text="Hello! Let's make a story."),
                            metadata=caller.metadata)
    seen: list[pb.ReplyEvent] = []
    async for event in call:
        seen.append(event)
        if len(seen) == 4:
            call.cancel()  # the phone went into a tunnel
            break
    reply = seen[0].reply
    await asyncio.sleep(0.05)
    rest = [e async for e in stub.StreamReply(pb.StreamReplyRequest(name=reply, after_sequence=seen[-1].sequence),
                                              metadata=caller.metadata)]
    events = seen + rest
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))  # no duplicate, no gap
    assert events[-1].WhichOneof("event") == "finished"
    assert reply_text(events) == events[-1].finished.message.text
    # And a third connection after the end replays the whole reply identically.
    again = [e async for e in stub.StreamReply(pb.StreamReplyRequest(name=reply), metadata=caller.metadata)]
    assert [e.SerializeToString() for e in again[1:]] == [e.SerializeToString() for e in events[1:]]


async def test_cancelling_the_reply_task_keeps_the_partial_text_marked_as_cut(storyloom_server, stub, caller):
    tasks = task_pb2_grpc.TaskServiceStub(storyloom_server.channel)
    conversation = await new_conversation(stub, caller)
    call = stub.SendMessage(pb.SendMessageRequest(conversation=conversation, text="Tell me about dragons please"),
                            metadata=caller.metadata)
    events = []
    async for event in call:
        events.append(event)
        if len(events) == 3:
            await tasks.CancelTask(task_pb2.CancelTaskRequest(name=events[0].accepted.task), metadata=caller.metadata)
    final = events[-1]
    assert final.WhichOneof("event") == "finished"
    assert final.finished.message.state == pb.MESSAGE_STATE_CUT
    assert final.finished.message.finish_reason == pb.FINISH_REASON_CANCELLED
    assert final.finished.message.text == reply_text(events) and final.finished.message.text
    task = await tasks.GetTask(task_pb2.GetTaskRequest(name=events[0].accepted.task), metadata=caller.metadata)
    assert task.state == task_pb2.TASK_STATE_CANCELLED


async def test_the_reply_task_result_is_the_stored_assistant_message(storyloom_server, stub, caller):
    tasks = task_pb2_grpc.TaskServiceStub(storyloom_server.channel)
    conversation = await new_conversation(stub, caller)
    events = await send(stub, caller, conversation, "hi")
    task = await tasks.GetTask(task_pb2.GetTaskRequest(name=events[0].accepted.task), metadata=caller.metadata)
    result = pb.Message()
    assert task.state == task_pb2.TASK_STATE_SUCCEEDED and task.result.Unpack(result)
    assert result == events[-1].finished.message and task.target == events[-1].reply


async def test_a_retried_send_with_the_same_request_id_stores_one_message(stub, caller):
    conversation = await new_conversation(stub, caller)
    request_id = str(uuid.uuid4())
    first = await send(stub, caller, conversation, "A story about space", request_id)
    second = await send(stub, caller, conversation, "A story about space", request_id)
    assert second[0].reply == first[0].reply and reply_text(second) == reply_text(first)
    listed = await stub.ListMessages(pb.ListMessagesRequest(parent=conversation), metadata=caller.metadata)
    assert len(listed.messages) == 2


async def test_the_eleventh_message_in_a_minute_is_refused_with_retry_info(stub, caller):
    conversation = await new_conversation(stub, caller)
    for i in range(10):
        await send(stub, caller, conversation, f"message {i}")
    with pytest.raises(grpc.aio.AioRpcError) as limited:
        await send(stub, caller, conversation, "one too many")
    assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_info(limited.value).reason == "RATE_LIMIT_EXCEEDED"
    status = rpc_status.from_call(limited.value)
    retry = error_details_pb2.RetryInfo()
    assert any(d.Unpack(retry) for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR))
    assert 0 < retry.retry_delay.ToTimedelta().total_seconds() <= 60
    listed = await stub.ListMessages(pb.ListMessagesRequest(parent=conversation, page_size=100),
                                     metadata=caller.metadata)
    assert len(listed.messages) == 20  # the refused message was not stored


@pytest.mark.parametrize(("text", "reason"), [
    ("", "INVALID_ARGUMENT"),
    ("   \n ", "INVALID_ARGUMENT"),
    ("x" * 4001, "MESSAGE_TOO_LONG"),
    ("hello\x00world", "MESSAGE_CHARACTERS_INVALID"),
    ("bell\x07", "MESSAGE_CHARACTERS_INVALID"),
])
async def test_bad_message_text_is_an_invalid_argument_on_the_text_field(stub, caller, text, reason):
    conversation = await new_conversation(stub, caller)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await send(stub, caller, conversation, text)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(bad.value).reason == reason
    violations = error_details_pb2.BadRequest()
    status = rpc_status.from_call(bad.value)
    assert any(d.Unpack(violations) for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR))
    assert [v.field for v in violations.field_violations] == ["text"]


async def test_another_users_conversation_is_not_found(storyloom_server, stub, caller):
    conversation = await new_conversation(stub, caller)
    events = await send(stub, caller, conversation, "hello")
    stranger = await storyloom_server.new_caller("stranger")
    calls = [
        stub.GetConversation(pb.GetConversationRequest(name=conversation), metadata=stranger.metadata),
        send(stub, stranger, conversation, "let me in"),
        stub.ListMessages(pb.ListMessagesRequest(parent=conversation), metadata=stranger.metadata),
        stub.ExtractRequirements(pb.ExtractRequirementsRequest(conversation=conversation), metadata=stranger.metadata),
        stub.DeleteConversation(pb.DeleteConversationRequest(name=conversation), metadata=stranger.metadata),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await call
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as hidden_reply:
        _ = [e async for e in stub.StreamReply(pb.StreamReplyRequest(name=events[0].reply), metadata=stranger.metadata)]
    assert hidden_reply.value.code() == grpc.StatusCode.NOT_FOUND
    mine = await stub.ListConversations(pb.ListConversationsRequest(parent="users/me"), metadata=stranger.metadata)
    assert list(mine.conversations) == []


async def test_list_messages_gives_the_newest_n_and_pages_back_through_older_ones(stub, caller):
    conversation = await new_conversation(stub, caller)
    for text in ("one", "two", "three"):
        await send(stub, caller, conversation, text)
    newest = await stub.ListMessages(pb.ListMessagesRequest(parent=conversation, page_size=2), metadata=caller.metadata)
    assert [m.role for m in newest.messages] == [pb.MESSAGE_ROLE_ASSISTANT, pb.MESSAGE_ROLE_USER]
    assert newest.messages[1].text == "three" and newest.next_page_token
    texts, token = [], ""
    while True:
        page = await stub.ListMessages(pb.ListMessagesRequest(parent=conversation, page_size=2, page_token=token),
                                       metadata=caller.metadata)
        texts += [m.text for m in page.messages if m.role == pb.MESSAGE_ROLE_USER]
        token = page.next_page_token
        if not token:
            break
    assert texts == ["three", "two", "one"]


async def test_an_archived_conversation_refuses_new_messages(stub, caller):
    conversation = await new_conversation(stub, caller, title="Bedtime")
    archived = await stub.UpdateConversation(pb.UpdateConversationRequest(
        conversation=pb.Conversation(name=conversation, status=pb.CONVERSATION_STATUS_ARCHIVED),
        update_mask={"paths": ["status"]}), metadata=caller.metadata)
    assert archived.status == pb.CONVERSATION_STATUS_ARCHIVED and archived.title == "Bedtime"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await send(stub, caller, conversation, "hello?")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "CONVERSATION_ARCHIVED"


async def test_extract_requirements_reads_what_the_conversation_gathered(stub, caller):
    conversation = await new_conversation(stub, caller)
    await send(stub, caller, conversation, "A story about a brave little fox named Luna")
    await send(stub, caller, conversation, "It happens in an enchanted forest")
    await send(stub, caller, conversation, "Make it funny please, it's for my 5 year old")
    found = await stub.ExtractRequirements(pb.ExtractRequirementsRequest(conversation=conversation),
                                           metadata=caller.metadata)
    assert [c.name for c in found.requirements.characters] == ["Luna"]
    assert "forest" in found.requirements.setting
    assert found.requirements.tone == requirements_pb2.STORY_TONE_FUNNY
    assert found.requirements.audience_age_group == requirements_pb2.AUDIENCE_AGE_GROUP_PRESCHOOL
    assert found.complete and "characters" not in found.missing_fields
    got = await stub.GetConversation(pb.GetConversationRequest(name=conversation), metadata=caller.metadata)
    assert got.requirements == found.requirements and got.status == pb.CONVERSATION_STATUS_COMPLETED


async def test_deleting_a_conversation_removes_its_messages(stub, caller):
    conversation = await new_conversation(stub, caller)
    await send(stub, caller, conversation, "hello")
    await stub.DeleteConversation(pb.DeleteConversationRequest(name=conversation), metadata=caller.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stub.ListMessages(pb.ListMessagesRequest(parent=conversation), metadata=caller.metadata)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND

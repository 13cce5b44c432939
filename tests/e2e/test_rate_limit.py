"""The per-user message limit holds under a burst: 20 messages at once (limit 10 a minute) are 10 accepted and 10
refused, whether they reach one server (SQLite) or two replicas on one PostgreSQL database, across several
conversations."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc

from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc
from tests.support.errors import error_info
from tests.support.server import Caller, caller_in_database

BURST, LIMIT, CONVERSATIONS = 20, 10, 4


async def first_answer(stub: conversation_pb2_grpc.ConversationServiceStub, caller: Caller, conversation: str,
                       text: str) -> str:
    """"accepted", or the reason the message was refused. An accepted reply is read to its end, so that no reply
    is still being written when the server stops."""
    call = stub.SendMessage(pb.SendMessageRequest(conversation=conversation, text=text), metadata=caller.metadata)
    try:
        events = [event.WhichOneof("event") async for event in call]
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
        return error_info(error).reason
    assert events[-1] == "finished", events
    return str(events[0])


async def burst(stubs: list[conversation_pb2_grpc.ConversationServiceStub], caller: Caller) -> Counter[str]:
    conversations = [(await stubs[0].CreateConversation(pb.CreateConversationRequest(
        parent="users/me", conversation=pb.Conversation(title=f"burst {i}")), metadata=caller.metadata)).name
        for i in range(CONVERSATIONS)]
    answers = await asyncio.gather(*(
        first_answer(stubs[i % len(stubs)], caller, conversations[i % CONVERSATIONS], f"message {i}")
        for i in range(BURST)))
    return Counter(answers)


async def count_user_messages(stub: conversation_pb2_grpc.ConversationServiceStub, caller: Caller) -> int:
    listed = await stub.ListConversations(pb.ListConversationsRequest(parent="users/me", page_size=100),
                                          metadata=caller.metadata)
    total = 0
    for conversation in listed.conversations:
        messages = await stub.ListMessages(pb.ListMessagesRequest(parent=conversation.name, page_size=100),
                                           metadata=caller.metadata)
        total += sum(1 for m in messages.messages if m.role == pb.MESSAGE_ROLE_USER)
    return total


async def test_a_burst_across_two_replicas_on_postgresql_accepts_exactly_the_limit(replicas, shared_env):
    caller = await caller_in_database(shared_env["STORYLOOM_DATABASE_URL"])
    a, b = replicas(2)
    async with grpc.aio.insecure_channel(a.address) as to_a, grpc.aio.insecure_channel(b.address) as to_b:
        stubs = [conversation_pb2_grpc.ConversationServiceStub(c) for c in (to_a, to_b)]
        answers = await burst(stubs, caller)
        stored = await count_user_messages(stubs[1], caller)

    assert answers == Counter({"accepted": LIMIT, "RATE_LIMIT_EXCEEDED": BURST - LIMIT})
    assert stored == LIMIT


async def test_a_burst_on_one_server_with_sqlite_accepts_exactly_the_limit(storyloom_server, caller):
    stub = conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)

    answers = await burst([stub], caller)

    assert answers == Counter({"accepted": LIMIT, "RATE_LIMIT_EXCEEDED": BURST - LIMIT})
    assert await count_user_messages(stub, caller) == LIMIT

"""Overload on a real server: past STORYLOOM_ADMITTED_REPLIES a message is refused at once with RESOURCE_EXHAUSTED
and a RetryInfo, storing nothing; once a reply ends the next is taken."""

from __future__ import annotations

import grpc

from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc
from tests.conftest import serving, settings_for_tests
from tests.support.errors import retry_seconds, the_error_info


async def test_a_message_past_the_admitted_replies_is_refused_at_once_and_taken_after_a_reply_ends(tmp_path):
    settings = settings_for_tests(tmp_path / "data", admitted_replies=1, offline_word_delay_seconds=0.01)
    async with serving(settings) as server:
        caller = await server.new_caller()
        stub = conversation_pb2_grpc.ConversationServiceStub(server.channel)
        first, second = [await stub.CreateConversation(pb.CreateConversationRequest(parent="users/me"),
                                                       metadata=caller.metadata) for _ in range(2)]
        writing = stub.SendMessage(pb.SendMessageRequest(conversation=first.name, text="A story about a fox"),
                                   metadata=caller.metadata)
        events = [await writing.read()]  # accepted: the only place is taken
        assert events[0].WhichOneof("event") == "accepted"

        refused = stub.SendMessage(pb.SendMessageRequest(conversation=second.name, text="And one about a bear"),
                                   metadata=caller.metadata)
        try:
            await refused.read()
            raise AssertionError("the second message was taken")
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            reason, delay = the_error_info(exc).reason, retry_seconds(exc)
        assert reason == "REPLIES_AT_CAPACITY" and delay > 0
        stored = await stub.ListMessages(pb.ListMessagesRequest(parent=second.name), metadata=caller.metadata)
        assert list(stored.messages) == []  # nothing stored for the refused message

        while (event := await writing.read()) is not grpc.aio.EOF:
            events.append(event)
        assert events[-1].WhichOneof("event") == "finished"
        again = [e async for e in stub.SendMessage(
            pb.SendMessageRequest(conversation=second.name, text="And one about a bear"), metadata=caller.metadata)]
        assert again[-1].WhichOneof("event") == "finished"

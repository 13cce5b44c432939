"""ConversationService on a real server whose text engine is Gemini, through the real google-genai SDK, against the
strict wire-level fake of the Gemini REST API (tests/support/gemini_fake.py).

Each test scripts what "Gemini" does, talks to the server over gRPC, and checks what the client received, what was
stored, and what crossed the wire to the model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from google.rpc import code_pb2, error_details_pb2, status_pb2

from storyloom.domain.conversations import SYSTEM_INSTRUCTION
from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc, requirements_pb2, task_pb2, task_pb2_grpc
from tests.support.gemini_engines import QUICK_RETRIES, SERVER_TIMEOUTS, text_engine
from tests.support.gemini_fake import (
    GeminiFake,
    Stream,
    blocked_prompt,
    chunk,
    error_body,
    json_reply,
    rate_limited,
    usage,
)
from tests.support.server import Caller, StoryloomServer, serving, settings_for_tests

pytest_plugins = ("tests.support.gemini_fixtures",)
RETRIES = QUICK_RETRIES


@pytest_asyncio.fixture
async def gemini_server(tmp_path: Path, gemini: GeminiFake) -> AsyncIterator[StoryloomServer]:
    # Generous deadlines (the fake answers at once unless told otherwise), short backoffs so retries are quick.
    engine = text_engine(gemini, timeouts=SERVER_TIMEOUTS, retry=RETRIES)
    async with serving(settings_for_tests(tmp_path / "data"), text_engine=engine) as server:
        yield server


@pytest_asyncio.fixture
async def caller(gemini_server: StoryloomServer) -> Caller:
    return await gemini_server.new_caller()


@pytest.fixture
def stub(gemini_server: StoryloomServer) -> conversation_pb2_grpc.ConversationServiceStub:
    return conversation_pb2_grpc.ConversationServiceStub(gemini_server.channel)


async def new_conversation(stub, caller) -> str:
    created = await stub.CreateConversation(pb.CreateConversationRequest(parent="users/me"), metadata=caller.metadata)
    return created.name


async def send(stub, caller, conversation: str, text: str) -> list[tuple[float, pb.ReplyEvent]]:
    """The reply's events, each with the time.monotonic() it arrived at."""
    call = stub.SendMessage(pb.SendMessageRequest(conversation=conversation, text=text), metadata=caller.metadata)
    return [(time.monotonic(), event) async for event in call]


def events_of(timed: list[tuple[float, pb.ReplyEvent]]) -> list[pb.ReplyEvent]:
    return [event for _, event in timed]


def kinds(events: list[pb.ReplyEvent]) -> list[str]:
    return [e.WhichOneof("event") for e in events]


def deltas(events: list[pb.ReplyEvent]) -> list[str]:
    return [e.delta.text for e in events if e.WhichOneof("event") == "delta"]


def detail(status: status_pb2.Status, kind):
    """The one detail of type `kind` in a google.rpc.Status."""
    found = []
    for packed in status.details:
        if packed.Is(kind.DESCRIPTOR):
            value = kind()
            packed.Unpack(value)
            found.append(value)
    assert len(found) == 1, status
    return found[0]


async def stored_messages(stub, caller, conversation: str) -> list[pb.Message]:
    listed = await stub.ListMessages(pb.ListMessagesRequest(parent=conversation), metadata=caller.metadata)
    return list(listed.messages)


# --- streaming -----------------------------------------------------------------------------------------------------


async def test_a_gemini_reply_reaches_the_client_chunk_by_chunk_and_equals_the_stored_message(gemini, stub, caller):
    gemini.script(Stream([chunk("Once "), chunk("upon a "), chunk("time, "),
                          chunk("a fox.", finish_reason="STOP", usage_metadata=usage(120, 9))], delay=0.15))
    conversation = await new_conversation(stub, caller)

    timed = await send(stub, caller, conversation, "A story about a fox, please")

    events = events_of(timed)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    # The first chunk at once; the others as the writer stored them (held till a sentence ends, or 0.3 s).
    assert deltas(events)[0] == "Once " and "".join(deltas(events)) == "Once upon a time, a fox."
    first_delta_at = next(at for at, e in timed if e.WhichOneof("event") == "delta")
    assert first_delta_at < gemini.requests[0].chunk_sent_at[-1] - 0.2  # shown while more was still to come
    final = events[-1]
    assert final.WhichOneof("event") == "finished"
    message = final.finished.message
    assert message.text == "Once upon a time, a fox."
    assert message.state == pb.MESSAGE_STATE_COMPLETE and message.finish_reason == pb.FINISH_REASON_STOP
    assert (message.usage.input_tokens, message.usage.output_tokens) == (120, 9)
    assert (await stored_messages(stub, caller, conversation))[0] == message
    [sent] = gemini.requests
    assert sent.rpc == "streamGenerateContent"
    assert sent.system_text.startswith(SYSTEM_INSTRUCTION.splitlines()[0])
    assert [(c["role"], c["parts"][0]["text"]) for c in sent.body["contents"]] == [
        ("user", "A story about a fox, please")]


async def test_the_next_message_sends_the_conversation_so_far_to_gemini(gemini, stub, caller):
    gemini.script(Stream([chunk("Hello! Who is in your story?", finish_reason="STOP")]),
                  Stream([chunk("A dragon! Where does it live?", finish_reason="STOP")]))
    conversation = await new_conversation(stub, caller)

    await send(stub, caller, conversation, "Hi there")
    await send(stub, caller, conversation, "A dragon")

    assert [(c["role"], c["parts"][0]["text"]) for c in gemini.requests[1].body["contents"]] == [
        ("user", "Hi there"), ("model", "Hello! Who is in your story?"), ("user", "A dragon")]


# --- retries and failures ------------------------------------------------------------------------------------------


async def test_a_rate_limited_gemini_call_is_retried_and_the_client_gets_one_reply(gemini, stub, caller):
    gemini.script(rate_limited(retry_delay="0.05s"), Stream([chunk("Hello "), chunk("again!", finish_reason="STOP")]))
    conversation = await new_conversation(stub, caller)

    events = events_of(await send(stub, caller, conversation, "Hello"))

    assert len(gemini.requests) == 2
    assert kinds(events) == ["accepted", *["delta"] * len(deltas(events)), "finished"]
    assert events[-1].finished.message.text == "Hello again!" == "".join(deltas(events))
    assert [m.text for m in await stored_messages(stub, caller, conversation)] == ["Hello again!", "Hello"]


async def test_a_quota_that_stays_exhausted_ends_the_reply_with_resource_exhausted_and_retry_info(
        gemini, stub, caller):
    gemini.script(*[rate_limited(retry_delay="0.05s")] * RETRIES.attempts)
    conversation = await new_conversation(stub, caller)

    events = events_of(await send(stub, caller, conversation, "Hello"))

    assert len(gemini.requests) == RETRIES.attempts
    error = events[-1].error
    assert events[-1].WhichOneof("event") == "error" and error.code == code_pb2.RESOURCE_EXHAUSTED
    assert detail(error, error_details_pb2.ErrorInfo).reason == "ENGINE_RATE_LIMITED"
    retry = detail(error, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToTimedelta().total_seconds() == pytest.approx(0.05)


async def test_a_gemini_failure_mid_reply_ends_the_stream_with_an_in_band_unavailable_error(
        gemini_server, gemini, stub, caller):
    gemini.script(Stream([chunk("Once "), chunk("upon ")], error=error_body(503, "The model is overloaded.")),
                  Stream([chunk("never sent", finish_reason="STOP")]))
    conversation = await new_conversation(stub, caller)

    events = events_of(await send(stub, caller, conversation, "Tell me a story"))  # the call itself ends OK

    assert kinds(events) == ["accepted", *["delta"] * len(deltas(events)), "error"]  # (chunks as stored together)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    error = events[-1].error
    assert error.code == code_pb2.UNAVAILABLE
    assert detail(error, error_details_pb2.ErrorInfo).reason == "ENGINE_UNAVAILABLE"
    assert gemini.unused_behaviors == 1  # text had been shown: no retry
    reply = (await stored_messages(stub, caller, conversation))[0]
    assert reply.name == events[-1].reply
    assert reply.state == pb.MESSAGE_STATE_FAILED and reply.finish_reason == pb.FINISH_REASON_ERROR
    assert reply.text == "Once upon " == "".join(deltas(events))
    replayed = [e async for e in stub.StreamReply(pb.StreamReplyRequest(name=reply.name), metadata=caller.metadata)]
    assert replayed[1:] == events[1:]
    tasks = task_pb2_grpc.TaskServiceStub(gemini_server.channel)
    task = await tasks.GetTask(task_pb2.GetTaskRequest(name=events[0].accepted.task), metadata=caller.metadata)
    assert task.state == task_pb2.TASK_STATE_FAILED


async def test_a_blocked_prompt_ends_the_reply_with_an_in_band_content_blocked_error(gemini, stub, caller):
    gemini.script(blocked_prompt("SAFETY"), Stream([chunk("never sent", finish_reason="STOP")]))
    conversation = await new_conversation(stub, caller)

    events = events_of(await send(stub, caller, conversation, "Something Gemini refuses"))

    assert [e.WhichOneof("event") for e in events] == ["accepted", "error"]
    error = events[-1].error
    assert error.code == code_pb2.FAILED_PRECONDITION
    info = detail(error, error_details_pb2.ErrorInfo)
    assert info.reason == "CONTENT_BLOCKED" and info.metadata["blockReason"] == "SAFETY"
    assert gemini.unused_behaviors == 1  # a refusal is not retried
    reply = (await stored_messages(stub, caller, conversation))[0]
    assert reply.state == pb.MESSAGE_STATE_FAILED and reply.text == ""
    assert reply.finish_reason == pb.FINISH_REASON_SAFETY


async def test_a_reply_gemini_stops_for_safety_keeps_its_text_with_finish_reason_safety(gemini, stub, caller):
    gemini.script(Stream([chunk("Once upon a time "), chunk(None, finish_reason="SAFETY", usage_metadata=usage(9, 5))]))
    conversation = await new_conversation(stub, caller)

    events = events_of(await send(stub, caller, conversation, "Tell me a story"))

    final = events[-1]
    assert final.WhichOneof("event") == "finished"
    assert final.finished.message.finish_reason == pb.FINISH_REASON_SAFETY
    assert final.finished.message.text == "Once upon a time "
    assert (await stored_messages(stub, caller, conversation))[0].finish_reason == pb.FINISH_REASON_SAFETY


# --- extraction ----------------------------------------------------------------------------------------------------


async def test_extract_requirements_goes_through_geminis_json_output(gemini, stub, caller):
    gemini.script(Stream([chunk("What a lovely idea! Where does Pip live?", finish_reason="STOP")]),
                  json_reply({"characters": [{"name": "Pip", "description": "a brave little mouse"}],
                              "setting": "the moon", "tone": "FUNNY", "audience_age_group": "PRESCHOOL",
                              "extracted_prompt": "A funny story about Pip, a brave little mouse on the moon."}))
    conversation = await new_conversation(stub, caller)
    await send(stub, caller, conversation, "A funny story about a brave little mouse called Pip on the moon")

    found = await stub.ExtractRequirements(pb.ExtractRequirementsRequest(conversation=conversation),
                                           metadata=caller.metadata)

    assert [(c.name, c.description) for c in found.requirements.characters] == [("Pip", "a brave little mouse")]
    assert found.requirements.setting == "the moon"
    assert found.requirements.tone == requirements_pb2.STORY_TONE_FUNNY
    assert found.requirements.audience_age_group == requirements_pb2.AUDIENCE_AGE_GROUP_PRESCHOOL
    assert found.requirements.extracted_prompt == "A funny story about Pip, a brave little mouse on the moon."
    assert "setting" not in found.missing_fields and "characters" not in found.missing_fields
    extraction = gemini.requests[-1]
    assert extraction.rpc == "generateContent"
    assert extraction.generation_config["responseMimeType"] == "application/json"
    prompt = extraction.body["contents"][0]["parts"][0]["text"]
    assert "User: A funny story about a brave little mouse called Pip on the moon" in prompt
    assert "Assistant: What a lovely idea! Where does Pip live?" in prompt
    got = await stub.GetConversation(pb.GetConversationRequest(name=conversation), metadata=caller.metadata)
    assert got.requirements == found.requirements


# --- start-up ------------------------------------------------------------------------------------------------------


async def test_a_server_whose_gemini_model_does_not_exist_says_so_at_start_and_names_the_ones_that_do(
        tmp_path: Path, gemini: GeminiFake, caplog: pytest.LogCaptureFixture):
    engine = text_engine(gemini, model="gemini-2.5-flash", timeouts=SERVER_TIMEOUTS)

    with caplog.at_level(logging.WARNING, logger="storyloom"):
        async with serving(settings_for_tests(tmp_path / "data"), text_engine=engine):
            pass

    [warning] = [r.getMessage() for r in caplog.records if "does not exist" in r.getMessage()]
    assert "gemini-2.5-flash" in warning and "STORYLOOM_GEMINI_MODEL" in warning
    assert "gemini-3.5-flash-lite" in warning
    assert [r.path for r in gemini.model_requests][0] == "/v1beta/models/gemini-2.5-flash"

"""Conversations on in-memory fakes and a clock the test moves: replies streamed from stored chunks, request ids,
the per-user message limit to the second, archiving, cutting a reply, engine failures, recovery after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from storyloom.domain.conversations import ConversationLimits, Conversations, ReplyEvent
from storyloom.domain.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from storyloom.domain.ports.text import EngineRefused
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.tasks import TaskRunner, TaskState
from tests.support.fakes import FakeClock, InMemoryConversationRepository, InMemoryTaskRepository, ScriptedTextEngine

USER = "u1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repo() -> InMemoryConversationRepository:
    return InMemoryConversationRepository()


@pytest.fixture
def engine() -> ScriptedTextEngine:
    return ScriptedTextEngine("The fox found the moon in the pond.")


@pytest.fixture
def tasks_repo() -> InMemoryTaskRepository:
    return InMemoryTaskRepository()


@pytest_asyncio.fixture
async def tasks(tasks_repo: InMemoryTaskRepository, clock: FakeClock) -> AsyncIterator[TaskRunner]:
    runner = TaskRunner(tasks_repo, clock=clock)
    yield runner
    await runner.stop()


@pytest.fixture
def conversations(repo: InMemoryConversationRepository, tasks: TaskRunner, engine: ScriptedTextEngine,
                  clock: FakeClock) -> Conversations:
    return Conversations(repo, tasks, engine, ConversationLimits(messages_per_minute=3), clock=clock)


async def collect(events: AsyncIterator[ReplyEvent]) -> list[ReplyEvent]:
    return [event async for event in events]


async def test_a_reply_streams_accepted_then_its_words_then_the_end_and_all_is_stored(
        conversations: Conversations, repo: InMemoryConversationRepository) -> None:
    conversation = await conversations.create(USER)

    events = await collect(await conversations.send(USER, conversation.id, "Tell me about a fox"))

    assert events[0].sequence == 1 and events[0].user_message is not None
    assert events[0].user_message.text == "Tell me about a fox"
    assert "".join(e.delta for e in events if e.delta) == "The fox found the moon in the pond."
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].finished and events[-1].reply.state == "COMPLETE"
    stored = await repo.get_message(events[-1].reply.id)
    assert stored is not None and stored.text == "The fox found the moon in the pond."
    assert (stored.finish_reason, stored.output_tokens) == ("STOP", 8)


async def test_a_reconnecting_client_gets_only_the_events_after_the_last_it_saw(
        conversations: Conversations) -> None:
    conversation = await conversations.create(USER)
    first = await collect(await conversations.send(USER, conversation.id, "Hello"))

    again = await collect(conversations.stream(USER, first[-1].reply.id, after_sequence=3))

    assert [e.sequence for e in again] == [e.sequence for e in first[3:]]
    assert [e.delta for e in again] == [e.delta for e in first[3:]]


async def test_a_repeated_request_id_streams_the_first_reply_and_stores_nothing_new(
        conversations: Conversations, repo: InMemoryConversationRepository, engine: ScriptedTextEngine) -> None:
    conversation = await conversations.create(USER)
    first = await collect(await conversations.send(USER, conversation.id, "Hello", request_id="r-1"))
    again = await collect(await conversations.send(USER, conversation.id, "Hello", request_id="r-1"))

    assert again[-1].reply.id == first[-1].reply.id
    assert len(repo.messages_by_id) == 2
    assert len(engine.requests) == 1


async def test_the_first_message_names_an_untitled_conversation(conversations: Conversations) -> None:
    conversation = await conversations.create(USER)
    await collect(await conversations.send(USER, conversation.id, "a story about a brave little fox who sings songs"))

    titled = await conversations.get(USER, conversation.id)

    assert titled.title == "a story about a brave little fox who..."


async def test_the_message_limit_counts_the_last_minute_and_says_when_to_retry(
        conversations: Conversations, clock: FakeClock) -> None:
    conversation = await conversations.create(USER)
    for _ in range(3):  # at 0 s, 10 s and 20 s
        await collect(await conversations.send(USER, conversation.id, "Hi"))
        clock.advance(10)

    with pytest.raises(ResourceExhausted) as refused:  # at 30 s: the first frees up at 60 s
        await conversations.send(USER, conversation.id, "Hi")
    assert refused.value.retry_after_seconds == pytest.approx(30)
    assert refused.value.metadata == {"limit": "3", "window": "60s"}

    clock.advance(30.001)
    events = await collect(await conversations.send(USER, conversation.id, "Hi"))
    assert events[-1].finished


async def test_an_archived_conversation_takes_no_messages(conversations: Conversations) -> None:
    conversation = await conversations.create(USER)
    await conversations.update(USER, conversation.id, title=None, status="ARCHIVED")

    with pytest.raises(FailedPrecondition) as refused:
        await conversations.send(USER, conversation.id, "Hello")
    assert refused.value.reason == "CONVERSATION_ARCHIVED"


@pytest.mark.parametrize(("text", "reason"), [("x" * 4001, "MESSAGE_TOO_LONG"), ("   ", "INVALID_ARGUMENT")])
async def test_a_message_that_is_not_plain_text_of_the_right_length_is_refused(
        conversations: Conversations, text: str, reason: str) -> None:
    conversation = await conversations.create(USER)

    with pytest.raises(InvalidArgument) as refused:
        await conversations.send(USER, conversation.id, text)
    assert refused.value.reason == reason


async def test_cutting_a_reply_being_written_keeps_only_what_was_heard(
        conversations: Conversations, engine: ScriptedTextEngine, tasks_repo: InMemoryTaskRepository) -> None:
    engine.gate = asyncio.Event()  # the engine stops after its first word until the gate opens
    conversation = await conversations.create(USER)
    stream = await conversations.send(USER, conversation.id, "Hello")
    accepted = await anext(stream)
    first_word = await anext(stream)
    assert first_word.delta == "The"

    cut = await conversations.cut_reply(USER, accepted.reply.id, "The")
    rest = await collect(stream)

    assert (cut.state, cut.finish_reason, cut.text) == ("CUT", "CANCELLED", "The")
    assert rest[-1].finished and rest[-1].reply.state == "CUT"
    assert tasks_repo.tasks[accepted.reply.task_id].state is TaskState.CANCELLED
    assert engine.closed_streams == 1  # the engine's stream was closed, so it stops writing
    replay = await collect(conversations.stream(USER, accepted.reply.id, 0))
    assert "".join(e.delta for e in replay if e.delta) == "The"


async def test_a_refused_prompt_fails_the_reply_with_the_reason_and_keeps_what_was_written(
        conversations: Conversations, engine: ScriptedTextEngine) -> None:
    engine.fail_with, engine.fail_after = EngineRefused("blocked"), 2
    conversation = await conversations.create(USER)

    events = await collect(await conversations.send(USER, conversation.id, "Hello"))

    assert events[-1].error is not None and events[-1].error.reason == "CONTENT_BLOCKED"
    assert (events[-1].reply.state, events[-1].reply.finish_reason) == ("FAILED", "SAFETY")
    assert events[-1].reply.text == "The fox"


async def test_an_engine_crash_fails_the_reply_without_its_details(conversations: Conversations,
                                                                   engine: ScriptedTextEngine) -> None:
    engine.fail_with = RuntimeError("connection reset by the model host")
    conversation = await conversations.create(USER)

    events = await collect(await conversations.send(USER, conversation.id, "Hello"))

    error = events[-1].error
    assert error is not None and (error.code, error.reason) == ("UNAVAILABLE", "REPLY_FAILED")
    assert "model host" not in error.message


async def test_after_a_crash_a_reply_whose_task_is_gone_ends_failed_as_interrupted(
        conversations: Conversations, repo: InMemoryConversationRepository, clock: FakeClock) -> None:
    conversation = await conversations.create(USER)
    _, reply = await repo.add_exchange(conversation.id, "Hello", "no-such-task", "", clock.now())

    await conversations.recover()

    failed = await repo.get_message(reply.id)
    assert failed is not None and failed.state == "FAILED"
    assert failed.error is not None and failed.error.reason == "REPLY_INTERRUPTED"


async def test_the_requirements_are_read_again_and_restated_every_fourth_user_message(
        conversations: Conversations, engine: ScriptedTextEngine, clock: FakeClock) -> None:
    engine.requirements = StoryRequirements(setting="a pond", tone="CALM")
    conversation = await conversations.create(USER)
    for _ in range(3):
        await collect(await conversations.send(USER, conversation.id, "More"))
        clock.advance(30)  # under the limit of 3 a minute
    assert engine.extractions == 0

    await collect(await conversations.send(USER, conversation.id, "More"))

    assert engine.extractions == 1
    assert engine.requests[-1].requirements == engine.requirements
    assert (await conversations.get(USER, conversation.id)).requirements == engine.requirements


async def test_a_conversation_of_someone_else_is_not_found(conversations: Conversations) -> None:
    conversation = await conversations.create(USER)

    with pytest.raises(NotFound):
        await conversations.get("someone-else", conversation.id)
    with pytest.raises(NotFound):
        await conversations.send("someone-else", conversation.id, "Hello")

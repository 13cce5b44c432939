"""What a reply's engine is given: the domain Conversations on the real SQL repository (SQLite) and the offline
storyteller, behind a spy that records every engine call.

The spy counts every message as exactly 10 tokens, so these tests set the budget in messages: with a budget of 45
tokens, up to four messages go verbatim and a fifth makes the older ones be summarized.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest_asyncio

from storyloom.domain.conversations import ConversationLimits, Conversations, Message
from storyloom.domain.ports.text import ChatEvent, ChatRequest, ChatTurn
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.tasks import TaskRunner
from storyloom.engines.text.offline import OfflineStoryteller
from storyloom.store.conversations import SqlConversationRepository
from storyloom.store.db import Database
from storyloom.store.tasks import SqlTaskRepository

USER = "u-context"
TOKENS_PER_MESSAGE = 10
LIMITS = ConversationLimits(context_token_budget=45, recent_turns=2, restate_every=2)
MESSAGES = [
    "I want a story about a brave little fox named Luna",
    "She loves to sing",
    "It happens in an enchanted forest",
    "Make it funny please",
    "It's for my 5 year old",
    "A happy ending please",
]


@dataclasses.dataclass
class Chat:
    request: ChatRequest
    summaries_before: int  # how many summaries had been written when this reply started
    extractions_before: int


@dataclasses.dataclass
class Summary:
    turns: list[ChatTurn]
    previous: str
    result: str


class RecordingEngine:
    """The offline storyteller, recording what it is asked; every non-empty text costs TOKENS_PER_MESSAGE."""

    name = "recording"

    def __init__(self) -> None:
        self.inner = OfflineStoryteller(word_delay=0)
        self.chats: list[Chat] = []
        self.summaries: list[Summary] = []
        self.extractions: list[list[ChatTurn]] = []

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.chats.append(Chat(request, len(self.summaries), len(self.extractions)))
        async for event in self.inner.chat(request):
            yield event

    async def extract_requirements(self, turns: Sequence[ChatTurn], known: StoryRequirements) -> StoryRequirements:
        self.extractions.append(list(turns))
        return await self.inner.extract_requirements(turns, known)

    async def summarize(self, turns: Sequence[ChatTurn], previous_summary: str) -> str:
        result = await self.inner.summarize(turns, previous_summary)
        self.summaries.append(Summary(list(turns), previous_summary, result))
        return result

    def count_tokens(self, text: str) -> int:
        return TOKENS_PER_MESSAGE if text else 0

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclasses.dataclass
class World:
    conversations: Conversations
    repository: SqlConversationRepository
    engine: RecordingEngine
    conversation_id: str

    async def chat(self, texts: Sequence[str]) -> None:
        for text in texts:
            events = [event async for event in await self.conversations.send(USER, self.conversation_id, text)]
            assert events[-1].finished and events[-1].reply.state == "COMPLETE"

    async def history(self) -> list[Message]:
        return list(reversed(await self.repository.messages(self.conversation_id, limit=100, before_position=None)))


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'context.db'}")
    await db.migrate()
    tasks = TaskRunner(SqlTaskRepository(db))
    repository = SqlConversationRepository(db)
    engine = RecordingEngine()
    # A limit high enough for every message these tests send.
    conversations = Conversations(repository, tasks, engine, dataclasses.replace(LIMITS, messages_per_minute=100))
    await tasks.start()
    conversation = await conversations.create(USER)
    try:
        yield World(conversations, repository, engine, conversation.id)
    finally:
        await tasks.stop()
        await db.close()


def turns_of(messages: Sequence[Message]) -> list[ChatTurn]:
    return [ChatTurn("assistant" if m.role == "assistant" else "user", m.text) for m in messages]


async def test_within_the_budget_the_whole_history_is_sent_verbatim(world: World):
    await world.chat(MESSAGES[:2])

    history = await world.history()
    last = world.engine.chats[-1].request
    assert last.turns == turns_of(history[:3])  # both user messages and the reply between them
    assert last.summary == ""
    assert world.engine.summaries == []


async def test_beyond_the_budget_older_turns_are_summarized_and_the_latest_are_sent_verbatim(world: World):
    await world.chat(MESSAGES[:3])

    history = await world.history()
    [summary] = world.engine.summaries
    assert summary.turns == turns_of(history[:3]) and summary.previous == ""
    third = world.engine.chats[2].request
    assert third.turns == turns_of(history[3:5])  # the last reply and the new message, word for word
    assert third.summary == summary.result and "Luna" in third.summary  # what left the window is in the summary
    stored = await world.repository.get(world.conversation_id)
    assert stored is not None
    assert (stored.summary, stored.summary_covers) == (summary.result, history[2].position)


async def test_the_stored_summary_is_reused_and_extended_never_recomputed(world: World):
    await world.chat(MESSAGES)

    history = await world.history()
    chats, summaries = world.engine.chats, world.engine.summaries
    # Summaries are written only when the window overflows: on the 3rd and 5th messages, not on every turn.
    assert [chat.summaries_before for chat in chats] == [0, 0, 1, 1, 2, 2]
    first, second = summaries
    # The 4th reply is sent the stored summary without a new one being written.
    assert chats[3].request.summary == first.result and chats[3].request.turns == turns_of(history[3:7])
    # The next summary starts from the stored one and reads only the turns it does not cover yet.
    assert second.previous == first.result
    assert second.turns == turns_of(history[3:7])
    assert chats[5].request.summary == second.result
    assert chats[5].request.turns == turns_of(history[7:11])
    stored = await world.repository.get(world.conversation_id)
    assert stored is not None
    assert (stored.summary, stored.summary_covers) == (second.result, history[6].position)


async def test_the_requirements_so_far_are_restated_to_the_engine_periodically(world: World):
    await world.chat(MESSAGES[:4])

    chats, extractions = world.engine.chats, world.engine.extractions
    # Re-extracted every 2nd user message (restate_every), before that reply is written.
    assert [chat.extractions_before for chat in chats] == [0, 1, 1, 2]
    assert chats[0].request.requirements == StoryRequirements()  # nothing known yet
    after_second = chats[1].request.requirements
    assert [c.name for c in after_second.characters] == ["Luna"]
    # In between, the stored requirements are restated as they are.
    assert chats[2].request.requirements == after_second
    # The next extraction reads the whole conversation, summarized turns included, and adds what came since.
    history = await world.history()
    assert extractions[1] == turns_of(history[:7])
    assert "forest" in chats[3].request.requirements.setting
    assert [c.name for c in chats[3].request.requirements.characters] == ["Luna"]
    stored = await world.repository.get(world.conversation_id)
    assert stored is not None and stored.requirements == chats[3].request.requirements

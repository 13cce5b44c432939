"""The in-memory conversation repository keeps what the store keeps (store/conversations.py), so a domain test on it
sees what production would."""

from __future__ import annotations

import datetime as dt

from storyloom.domain.conversations import Conversation, Message
from tests.support.fakes import InMemoryConversationRepository

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def a_reply(repo: InMemoryConversationRepository) -> Message:
    conversation = await repo.create(Conversation("c1", "u1", "", "ACTIVE", 0, NOW, NOW), "")
    _, reply = await repo.add_exchange(conversation.id, "Tell me a story", "t1", "", NOW)
    return reply


async def test_a_finished_reply_has_the_text_and_count_of_the_chunks_its_writer_stored() -> None:
    repo = InMemoryConversationRepository()
    reply = await a_reply(repo)

    finished = await repo.finish_message(reply.id, state="COMPLETE", finish_reason="STOP", input_tokens=3,
                                         output_tokens=4, error=None, stored=["Once ", "upon ", "a time."])

    assert (finished.text, finished.chunk_count) == ("Once upon a time.", 3)
    assert await repo.get_message(reply.id) == finished


"""Memory search by meaning with Gemini embeddings (embedContent through the real SDK, against the strict wire
fake), on SQLite and PostgreSQL. The fake embeds by words (texts sharing words are close), which is enough to see
what is sent, stored, ranked and what happens when embedding fails.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from storyloom.domain.memory import Memories
from storyloom.engines.gemini_embedder import GeminiEmbedder
from storyloom.store.db import Database
from storyloom.store.voice import SqlMemoryRepository
from tests.support.gemini_engines import connect
from tests.support.gemini_fake import GeminiFake, model_info, unavailable

pytest_plugins = ("tests.support.gemini_fixtures",)

# On the fake's word vectors a memory sharing a word with the query scores above 0.1, one sharing none 0.
FAKE_MIN_SIMILARITY = 0.1


@pytest.fixture
def repository(db: Database) -> SqlMemoryRepository:
    return SqlMemoryRepository(db)


def embedder(fake: GeminiFake, **options: Any) -> GeminiEmbedder:
    return GeminiEmbedder(connect(fake), min_similarity=FAKE_MIN_SIMILARITY, **options)


@pytest_asyncio.fixture
async def memories(repository: SqlMemoryRepository, gemini: GeminiFake) -> AsyncIterator[Memories]:
    memories = Memories(repository, embedder(gemini))
    yield memories
    await memories.aclose()


def texts_sent(fake: GeminiFake, index: int) -> list[tuple[str, str]]:
    """(task type, text) of each text in the fake's embedding request number `index`."""
    body = fake.embedding_requests[index].body
    return [(each["taskType"], each["content"]["parts"][0]["text"]) for each in body["requests"]]


async def test_each_memory_is_embedded_as_a_document_when_it_is_added_and_its_vector_is_stored(
        gemini: GeminiFake, memories: Memories, repository: SqlMemoryRepository) -> None:
    added = await memories.add("alice", "My dog is called Biscuit", "What a lovely name!")

    [request] = gemini.embedding_requests
    assert (request.version, request.model, request.rpc) == ("v1beta", "gemini-embedding-001", "batchEmbedContents")
    assert texts_sent(gemini, 0) == [("RETRIEVAL_DOCUMENT", added.text)]
    assert request.body["requests"][0]["outputDimensionality"] == 768
    [(stored, vector)] = await repository.embeddings("alice", "gemini-embedding-001")
    assert stored == added and len(vector) == 768


async def test_a_query_is_embedded_as_a_query_and_ranks_the_users_memories_by_meaning(
        gemini: GeminiFake, memories: Memories) -> None:
    biscuit = await memories.add("alice", "My dog Biscuit loves the beach")
    dog = await memories.add("alice", "I have a dog")
    await memories.add("alice", "Pizza is my favourite food")
    await memories.add("bob", "My dog Biscuit loves the beach too")  # another user's

    found = await memories.query("alice", "Does Biscuit the dog like the beach?")

    assert [match.memory.id for match in found] == [biscuit.id, dog.id]  # the pizza is unrelated
    assert found[0].score > found[1].score >= FAKE_MIN_SIMILARITY
    assert texts_sent(gemini, 4) == [("RETRIEVAL_QUERY", "Does Biscuit the dog like the beach?")]
    assert len(gemini.embedding_requests) == 5  # four memories, one query: nothing embedded twice


async def test_a_query_of_common_words_sends_nothing_and_a_voice_session_can_be_left_out(
        gemini: GeminiFake, memories: Memories) -> None:
    earlier = await memories.add("carol", "Dragons can fly over the sea", session_id="s1")
    now = await memories.add("carol", "A dragon lives in the sea cave", session_id="s2")

    assert await memories.query("carol", "what is it") == []
    assert len(gemini.embedding_requests) == 2
    found = await memories.relevant("carol", "a dragon by the sea", 5, exclude_session="s2")
    assert [match.memory.id for match in found] == [earlier.id]
    assert now.id not in {match.memory.id for match in found}


async def test_a_memory_whose_embedding_failed_is_kept_and_embedded_at_the_next_query(
        gemini: GeminiFake, memories: Memories, caplog: pytest.LogCaptureFixture) -> None:
    gemini.script_embeddings(*[unavailable()] * 3)

    with caplog.at_level(logging.WARNING):
        kept = await memories.add("dora", "I love rockets and the moon")
    assert any("stored without its vector" in record.getMessage() for record in caplog.records)

    found = await memories.query("dora", "a rocket to the moon")

    assert [match.memory.id for match in found] == [kept.id]
    assert texts_sent(gemini, 3) == [("RETRIEVAL_DOCUMENT", kept.text)]  # backfilled before the query
    assert texts_sent(gemini, 4)[0][0] == "RETRIEVAL_QUERY"


async def test_when_the_query_cannot_be_embedded_the_memories_are_searched_by_their_words(
        gemini: GeminiFake, memories: Memories, caplog: pytest.LogCaptureFixture) -> None:
    rockets = await memories.add("erin", "I love rockets")
    await memories.add("erin", "Pizza is my favourite food")
    gemini.script_embeddings(*[unavailable()] * 3)

    with caplog.at_level(logging.WARNING):
        found = await memories.query("erin", "rockets")

    assert [match.memory.id for match in found] == [rockets.id]
    assert any("searching the words instead" in record.getMessage() for record in caplog.records)


async def test_vectors_of_another_model_are_never_compared_and_a_new_model_embeds_everything_once(
        gemini: GeminiFake, repository: SqlMemoryRepository) -> None:
    first = Memories(repository, embedder(gemini))
    stories = [await first.add("finn", f"Story number {n} about a brave knight") for n in range(3)]
    await first.aclose()
    gemini.models["gemini-embedding-2"] = model_info("gemini-embedding-2", ("embedContent",))
    second = Memories(repository, embedder(gemini, model="gemini-embedding-2"))

    found = await second.query("finn", "a brave knight")
    await second.aclose()

    assert {match.memory.id for match in found} == {story.id for story in stories}
    backfill = gemini.embedding_requests[3]
    assert backfill.model == "gemini-embedding-2" and len(backfill.body["requests"]) == 3
    assert len(await repository.embeddings("finn", "gemini-embedding-001")) == 3
    assert len(await repository.embeddings("finn", "gemini-embedding-2")) == 3


async def test_the_embedding_model_check_knows_embedding_models_serve_embed_content(gemini: GeminiFake) -> None:
    engine = embedder(gemini)
    wrong = embedder(gemini, model="gemini-3.5-flash-lite")
    try:
        assert await engine.check_model() is True
        assert await wrong.check_model() is False  # a text model does not embed
    finally:
        await engine.aclose()
        await wrong.aclose()

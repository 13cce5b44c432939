"""The voice store on SQLite (FTS5, bm25) and PostgreSQL (tsvector, ts_rank): memories ranked by relevance, memory
summaries, voice sessions. Every test takes `database_url`, so each runs on both backends."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import delete, func, select, text

from storyloom.domain.errors import InvalidArgument
from storyloom.domain.memory import Memories, Memory, search_terms, summarize
from storyloom.domain.voice import VoiceSession
from storyloom.store.db import Database
from storyloom.store.models import MemoryRow
from storyloom.store.voice import SqlMemoryRepository, SqlVoiceSessionRepository

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture
def memories(db: Database) -> Memories:
    return Memories(SqlMemoryRepository(db))


def memory(user: str, user_text: str, assistant_text: str = "", *, session: str = "", at: dt.datetime = T0) -> Memory:
    return Memory(uuid.uuid4().hex, user, user_text, assistant_text, session, at)


# --- search terms (no database) ----------------------------------------------------------------------------------


def test_search_terms_are_the_words_that_matter_lower_cased_once_each() -> None:
    assert search_terms("What is my dog's NAME? My dog!") == ["dogs", "name", "dog"]
    assert search_terms("the and of it") == []
    assert search_terms('Drachen "OR" NEAR(x) * ^ -') == ["drachen", "near"]  # never query syntax


def test_a_summary_names_the_count_the_frequent_topics_and_the_latest_memory() -> None:
    recent = [memory("u", "I love dragons and the sea"), memory("u", "My dragon is called Blaze"),
              memory("u", "Dragons can fly over the sea")]
    summary = summarize(recent, 3)
    assert summary.startswith("3 remembered exchanges.")
    assert "dragons" in summary and "sea" in summary and "I love dragons" in summary
    assert summarize([], 0) == "Nothing is remembered yet."


# --- memories ------------------------------------------------------------------------------------------------------


async def test_a_query_ranks_the_memories_sharing_the_most_and_rarest_words_first(db, memories: Memories) -> None:
    repo = SqlMemoryRepository(db)
    best = await repo.add(memory("alice", "My dog is called Biscuit and he loves the beach"))
    other = await repo.add(memory("alice", "I have a dog"))
    await repo.add(memory("alice", "We went to the zoo and saw a giraffe"))
    await repo.add(memory("alice", "Pizza is my favourite food", "Pizza is delicious!"))
    await repo.add(memory("bob", "My dog Biscuit loves the beach too"))  # another user's

    found = await memories.query("alice", "Where does my dog Biscuit like to go? The beach?")

    assert [m.memory.id for m in found] == [best.id, other.id]
    assert found[0].score > found[1].score > 0
    assert found[0].memory == best


async def test_a_query_finds_other_forms_of_a_word_and_the_assistants_words(memories: Memories) -> None:
    dragons = await memories.add("carol", "Tell me about dragons")
    knight = await memories.add("carol", "Who is the hero?", "The hero is a knight called Sir Bramble")

    assert [m.memory.id for m in await memories.query("carol", "a dragon story")] == [dragons.id]
    assert [m.memory.id for m in await memories.query("carol", "bramble")] == [knight.id]


async def test_what_the_user_said_weighs_more_than_what_the_assistant_said(memories: Memories) -> None:
    said = await memories.add("dora", "I love rockets")
    answered = await memories.add("dora", "What can we play?", "We could build rockets")

    found = await memories.query("dora", "rockets")
    assert [m.memory.id for m in found] == [said.id, answered.id]


async def test_a_query_of_common_words_only_matches_nothing_and_page_size_is_checked(memories: Memories) -> None:
    await memories.add("erin", "What is it about?")
    assert await memories.query("erin", "what is it") == []
    with pytest.raises(InvalidArgument):
        await memories.query("erin", "")
    with pytest.raises(InvalidArgument):
        await memories.query("erin", "x" * 1001)
    with pytest.raises(InvalidArgument):
        await memories.query("erin", "dragons", -1)


async def test_page_size_caps_the_matches_and_a_voice_session_can_be_left_out(db, memories: Memories) -> None:
    repo = SqlMemoryRepository(db)
    for i in range(8):
        await repo.add(memory("fay", f"Story number {i} about a unicorn", session="s1" if i < 6 else "s2"))

    assert len(await memories.query("fay", "unicorn")) == 5  # the default
    assert len(await memories.query("fay", "unicorn", 3)) == 3
    assert len(await memories.query("fay", "unicorn", 500)) == 8  # capped at 50
    kept = await memories.relevant("fay", "unicorn", 5, exclude_session="s1")
    assert len(kept) == 2 and {m.memory.session_id for m in kept} == {"s2"}


async def test_memories_are_checked_and_stored_trimmed(memories: Memories) -> None:
    with pytest.raises(InvalidArgument):
        await memories.add("gus", "   ")
    with pytest.raises(InvalidArgument):
        await memories.add("gus", "x" * 4001)
    with pytest.raises(InvalidArgument):
        await memories.add("gus", "bell \x07")
    added = await memories.add("gus", "  I like trains  ", " Choo choo! ", "sess1")
    assert (added.user_text, added.assistant_text, added.session_id) == ("I like trains", "Choo choo!", "sess1")
    assert added.create_time.tzinfo is not None


async def test_the_summary_counts_a_users_memories_and_knows_the_newest(db, memories: Memories) -> None:
    repo = SqlMemoryRepository(db)
    empty = await memories.summary("hal")
    assert (empty.memory_count, empty.last_update_time) == (0, None)
    await repo.add(memory("hal", "I am five years old", at=T0))
    await repo.add(memory("hal", "My sister is called Mia", at=T0 + dt.timedelta(hours=1)))
    await repo.add(memory("ivy", "Not hal's", at=T0 + dt.timedelta(hours=2)))

    summary = await memories.summary("hal")

    assert summary.memory_count == 2
    assert summary.last_update_time == T0 + dt.timedelta(hours=1)
    assert "Mia" in summary.summary and summary.summary.startswith("2 remembered exchanges.")


async def test_deleted_memories_leave_the_search_index(db, memories: Memories) -> None:
    kept = await memories.add("jay", "Penguins live where it is cold")
    gone = await memories.add("jay", "Penguins cannot fly")
    async with db.begin() as session, session.begin():
        await session.execute(delete(MemoryRow).where(MemoryRow.id == gone.id))
    assert [m.memory.id for m in await memories.query("jay", "penguins")] == [kept.id]
    if db.is_sqlite:
        async with db.begin() as session:
            indexed = await session.scalar(text("SELECT count(*) FROM memories_fts"))
        assert indexed == 1


async def test_concurrent_adds_are_all_found(memories: Memories) -> None:
    await asyncio.gather(*(memories.add("kim", f"Castle number {i}") for i in range(20)))
    assert len(await memories.query("kim", "castle", 50)) == 20


async def test_postgresql_ranks_with_the_gin_index_expression(db) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only")
    async with db.begin() as session:
        indexes = (await session.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'memories' AND indexname = 'memories_fts_gin'"))).all()
    assert len(indexes) == 1 and "gin" in indexes[0][0] and "to_tsvector" in indexes[0][0]


# --- voice sessions ------------------------------------------------------------------------------------------------


def session(user: str = "alice", **fields: object) -> VoiceSession:
    values: dict[str, object] = dict(id=uuid.uuid4().hex, user_id=user, conversation_id=uuid.uuid4().hex,
                                     language_code="en", voice="", turn_count=0, create_time=T0, last_use_time=T0)
    values.update(fields)
    return VoiceSession(**values)  # type: ignore[arg-type]


async def test_a_session_reads_back_as_stored_and_counts_turns(db) -> None:
    repo = SqlVoiceSessionRepository(db)
    created, fresh = await repo.create(session(voice="joe"), "")
    assert fresh and await repo.get(created.id) == created

    later = T0 + dt.timedelta(minutes=5)
    updated = await asyncio.gather(*(repo.update(created.id, turns_added=1, last_use_time=later) for _ in range(5)))
    assert max(u.turn_count for u in updated if u) == 5
    got = await repo.get(created.id)
    assert got is not None and got.turn_count == 5 and got.last_use_time == later and got.create_time == T0
    assert await repo.update("missing", turns_added=1) is None


async def test_a_repeated_session_request_id_returns_the_first_session(db) -> None:
    repo = SqlVoiceSessionRepository(db)
    first, created = await repo.create(session(), "req-1")
    again, created_again = await repo.create(session(), "req-1")
    assert created and not created_again and again == first
    assert await repo.find_by_request("alice", "req-1") == first
    other, created_other = await repo.create(session("bob"), "req-1")
    assert created_other and other.id != first.id


async def test_deleting_a_session_deletes_only_it(db) -> None:
    repo = SqlVoiceSessionRepository(db)
    one, _ = await repo.create(session(), "")
    two, _ = await repo.create(session(), "")
    assert await repo.delete(one.id) and not await repo.delete(one.id)
    assert await repo.get(one.id) is None and await repo.get(two.id) == two
    async with db.begin() as s:
        assert await s.scalar(select(func.count()).select_from(MemoryRow)) == 0

"""A cancelled caller never cuts a database transaction short, on SQLite and PostgreSQL.

A voice barge-in cancels the reply being written in the middle of its store calls. Cut mid-statement, a connection is
discarded by SQLAlchemy, and an SQLite connection closed with a statement still open lived on as a zombie holding the
database's write lock: every other user's writes then failed with "database is locked". These tests cancel store
calls at random points, many times, and check what must hold after each: nothing is discarded, another writer gets
through at once, every write is whole or absent, and PostgreSQL has no session left idle in a transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import sqlite3
import time
import uuid

import pytest
from sqlalchemy import func, select

from storyloom.domain.conversations import Conversation, Message
from storyloom.domain.tasks import NewTask, Task, TaskEvent, TaskState
from storyloom.store.conversations import SqlConversationRepository
from storyloom.store.db import Database, RollbackOnCloseConnection, run_to_completion
from storyloom.store.models import ReplyChunkRow, UserRow
from tests.support.databases import discarded_connections, idle_in_transaction

ROUNDS = 150
# Enough for a writer that waits its turn behind short transactions; far less than SQLite's busy timeout, after
# which a write blocked by a leaked lock fails.
PROMPT_WRITE_SECONDS = 5.0


async def a_reply(repo: SqlConversationRepository, db: Database) -> tuple[Conversation, Message]:
    now = dt.datetime.now(dt.UTC)
    async with db.begin() as session, session.begin():
        session.add(UserRow(id="writer", display_name="writer", create_time=now))
    conversation = await repo.create(Conversation(uuid.uuid4().hex, "writer", "", "ACTIVE", 0, now, now), "")
    task = NewTask(Task(uuid.uuid4().hex, "writer", "conversation.reply", TaskState.PENDING, now, now, last_sequence=1),
                   TaskEvent("", 1, now, TaskState.PENDING, "", 0, ""))
    task = NewTask(task.task, dataclasses.replace(task.first_event, task_id=task.task.id))
    _, _, reply = await repo.add_exchange(conversation.id, "Tell me a story.", task, uuid.uuid4().hex, "", now)
    return conversation, reply


async def test_cancelled_writes_leave_no_lock_no_torn_write_and_no_discarded_connection(db: Database,
                                                                                        database_url: str) -> None:
    repo = SqlConversationRepository(db)
    conversation, reply = await a_reply(repo, db)
    discarded = discarded_connections(db)
    rng = random.Random(1234)

    async def write_words() -> None:
        while True:
            await repo.append_chunk(reply.id, "word ")

    for round_number in range(ROUNDS):
        # Three writers contend, so cancellations land while waiting for the lock as well as inside a transaction.
        writers = [asyncio.create_task(write_words()) for _ in range(3)]
        await asyncio.sleep(rng.uniform(0, 0.01))
        for writer in writers:
            writer.cancel()
            if rng.random() < 0.3:  # cancelled again while it finishes
                await asyncio.sleep(rng.uniform(0, 0.002))
                writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        # The cancelled tasks (and what their exceptions reference) are still alive here, as they may be in a
        # server for minutes: another writer must get through all the same.
        started = time.monotonic()
        await asyncio.wait_for(repo.update(conversation.id, title=f"round {round_number}"), PROMPT_WRITE_SECONDS * 3)
        waited = time.monotonic() - started
        assert waited < PROMPT_WRITE_SECONDS, f"round {round_number}: a write waited {waited:.1f} s for a lock"
        del writers

    assert discarded == [], "a cancellation cut a statement short and its connection was thrown away"
    stored = await repo.get_message(reply.id)
    assert stored is not None and stored.chunk_count > ROUNDS
    async with db.begin() as session:
        chunks = await session.scalar(select(func.count()).where(ReplyChunkRow.message_id == reply.id))
    assert chunks == stored.chunk_count and stored.text == "word " * stored.chunk_count  # no torn write
    if not db.is_sqlite:
        assert await idle_in_transaction(database_url) == []


async def test_cancelled_hot_writes_are_whole_or_absent_and_leave_no_lock(db: Database, database_url: str) -> None:
    """The hot writes (`one_transaction`: no task of their own) are cancelled while they wait for their turn and,
    on PostgreSQL and SQLite's threaded way, inside their transaction: each is stored whole or not at all."""
    repo = SqlConversationRepository(db)
    conversation, reply = await a_reply(repo, db)
    discarded = discarded_connections(db)
    rng = random.Random(4321)
    indexes = iter(range(1, 1_000_000))

    async def write_chunks() -> None:
        while True:
            index = next(indexes)
            await repo.append_chunks([(reply.id, index, f"{index} ")])
            await asyncio.sleep(0)  # (inline on SQLite, a write need not give the loop a turn)

    for round_number in range(ROUNDS // 3):
        writers = [asyncio.create_task(write_chunks()) for _ in range(3)]
        await asyncio.sleep(rng.uniform(0, 0.01))
        for writer in writers:
            writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        started = time.monotonic()
        await asyncio.wait_for(repo.update(conversation.id, title=f"round {round_number}"), PROMPT_WRITE_SECONDS * 3)
        assert time.monotonic() - started < PROMPT_WRITE_SECONDS, f"round {round_number}: a write waited for a lock"
        del writers

    assert discarded == [], "a cancellation cut a statement short and its connection was thrown away"
    assert [text for text in await repo.chunks(reply.id, 0)]  # some were stored
    async with db.begin() as session:
        texts = (await session.scalars(select(ReplyChunkRow.text).where(ReplyChunkRow.message_id == reply.id))).all()
    assert all(text.strip().isdigit() for text in texts)  # no torn write
    if not db.is_sqlite:
        assert await idle_in_transaction(database_url) == []


async def test_a_hot_write_on_sqlite_runs_inline_without_a_task_of_its_own(tmp_path) -> None:
    """On SQLite (synchronous=NORMAL) a chat send's writes run on the event loop: a task per call (and two passes of
    the loop) cost more than the write itself."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await db.migrate()
    try:
        repo = SqlConversationRepository(db)
        _, reply = await a_reply(repo, db)
        created: list[object] = []
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda loop, coro: created.append(coro) or asyncio.Task(coro, loop=loop))
        try:
            await repo.append_chunks([(reply.id, 1, "Once ")])
            await repo.finish_message(reply.id, state="COMPLETE", finish_reason="STOP", input_tokens=1,
                                      output_tokens=1, error=None, stored=["Once "])
        finally:
            loop.set_task_factory(None)
        assert created == []
    finally:
        await db.close()


async def test_a_cancelled_caller_hears_of_it_only_after_the_work_is_done() -> None:
    finished = asyncio.Event()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        finished.set()
        return "done"

    caller = asyncio.create_task(run_to_completion(work()))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.sleep(0.01)
    caller.cancel()  # twice: still waits
    assert not caller.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert finished.is_set()
    assert await run_to_completion(asyncio.sleep(0, "uncancelled")) == "uncancelled"


def test_an_sqlite_connection_closed_mid_statement_releases_the_write_lock(tmp_path) -> None:
    path = tmp_path / "locks.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (x INTEGER)")
        setup.execute("INSERT INTO t VALUES (1), (2)")
    cancelled = sqlite3.connect(path, factory=RollbackOnCloseConnection)
    cancelled.execute("UPDATE t SET x = x + 1")  # takes the write lock
    unfinished = cancelled.execute("SELECT x FROM t")
    unfinished.fetchone()  # a statement left open, as by a caller cancelled between its rows
    cancelled.close()
    other = sqlite3.connect(path, timeout=0.5)
    other.execute("UPDATE t SET x = 0")  # "database is locked" with a plain sqlite3 connection
    other.commit()
    assert other.execute("SELECT x FROM t").fetchall() == [(0,), (0,)]
    other.close()
    del unfinished

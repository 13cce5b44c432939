"""SQLite's inline writer and a busy database: `Database.transaction` tries a write on the event loop first and,
when another connection holds the write lock, runs it again on the threaded engine, which waits for the lock there.
Only SQLite's busy answer (SQLITE_BUSY, SQLITE_LOCKED) may take that second way; every other error is raised at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from storyloom.store.db import Database


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "busy.db"
    with contextlib.closing(sqlite3.connect(path)) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE notes (body TEXT)")
    return path


@pytest_asyncio.fixture
async def db(path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        yield database
    finally:
        await database.close()


def way(db: Database, connection: Connection) -> str:
    return "threaded" if connection.engine is db.engine.sync_engine else "inline"


async def test_a_write_that_finds_the_database_busy_runs_again_on_the_threaded_engine(db: Database, path: Path) -> None:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another connection (another process, say) holds the write lock
    loop = asyncio.get_running_loop()
    threaded_try = asyncio.Event()
    ways: list[str] = []

    def work(connection: Connection) -> None:
        ways.append(way(db, connection))
        if ways[-1] == "threaded":
            loop.call_soon_threadsafe(threaded_try.set)  # it now waits for the lock in SQLite's busy handler
        connection.execute(text("INSERT INTO notes VALUES ('kept')"))

    try:
        write = asyncio.create_task(db.transaction(work))
        await asyncio.wait_for(threaded_try.wait(), 10)
        holder.execute("COMMIT")
        await write
    finally:
        holder.close()
    assert ways == ["inline", "threaded"]
    assert [row.body for row in await db.fetch(text("SELECT body FROM notes"))] == ["kept"]  # the busy try left none


async def test_another_error_on_the_inline_writer_is_raised_without_a_second_try(db: Database) -> None:
    ways: list[str] = []

    def work(connection: Connection) -> None:
        ways.append(way(db, connection))
        # "no such table"; its message holds the statement, and so the word "locked", which a check of the
        # message's text took for busy.
        connection.execute(text("INSERT INTO locked_notes VALUES ('lost')"))

    with pytest.raises(OperationalError) as raised:
        await db.transaction(work)
    assert ways == ["inline"]
    error = raised.value.orig
    assert isinstance(error, sqlite3.OperationalError) and error.sqlite_errorname == "SQLITE_ERROR"

"""PostgreSQL's notifier: a notice reaches the other replicas' listeners, sent in one round trip."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from storyloom.store.db import Database
from storyloom.store.pg_notifier import PostgresNotifier
from tests.support.sql_counter import counting_statements


@contextlib.asynccontextmanager
async def two_replicas(db: Database) -> AsyncIterator[tuple[PostgresNotifier, PostgresNotifier]]:
    """The notifiers of two replicas of one database, listening."""
    if db.is_sqlite:
        pytest.skip("SQLite's notifier is in-process")
    here, there = PostgresNotifier(db), PostgresNotifier(db)
    await here.start()
    await there.start()
    try:
        yield here, there
    finally:
        await here.aclose()
        await there.aclose()


async def test_a_notice_reaches_another_replica_without_a_connection_of_the_main_pool(db: Database) -> None:
    """Through the main pool a notice took a checkout and a transaction: a pre-ping, BEGIN, the pg_notify and
    COMMIT, four round trips for the commonest statement of a chat reply. It goes out in autocommit instead."""
    async with two_replicas(db) as (here, there):
        assert here.live and there.live
        heard: asyncio.Queue[str | None] = asyncio.Queue()
        there.listen("story", heard.put_nowait)
        checkouts = 0

        def checked_out(*_args: Any) -> None:
            nonlocal checkouts
            checkouts += 1

        event.listen(db.engine.sync_engine, "checkout", checked_out)
        await here.publish("story", "s1")
        assert await asyncio.wait_for(heard.get(), timeout=10) == "s1"
        assert checkouts == 0


async def test_notices_published_at_once_go_out_in_one_statement(db: Database) -> None:
    """A chat reply publishes about nine notices, and under load many replies publish at once: those published
    while a statement is being sent go out together in the next, every one heard."""
    async with two_replicas(db) as (here, there):
        heard: asyncio.Queue[str | None] = asyncio.Queue()
        there.listen("story", heard.put_nowait)
        keys = [f"s{i}" for i in range(5)]
        with counting_statements(db.engine) as statements:
            await asyncio.gather(*(here.publish("story", key) for key in keys))
        assert len(statements) == 1, statements.statements
        assert sorted([await asyncio.wait_for(heard.get(), timeout=10) for _ in keys]) == keys

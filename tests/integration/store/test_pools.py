"""PostgreSQL's connection pools keep what a burst opened: a connection opened over the pool's size was closed on its
return whenever that many were idle, so a busy server opened and closed one for a good part of its statements."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storyloom.store.db import POSTGRES_AUTOCOMMIT_POOL_SIZE, POSTGRES_POOL_SIZE, Database


async def hold_at_once(engine: AsyncEngine, connections: int) -> None:
    """Takes `connections` connections of the engine's pool at once (a statement on each), then gives them back."""
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(connections):
            connection = await stack.enter_async_context(engine.connect())
            await connection.execute(text("SELECT 1"))


@pytest.mark.parametrize("pool", ["main", "autocommit"])
async def test_a_second_burst_takes_the_connections_the_first_opened(db: Database, pool: str) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL's pools")
    engine, size = ((db.engine, POSTGRES_POOL_SIZE) if pool == "main"
                    else (db._autocommit, POSTGRES_AUTOCOMMIT_POOL_SIZE))
    assert engine is not None
    opened = 0

    def count(*_args: Any) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)
    await hold_at_once(engine, size)
    after_the_first = opened
    await hold_at_once(engine, size)
    assert opened == after_the_first


@contextlib.contextmanager
def counting_greenlets() -> Any:
    """How many greenlets SQLAlchemy's asyncio bridge starts while the block runs (`greenlet_spawn` starts one for
    each call it runs: a checkout, a statement, a return to the pool...)."""
    from sqlalchemy.util.concurrency import _concurrency_shim

    started = [0]
    spawned = _concurrency_shim._AsyncIoGreenlet

    class Counted(spawned):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any) -> None:
            started[0] += 1
            super().__init__(*args)

    _concurrency_shim._AsyncIoGreenlet = Counted
    try:
        yield started
    finally:
        _concurrency_shim._AsyncIoGreenlet = spawned


async def test_a_one_statement_write_or_a_read_takes_one_greenlet_on_postgresql(db: Database) -> None:
    """The statements on the way to a chat reply's first text (the send, its first chunk) and the hot reads check
    their connection out, run and return it in one call of the event loop's bridge: the async engine's connect(),
    run_sync (or execute) and close() took one greenlet each, about 0.1 ms of the event loop a statement."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's autocommit pool (SQLite's hot statements run inline)")
    await db.fetch(text("SELECT 1"))  # (the pool's first connection opened)
    with counting_greenlets() as started:
        written = await db.transaction(lambda connection: connection.execute(text("SELECT 2")).scalar_one(),
                                       one_statement=True)
    with counting_greenlets() as read:
        rows = await db.fetch(text("SELECT 3"))

    assert (written, started[0]) == (2, 1)
    assert ([tuple(row) for row in rows], read[0]) == ([(3,)], 1)


async def test_after_a_burst_statements_one_at_a_time_keep_to_the_connection_just_used(db: Database) -> None:
    """The autocommit pool hands out the connection returned last: a burst opens the whole pool, and the sends of a
    quieter moment then keep to one warm session (its prepared statements and PostgreSQL's plans for them), where
    first in, first out spread them over every connection, each paying its first executions again."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's autocommit pool")
    assert db._autocommit is not None
    await hold_at_once(db._autocommit, POSTGRES_AUTOCOMMIT_POOL_SIZE)
    used: list[int] = []

    def checked_out(dbapi_connection: Any, *_args: Any) -> None:
        used.append(id(dbapi_connection))

    event.listen(db._autocommit.sync_engine, "checkout", checked_out)
    for _ in range(6):
        await db.fetch(text("SELECT 1"))

    assert len(used) == 6 and len(set(used)) == 1, used

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

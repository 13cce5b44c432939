"""Fresh databases for tests: a new PostgreSQL database per test on the machine's server (trust auth), and what
tests look at in one (connections SQLAlchemy discarded, sessions left idle in a transaction), and a database gone
for a while."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import asyncpg
import pytest

if TYPE_CHECKING:
    from storyloom.store.db import Database

# The PostgreSQL server this machine runs (trust auth). Set to "" to skip the PostgreSQL runs.
POSTGRES_ADMIN_URL = os.environ.get("STORYLOOM_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def new_postgres_database(request: pytest.FixtureRequest) -> str:
    """Creates a PostgreSQL database that is dropped when the test ends, and returns its URL."""
    if not POSTGRES_ADMIN_URL:
        pytest.skip("STORYLOOM_TEST_POSTGRES is empty")
    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    name = f"storyloom_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    request.addfinalizer(lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def discarded_connections(db: Database) -> list[BaseException | None]:
    """Records every pooled connection SQLAlchemy throws away (what a statement cut short makes it do)."""
    from sqlalchemy import event

    found: list[BaseException | None] = []
    event.listen(db.engine.sync_engine.pool, "invalidate", lambda _conn, _record, exc: found.append(exc))
    return found


async def idle_in_transaction(database_url: str, *, held_for: float = 1.0) -> list[str]:
    """The PostgreSQL sessions of this database that sit idle inside one transaction for `held_for` seconds, as
    `pid: query`. One look is not enough: a session between two statements of a live transaction (SQLAlchemy's
    BEGIN and the statement after it) is idle in a transaction for an instant; a leaked one stays so."""
    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"))
    query = ("SELECT pid, xact_start, query FROM pg_stat_activity WHERE datname = $1 "
             "AND state LIKE 'idle in transaction%'")
    try:
        first = {(row["pid"], row["xact_start"]) for row in await admin.fetch(query, name)}
        if not first:
            return []
        await asyncio.sleep(held_for)
        rows = [row for row in await admin.fetch(query, name) if (row["pid"], row["xact_start"]) in first]
    finally:
        await admin.close()
    return [f"{row['pid']}: {row['query']}" for row in rows]


@contextlib.asynccontextmanager
async def database_away(database_url: str) -> AsyncIterator[None]:
    """The database refuses connections and has ended every one it had, as while PostgreSQL restarts, until the
    block ends (run from the admin database: a database cannot refuse connections from inside)."""
    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


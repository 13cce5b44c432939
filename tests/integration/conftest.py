"""Fixtures of the integration tests: a migrated database on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from storyloom.store.db import Database


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A fresh database at the head revision, once on SQLite and once on PostgreSQL (`database_url` is
    parametrized)."""
    database = Database(database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()

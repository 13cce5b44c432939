"""The database: an async engine for SQLite (default) or PostgreSQL, migrated by Alembic at start."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import event, select
from sqlalchemy.engine import Connection, CursorResult, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.sql import Executable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


async def changed_rows(session: AsyncSession, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE changed. (The session returns a CursorResult for those, but its type says
    only Result, which has no rowcount.)"""
    result = await session.execute(statement)
    return cast("CursorResult[Any]", result).rowcount


class Database:
    def __init__(self, url: str):
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {}
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            options.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)

    async def migrate(self) -> None:
        """Brings the schema to the newest Alembic revision."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self.engine.dispose()

    def begin(self) -> AsyncSession:
        return self.session()

    async def insert_once(self, rows: Sequence[Any], request_id: str | None) -> str | None:
        """Inserts `rows` in one transaction (in order, so foreign keys resolve), the first of
        which carries `user_id` and `request_id` columns unique together (AIP-155).

        Returns None when inserted. When that request id was used before, inserts nothing and
        returns the id of the row that holds it, so a retried create returns the first result.
        """
        first = rows[0]
        try:
            async with self.session() as session, session.begin():
                for row in rows:
                    session.add(row)
                    await session.flush()
        except IntegrityError:
            if not request_id:
                raise
            model = type(first)
            async with self.session() as session:
                existing = await session.scalar(select(model.id).where(
                    model.user_id == first.user_id, model.request_id == request_id))
            if existing is None:
                raise
            return str(existing)
        return None


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (watchers) run beside the writer; FULL makes every commit durable
    # before it is acknowledged; foreign keys make deletes cascade to events.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()

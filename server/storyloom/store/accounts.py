"""Users and API keys in SQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, func, select, update

from storyloom.domain.accounts import ApiKey, User
from storyloom.store.db import Database, changed_rows, completes_when_cancelled, one_fetch
from storyloom.store.models import ApiKeyRow, UserRow


@completes_when_cancelled
class SqlAccountRepository:
    def __init__(self, db: Database):
        self._db = db

    async def add_user(self, user: User) -> None:
        async with self._db.write() as session:
            session.add(UserRow(id=user.id, display_name=user.display_name, create_time=user.create_time))

    async def get_user(self, user_id: str) -> User | None:
        async with self._db.begin() as session:
            row = await session.get(UserRow, user_id)
            return User(row.id, row.display_name, row.create_time) if row else None

    async def count_users(self) -> int:
        async with self._db.begin() as session:
            return int(await session.scalar(select(func.count()).select_from(UserRow)) or 0)

    async def add_key(self, key_id: str, user_id: str, key_hash: str, now: dt.datetime) -> None:
        async with self._db.write() as session:
            session.add(ApiKeyRow(id=key_id, user_id=user_id, key_hash=key_hash, create_time=now))

    @one_fetch
    async def user_for_key(self, key_hash: str) -> str | None:
        # A new key's first call waits for it: one read (on PostgreSQL one round trip, where a session's BEGIN, the
        # read and its ROLLBACK were three; on SQLite inline).
        rows = await self._db.fetch(_USER_FOR_KEY, {"key_hash": key_hash})
        return str(rows[0].user_id) if rows else None

    async def revoke_key(self, key_hash: str, now: dt.datetime) -> bool:
        """Marks the live key with this hash revoked; False when there is none."""
        async with self._db.write() as session:
            revoked = await changed_rows(session, update(ApiKeyRow)
                                         .where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoke_time.is_(None))
                                         .values(revoke_time=now))
            return revoked == 1

    async def revoke_key_id(self, key_id: str, now: dt.datetime) -> bool:
        async with self._db.write() as session:
            revoked = await changed_rows(session, update(ApiKeyRow)
                                         .where(ApiKeyRow.id == key_id, ApiKeyRow.revoke_time.is_(None))
                                         .values(revoke_time=now))
            return revoked == 1

    async def list_keys(self, user_id: str | None) -> list[ApiKey]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.create_time, ApiKeyRow.id)
        if user_id is not None:
            query = query.where(ApiKeyRow.user_id == user_id)
        async with self._db.begin() as session:
            return [ApiKey(r.id, r.user_id, r.create_time, r.revoke_time) for r in await session.scalars(query)]


# A live key's user, built once (see `Database.fetch`).
_USER_FOR_KEY = select(ApiKeyRow.user_id).where(ApiKeyRow.key_hash == bindparam("key_hash"),
                                                 ApiKeyRow.revoke_time.is_(None))

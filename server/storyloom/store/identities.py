"""Identities (issuer + subject -> user) in SQL."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from storyloom.domain.accounts import User
from storyloom.domain.identities import Identity
from storyloom.store.db import Database
from storyloom.store.models import IdentityRow, UserRow


def _identity(row: IdentityRow) -> Identity:
    return Identity(row.issuer, row.subject, row.user_id, row.display_name, row.email)


class SqlIdentityRepository:
    def __init__(self, db: Database):
        self._db = db

    async def find_identity(self, issuer: str, subject: str) -> Identity | None:
        async with self._db.begin() as session:
            row = await session.get(IdentityRow, (issuer, subject))
            return _identity(row) if row else None

    async def add_user_with_identity(self, user: User, identity: Identity) -> Identity:
        try:
            async with self._db.write() as session:
                session.add(UserRow(id=user.id, display_name=user.display_name, create_time=user.create_time))
                await session.flush()  # the user before the identity that refers to it
                session.add(IdentityRow(issuer=identity.issuer, subject=identity.subject, user_id=user.id,
                                        display_name=identity.display_name[:200], email=identity.email[:320],
                                        create_time=user.create_time))
        except IntegrityError:
            # The same person signed in by a concurrent call first: theirs is the user (ours was rolled back).
            existing = await self.find_identity(identity.issuer, identity.subject)
            if existing is None:
                raise
            return existing
        return identity

    async def update_profile(self, issuer: str, subject: str, display_name: str, email: str) -> None:
        async with self._db.write() as session:
            await session.execute(update(IdentityRow)
                                  .where(IdentityRow.issuer == issuer, IdentityRow.subject == subject)
                                  .values(display_name=display_name[:200], email=email[:320]))

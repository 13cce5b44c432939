"""Identities in SQL, on SQLite and PostgreSQL: a person (issuer + subject) is one user, also when two calls sign
the same new person in at once; profiles are updated in place; migration 0009_identities creates the table."""

from __future__ import annotations

import asyncio
import datetime as dt

from storyloom.domain.accounts import User
from storyloom.domain.identities import Identities, Identity
from storyloom.domain.ports.identity import VerifiedToken
from storyloom.store.accounts import SqlAccountRepository
from storyloom.store.db import Database
from storyloom.store.identities import SqlIdentityRepository

ISSUER = "https://securetoken.google.com/storyloom-test"


class Verifier:
    """Every token is valid; its text is the subject (the verifier itself is tested against real tokens)."""

    async def verify(self, token: str) -> VerifiedToken:
        await asyncio.sleep(0)  # let concurrent sign-ins interleave
        subject, _, name = token.partition(":")
        return VerifiedToken(ISSUER, subject, name, f"{subject}@example.com" if name else "")

    async def aclose(self) -> None:
        pass


async def test_a_person_is_one_user_even_when_signed_in_twice_at_once(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    try:
        repo = SqlIdentityRepository(db)
        identities = Identities(repo, Verifier())
        first = await asyncio.gather(*(Identities(repo, Verifier()).authenticate("uid-1:Ada") for _ in range(6)))
        assert len(set(first)) == 1  # six racing first sign-ins, one user
        assert await identities.authenticate("uid-1:Ada") == first[0]
        assert await identities.authenticate("uid-2") != first[0]

        stored = await repo.find_identity(ISSUER, "uid-1")
        assert stored == Identity(ISSUER, "uid-1", first[0], "Ada", "uid-1@example.com")
        user = await SqlAccountRepository(db).get_user(first[0])
        assert user is not None and user.display_name == "Ada"
        assert (await SqlAccountRepository(db).get_user(await identities.authenticate("uid-2"))).display_name == "uid-2"

        # A new name is written through; a token without profile claims keeps what is stored.
        await identities.authenticate("uid-1:Ada Lovelace")
        await identities.authenticate("uid-1")
        assert (await repo.find_identity(ISSUER, "uid-1")).display_name == "Ada Lovelace"
        fresh = Identities(repo, Verifier())  # no cache: read from the store
        assert await fresh.authenticate("uid-1") == first[0]
    finally:
        await db.close()


async def test_adding_an_identity_that_exists_returns_the_stored_one(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    try:
        repo = SqlIdentityRepository(db)
        now = dt.datetime.now(dt.UTC)
        kept = await repo.add_user_with_identity(User("u1", "One", now), Identity(ISSUER, "s", "u1", "One", ""))
        again = await repo.add_user_with_identity(User("u2", "Two", now), Identity(ISSUER, "s", "u2", "Two", ""))
        assert kept == again and again.user_id == "u1"
        assert await SqlAccountRepository(db).get_user("u2") is None  # the losing user was rolled back
    finally:
        await db.close()

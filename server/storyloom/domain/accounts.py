"""Users and their API keys. A key is a random secret shown once; only its SHA-256 is stored."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
import uuid
from typing import Protocol

from storyloom.domain.errors import NotFound, Unauthenticated
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock

KEY_PREFIX = "sl_"


@dataclasses.dataclass(frozen=True)
class User:
    id: str
    display_name: str
    create_time: dt.datetime


class AccountRepository(Protocol):
    async def add_user(self, user: User) -> None: ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def count_users(self) -> int: ...

    async def add_key(self, key_id: str, user_id: str, key_hash: str, now: dt.datetime) -> None: ...

    async def user_for_key(self, key_hash: str) -> str | None:
        """The user owning a live (not revoked) key, or None."""

    async def revoke_key(self, key_hash: str, now: dt.datetime) -> bool:
        """Revokes the live key with this hash; False when there is none."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Accounts:
    # Keys are checked on every call; a short cache keeps that off the database. A revoked key
    # stops working within this many seconds.
    CACHE_SECONDS = 30.0

    def __init__(self, repository: AccountRepository, clock: Clock = SYSTEM_CLOCK):
        self._repo = repository
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    async def create_user(self, display_name: str) -> User:
        user = User(id=uuid.uuid4().hex[:16], display_name=display_name, create_time=self._clock.now())
        await self._repo.add_user(user)
        return user

    async def create_key(self, user_id: str) -> str:
        """Creates a key for the user and returns it; it cannot be read back later."""
        if await self._repo.get_user(user_id) is None:
            raise NotFound(f"users/{user_id}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        await self._repo.add_key(uuid.uuid4().hex, user_id, hash_key(key), self._clock.now())
        return key

    async def revoke_key(self, key: str) -> bool:
        """Revokes a key; it stops working here at once (other processes' caches: CACHE_SECONDS)."""
        digest = hash_key(key)
        self._cache.pop(digest, None)
        return await self._repo.revoke_key(digest, self._clock.now())

    async def has_users(self) -> bool:
        return await self._repo.count_users() > 0

    async def authenticate(self, key: str | None) -> str:
        """Returns the user id a key belongs to, or raises Unauthenticated."""
        if not key:
            raise Unauthenticated(
                "No API key: send it in the `x-api-key` metadata or as `authorization: Bearer <key>`.",
                reason="API_KEY_MISSING",
            )
        digest = hash_key(key)
        cached = self._cache.get(digest)
        now = self._clock.monotonic()
        if cached and cached[1] > now:
            return cached[0]
        user_id = await self._repo.user_for_key(digest)
        if user_id is None:
            raise Unauthenticated("The API key is not valid.", reason="API_KEY_INVALID")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (user_id, now + self.CACHE_SECONDS)
        return user_id

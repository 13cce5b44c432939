"""Users and their API keys. A key is a random secret shown once; only its SHA-256 is stored."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import secrets
import uuid
from typing import Protocol

from storyloom.domain.errors import NotFound, Unauthenticated
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.notifier import LocalNotifier, Notifier

KEY_PREFIX = "sl_"


@dataclasses.dataclass(frozen=True)
class User:
    id: str
    display_name: str
    create_time: dt.datetime


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """A key as administrators see it: never the key itself."""

    id: str
    user_id: str
    create_time: dt.datetime
    revoke_time: dt.datetime | None = None


class AccountRepository(Protocol):
    async def add_user(self, user: User) -> None: ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def count_users(self) -> int: ...

    async def add_key(self, key_id: str, user_id: str, key_hash: str, now: dt.datetime) -> None: ...

    async def user_for_key(self, key_hash: str) -> str | None:
        """The user owning a live (not revoked) key, or None."""

    async def revoke_key(self, key_hash: str, now: dt.datetime) -> bool:
        """Revokes the live key with this hash; False when there is none."""

    async def revoke_key_id(self, key_id: str, now: dt.datetime) -> bool:
        """Revokes the live key with this id; False when there is none."""

    async def list_keys(self, user_id: str | None) -> list[ApiKey]:
        """The keys of one user (all users' when None), oldest first."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Accounts:
    # Keys are checked on every call; a short cache keeps that off the database. A revocation empties the cache of
    # every process that hears of it (the notifier); one that missed the notice still refuses within this long.
    CACHE_SECONDS = 30.0
    REVOKED = ("keys", "revoked")

    def __init__(self, repository: AccountRepository, clock: Clock = SYSTEM_CLOCK,
                 notifier: Notifier | None = None):
        self._repo = repository
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._notifier: Notifier = notifier or LocalNotifier()
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listens for revocations (on any replica) and forgets the cached keys when one comes."""
        subscribed = asyncio.Event()

        async def listen() -> None:
            async with self._notifier.subscribe(*self.REVOKED) as revoked:
                subscribed.set()
                while True:
                    if await revoked.wait(None):
                        self._cache.clear()

        self._listener = asyncio.create_task(listen(), name="key-revocations")
        await subscribed.wait()

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

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
        """Revokes a key (given as the key, or as its id); it stops working on every replica at once."""
        digest = hash_key(key)
        self._cache.pop(digest, None)
        if key.startswith(KEY_PREFIX):
            revoked = await self._repo.revoke_key(digest, self._clock.now())
        else:
            revoked = await self._repo.revoke_key_id(key, self._clock.now())
        if revoked:
            await self._notifier.publish(*self.REVOKED)
        return revoked

    async def list_keys(self, user_id: str | None = None) -> list[ApiKey]:
        return await self._repo.list_keys(user_id)

    async def has_users(self) -> bool:
        return await self._repo.count_users() > 0

    def known(self, key: str | None) -> str | None:
        """The user id of a key `authenticate` accepted lately (still in its cache), else None: then ask
        `authenticate`. Synchronous, for the interceptor's path of every call."""
        if not key:
            return None
        cached = self._cache.get(hash_key(key))
        return cached[0] if cached and cached[1] > self._clock.monotonic() else None

    async def authenticate(self, key: str | None) -> str:
        """Returns the user id a key belongs to, or raises Unauthenticated."""
        if not key:
            raise Unauthenticated(
                "No API key: send it in the `x-api-key` metadata or as `authorization: Bearer <key>`.",
                reason="API_KEY_MISSING",
            )
        known = self.known(key)
        if known is not None:
            return known
        digest = hash_key(key)
        user_id = await self._repo.user_for_key(digest)
        if user_id is None:
            raise Unauthenticated("The API key is not valid.", reason="API_KEY_INVALID")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (user_id, self._clock.monotonic() + self.CACHE_SECONDS)
        return user_id

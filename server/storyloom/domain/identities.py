"""Signing in with an identity provider's token: each (issuer, subject) is one Storyloom user, created the first
time its token is seen (just in time), with the name and email the token carries. Users signed in this way own
their resources by the same rules as users with API keys."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Protocol

from storyloom.domain.accounts import User
from storyloom.domain.errors import Unauthenticated, Unavailable
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.identity import TokenKeysUnavailable, TokenRejected, TokenVerifier, VerifiedToken


@dataclasses.dataclass(frozen=True)
class Identity:
    """A person as an identity provider names them, and the Storyloom user they are."""

    issuer: str
    subject: str
    user_id: str
    display_name: str = ""
    email: str = ""


class IdentityRepository(Protocol):
    async def find_identity(self, issuer: str, subject: str) -> Identity | None: ...

    async def add_user_with_identity(self, user: User, identity: Identity) -> Identity:
        """Stores a new user and its identity in one transaction. When the identity exists already (another call
        signed the same person in at the same moment), stores nothing and returns the existing one."""

    async def update_profile(self, issuer: str, subject: str, display_name: str, email: str) -> None: ...


class Identities:
    # (issuer, subject) -> identity: a user's mapping never changes, and a profile change is written through.
    CACHE_SIZE = 10_000

    def __init__(self, repository: IdentityRepository, verifier: TokenVerifier | None, clock: Clock = SYSTEM_CLOCK):
        self._repo = repository
        self._verifier = verifier
        self._clock = clock
        self._cache: dict[tuple[str, str], Identity] = {}

    @property
    def enabled(self) -> bool:
        """Whether any token issuer is configured."""
        return self._verifier is not None

    async def authenticate(self, token: str) -> str:
        """The user id a valid token signs in (created on first sight), or Unauthenticated with the reason the
        token was refused; Unavailable when the issuer's keys cannot be fetched (never a pass)."""
        if self._verifier is None:
            raise Unauthenticated("This server accepts no sign-in tokens (no token issuer is configured); use an "
                                  "API key.", reason="TOKEN_ISSUER", metadata={"issuer": ""})
        try:
            verified = await self._verifier.verify(token)
        except TokenRejected as exc:
            raise Unauthenticated(exc.message, reason=exc.reason) from None
        except TokenKeysUnavailable as exc:
            raise Unavailable(exc.message, reason="TOKEN_KEYS_UNAVAILABLE", metadata={"issuer": exc.issuer}) from None
        key = (verified.issuer, verified.subject)
        identity = self._cache.get(key) or await self._repo.find_identity(*key)
        if identity is None:
            user = User(id=uuid.uuid4().hex[:16], display_name=_display_name(verified), create_time=self._clock.now())
            identity = await self._repo.add_user_with_identity(user, Identity(
                verified.issuer, verified.subject, user.id, verified.display_name, verified.email))
        elif (verified.display_name, verified.email) != (identity.display_name, identity.email) and (
                verified.display_name or verified.email):
            # The provider's profile changed (a new name or email): keep what it says now.
            await self._repo.update_profile(*key, verified.display_name, verified.email)
            identity = dataclasses.replace(identity, display_name=verified.display_name, email=verified.email)
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = identity
        return identity.user_id

    async def aclose(self) -> None:
        if self._verifier is not None:
            await self._verifier.aclose()


def _display_name(token: VerifiedToken) -> str:
    """A user's name as shown: the token's name, else its email, else the subject."""
    return (token.display_name or token.email or token.subject)[:200]

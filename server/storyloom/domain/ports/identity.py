"""The sign-in port: verifying an identity provider's ID token (a JWT) and saying whose it is."""

from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class VerifiedToken:
    """Who a valid token speaks for: the issuer and subject name one person; the profile claims are optional."""

    issuer: str
    subject: str
    display_name: str = ""
    email: str = ""


class TokenRejected(Exception):
    """The token is not acceptable. `reason` is UPPER_SNAKE: TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, TOKEN_AUDIENCE,
    TOKEN_ISSUER, TOKEN_SIGNATURE, TOKEN_ALGORITHM, TOKEN_MALFORMED or TOKEN_CLAIMS."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class TokenKeysUnavailable(Exception):
    """The issuer's public keys cannot be had now (its JWKS URL is unreachable and no usable keys are at hand):
    the token can be neither accepted nor refused. Worth a retry later."""

    def __init__(self, issuer: str, message: str):
        super().__init__(message)
        self.issuer = issuer
        self.message = message


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> VerifiedToken:
        """Checks the token's signature against its issuer's keys, and its `iss`, `aud`, `exp`, `nbf` and `iat`;
        raises TokenRejected or TokenKeysUnavailable."""

    async def aclose(self) -> None: ...


def looks_like_jwt(credential: str) -> bool:
    """Whether a bearer credential is a JWT (three base64url parts joined by dots) rather than an API key, which
    has no dot. Only its shape is looked at: whether it is valid is the verifier's business."""
    parts = credential.split(".")
    return len(parts) == 3 and all(part.replace("-", "").replace("_", "").isalnum() for part in parts[:2])

"""`JwtVerifier`: the TokenVerifier port with joserfc, for one or several identity providers (issuers).

Why joserfc: it is typed (mypy strict), verifies RS256, ES256 and EdDSA with `cryptography`, refuses `alg: none`
and any algorithm not in the list it is given, and its claims registry checks `exp`/`nbf`/`iat` with a leeway and
says which claim failed, which is what the error reasons need. It has no JWKS client of its own, which suits an
asyncio server: PyJWT's PyJWKClient fetches with blocking urllib and fetches again on every unknown `kid`, while
`JwksSource` (jwks.py) fetches with httpx without blocking the event loop, shares one fetch between concurrent
calls and limits how often an unknown `kid` may cause one.

The order of the checks: the token's form, its issuer (`iss`, before anything is trusted, to pick the keys), the
algorithm (the issuer's list only: no HS256 made with a public key), the key by `kid`, the signature, then the
claims: `exp`, `nbf`/`iat` (with the clock skew), `aud` and `sub`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
    SecurityWarning,
)

from storyloom.domain.ports.identity import TokenKeysUnavailable, TokenRejected, VerifiedToken
from storyloom.engines.identity.jwks import JwksSource, KeysUnavailable

# "EdDSA" (RFC 8037) is what identity providers and Envoy's jwt_authn use; RFC 9864 renames it "Ed25519", and
# joserfc warns on each use of the old name. The name is a configuration choice here, not a risk.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)

KEY_TYPES = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
MAX_TOKEN_LENGTH = 16 * 1024  # ID tokens are 1-2 KiB; a header this large is not a token


@dataclasses.dataclass(frozen=True)
class IssuerConfig:
    issuer: str
    audiences: tuple[str, ...] = ()
    jwks_url: str = ""
    jwks_file: str = ""
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")


@dataclasses.dataclass(frozen=True)
class _Issuer:
    config: IssuerConfig
    keys: JwksSource


class JwtVerifier:
    def __init__(self, issuers: Sequence[IssuerConfig], *, clock_skew_seconds: int = 60,
                 cache_seconds: float = 300.0, refresh_cooldown_seconds: float = 10.0,
                 now: Callable[[], float] = time.time):
        self._http = httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        self._skew = clock_skew_seconds
        self._now = now
        self._issuers = {
            issuer.issuer: _Issuer(issuer, JwksSource(issuer.jwks_url, issuer.jwks_file, http=self._http,
                                                      cache_seconds=cache_seconds,
                                                      refresh_cooldown_seconds=refresh_cooldown_seconds))
            for issuer in issuers
        }
        unknown = {a for i in issuers for a in i.algorithms} - set(KEY_TYPES)
        if unknown:
            raise ValueError(f"unsupported token algorithms: {sorted(unknown)}")

    async def verify(self, token: str) -> VerifiedToken:
        header, claims = _unverified_parts(token)
        iss = claims.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise TokenRejected("TOKEN_ISSUER", f"Tokens from issuer {iss!r} are not accepted here.")
        alg = header.get("alg")
        if alg not in issuer.config.algorithms:
            raise TokenRejected("TOKEN_ALGORITHM", f"The token's algorithm {alg!r} is not one that "
                                f"{issuer.config.issuer} signs with here ({', '.join(issuer.config.algorithms)}).")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("TOKEN_MALFORMED", "The token's `kid` header is not a string.")
        try:
            keys = await issuer.keys.find(kid, KEY_TYPES[alg])
        except KeysUnavailable:
            raise TokenKeysUnavailable(issuer.config.issuer, f"The public keys of {issuer.config.issuer} cannot be "
                                       "fetched right now, so the token cannot be checked; try again later.") from None
        verified = _verify_signature(token, keys, alg)
        if verified is None:
            detail = f"no key with kid {kid!r}" if keys == [] and kid else "the signature does not match"
            raise TokenRejected("TOKEN_SIGNATURE", f"The token's signature cannot be verified ({detail}).")
        self._check_claims(verified, issuer.config)
        return VerifiedToken(issuer=issuer.config.issuer, subject=verified["sub"],
                             display_name=_display_name(verified), email=_email(verified))

    def _check_claims(self, claims: dict[str, Any], issuer: IssuerConfig) -> None:
        options: dict[str, Any] = {"iss": {"essential": True, "value": issuer.issuer}, "sub": {"essential": True},
                                   "exp": {"essential": True}}
        if issuer.audiences:
            options["aud"] = {"essential": True, "values": list(issuer.audiences)}
        registry = jwt.JWTClaimsRegistry(now=int(self._now()), leeway=self._skew, **options)
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenRejected("TOKEN_EXPIRED", "The token has expired; sign in again for a new one.") from None
        except ClaimError as exc:
            if exc.claim == "aud":
                raise TokenRejected("TOKEN_AUDIENCE", "The token is meant for another audience "
                                    f"(accepted here: {', '.join(issuer.audiences)}).") from None
            if exc.claim in ("nbf", "iat") and not isinstance(exc, MissingClaimError):
                raise TokenRejected("TOKEN_NOT_YET_VALID", "The token is not valid yet (its `nbf` or `iat` is in "
                                    "the future); check the clocks.") from None
            raise TokenRejected("TOKEN_CLAIMS", f"The token's claims are not acceptable: {exc.description}") from None
        if not claims["sub"]:
            raise TokenRejected("TOKEN_CLAIMS", "The token names no subject (`sub`).")

    async def aclose(self) -> None:
        await self._http.aclose()


def _b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims, unverified: only to choose the issuer's keys and to say what is wrong."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3:
        raise TokenRejected("TOKEN_MALFORMED", "The token is not a JWS compact serialization (header.payload.sig).")
    try:
        header, claims = _b64json(parts[0]), _b64json(parts[1])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise TokenRejected("TOKEN_MALFORMED", "The token's header or payload is not base64url-encoded JSON.") \
            from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRejected("TOKEN_MALFORMED", "The token's header and payload must be JSON objects.")
    return header, claims


def _verify_signature(token: str, keys: list[Any], alg: str) -> dict[str, Any] | None:
    for key in keys:
        try:
            return jwt.decode(token, key, algorithms=[alg]).claims
        except BadSignatureError:
            continue
        except JoseError:
            continue  # a key of another type or curve under the same kid: it cannot have signed this
    return None


def _string(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _display_name(claims: dict[str, Any]) -> str:
    """The person's name in the claim shapes of the presets: `name` (OIDC: Firebase, Auth0, Clerk with a custom
    session claim), Supabase's `user_metadata.full_name` / `name`, then `nickname`, `preferred_username`, or
    `given_name` + `family_name`."""
    metadata = claims.get("user_metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    for value in (claims.get("name"), metadata.get("full_name"), metadata.get("name"), claims.get("nickname"),
                  claims.get("preferred_username")):
        if name := _string(value):
            return name
    return " ".join(p for p in (_string(claims.get("given_name")), _string(claims.get("family_name"))) if p)


def _email(claims: dict[str, Any]) -> str:
    metadata = claims.get("user_metadata")
    email = _string(claims.get("email")) or _string(metadata.get("email") if isinstance(metadata, dict) else None)
    return email if "@" in email else ""

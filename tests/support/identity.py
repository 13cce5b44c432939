"""A stand-in identity provider for sign-in tests: its own signing keys, its JWKS served over HTTP on 127.0.0.1,
and ID tokens minted in the claim shapes of real providers (the presets: Firebase, Clerk, Auth0, Supabase).

Nothing leaves the machine: the keys are made at test time and the JWKS server is local. The provider can rotate
its key (a new `kid`), stop serving its JWKS (down) and serve it again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from storyloom.config import TokenIssuerSettings


def new_key(alg: str, kid: str | None = None) -> Any:
    kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
    params = {"kid": kid, "use": "sig", "alg": alg}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=params)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519", parameters=params)
    raise ValueError(alg)


def b64url(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class JwksServer:
    """Serves a JWKS document at http://127.0.0.1:PORT/.well-known/jwks.json from a thread; counts the fetches."""

    PATH = "/.well-known/jwks.json"

    def __init__(self, document: Callable[[], dict[str, Any]]):
        self._document = document
        self.fetches = 0
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.PATH}"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != JwksServer.PATH:
                    self.send_error(404)
                    return
                owner.fetches += 1
                body = json.dumps(owner._document()).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        # The same port again after a stop (the URL in the configuration stays right).
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self) -> None:
        """Down: connections to the port are refused until start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class IdentityProvider:
    """One issuer. `token(subject)` signs with the current key; `claims` shapes its tokens like the real thing."""

    name: str
    issuer: str
    audience: str | list[str] | None
    alg: str = "RS256"
    profile: Callable[[str, dict[str, Any]], dict[str, Any]] = lambda subject, extra: {}
    lifetime: int = 3600
    keys: list[Any] = field(default_factory=list)
    jwks: JwksServer | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            self.keys = [new_key(self.alg)]
        self.jwks = JwksServer(self.published)

    @property
    def key(self) -> Any:
        return self.keys[-1]

    def published(self) -> dict[str, Any]:
        return KeySet(self.keys).as_dict(private=False)

    def settings(self, **overrides: Any) -> TokenIssuerSettings:
        assert self.jwks is not None
        audiences = [] if self.audience is None else [self.audience] if isinstance(self.audience, str) else [
            self.audience[0]]
        values: dict[str, Any] = {"issuer": self.issuer, "audiences": audiences, "jwks_url": self.jwks.url,
                                  "algorithms": [self.alg]}
        values.update(overrides)
        return TokenIssuerSettings.from_json(values)

    def rotate(self, keep_old: bool = True) -> Any:
        """A new signing key with a new kid, published beside the old one (or instead of it)."""
        key = new_key(self.alg)
        self.keys = [*self.keys, key] if keep_old else [key]
        return key

    def claims(self, subject: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": subject, "iat": now, "exp": now + self.lifetime}
        if self.audience is not None:
            claims["aud"] = self.audience
        claims.update(self.profile(subject, claims))
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, subject: str = "user-1", *, key: Any = None, header: dict[str, Any] | None = None,
              **claims: Any) -> str:
        key = key or self.key
        header = {"alg": self.alg, "kid": key.kid, **(header or {})}
        return jwt.encode(header, self.claims(subject, **claims), key, algorithms=[header["alg"]])

    # --- tokens that must be refused --------------------------------------------------------------------------

    def unsigned_token(self, subject: str = "user-1") -> str:
        """`alg: none` and no signature."""
        return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(self.claims(subject))}."

    def hs256_with_public_key(self, subject: str = "user-1") -> str:
        """The algorithm-confusion attack: HS256 keyed with the issuer's public key (PEM), under its kid."""
        signing_input = f"{b64url({'alg': 'HS256', 'typ': 'JWT', 'kid': self.key.kid})}.{b64url(self.claims(subject))}"
        pem = self.key.as_pem(private=False)
        return f"{signing_input}.{b64url(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"

    def tampered_token(self, subject: str = "user-1", becomes: str = "someone-else") -> str:
        """A good token whose payload was changed afterwards (the subject), keeping the signature."""
        header, _, signature = self.token(subject).split(".")
        return f"{header}.{b64url(self.claims(becomes))}.{signature}"

    def token_signed_by_stranger(self, subject: str = "user-1") -> str:
        """The issuer's claims and kid, signed by a key that is not the issuer's."""
        stranger = new_key(self.alg, kid=self.key.kid)
        return self.token(subject, key=stranger)


# --- the presets: real providers' issuers and claim shapes --------------------------------------------------------

def firebase(project: str = "storyloom-test") -> IdentityProvider:
    """Firebase Authentication ID tokens: issuer securetoken.google.com/PROJECT, audience the project id, RS256."""
    def profile(subject: str, claims: dict[str, Any]) -> dict[str, Any]:
        return {"name": "Ada Lovelace", "picture": "https://example.invalid/ada.png", "user_id": subject,
                "auth_time": claims["iat"], "email": "ada@example.com", "email_verified": True,
                "firebase": {"identities": {"email": ["ada@example.com"]}, "sign_in_provider": "password"}}
    return IdentityProvider("firebase", f"https://securetoken.google.com/{project}", project, "RS256", profile)


def clerk(instance: str = "storyloom-test-42") -> IdentityProvider:
    """Clerk session tokens: issuer the instance's Frontend API, no `aud` (Clerk puts the origin in `azp`), short
    lived, RS256. Name and email are there only as custom session claims, as configured here."""
    def profile(subject: str, claims: dict[str, Any]) -> dict[str, Any]:
        return {"azp": "http://localhost:3000", "nbf": claims["iat"] - 5, "sid": f"sess_{uuid.uuid4().hex[:20]}",
                "v": 2, "name": "Grace Hopper", "email": "grace@example.com"}
    return IdentityProvider("clerk", f"https://{instance}.clerk.accounts.dev", None, "RS256", profile, lifetime=60)


def auth0(tenant: str = "storyloom-test", client_id: str = "sTorYlOoMcLiEnT") -> IdentityProvider:
    """Auth0 ID tokens: issuer https://TENANT.auth0.com/ (with its trailing slash), audience the client id,
    `sub` like auth0|ID, RS256, profile claims name/nickname/email."""
    def profile(subject: str, claims: dict[str, Any]) -> dict[str, Any]:
        return {"nickname": "katherine", "name": "Katherine Johnson", "email": "katherine@example.com",
                "email_verified": True, "sid": uuid.uuid4().hex, "updated_at": "2026-12-01T10:00:00.000Z"}
    return IdentityProvider("auth0", f"https://{tenant}.us.auth0.com/", client_id, "RS256", profile)


def supabase(ref: str = "abcdefghijklmnopqrst") -> IdentityProvider:
    """Supabase Auth access tokens with the project's asymmetric signing key (ES256): issuer
    https://REF.supabase.co/auth/v1, audience "authenticated", the name in `user_metadata`."""
    def profile(subject: str, claims: dict[str, Any]) -> dict[str, Any]:
        return {"role": "authenticated", "aal": "aal1", "amr": [{"method": "password", "timestamp": claims["iat"]}],
                "session_id": str(uuid.uuid4()), "is_anonymous": False, "email": "mary@example.com", "phone": "",
                "app_metadata": {"provider": "email", "providers": ["email"]},
                "user_metadata": {"full_name": "Mary Jackson", "email": "mary@example.com", "email_verified": True}}
    return IdentityProvider("supabase", f"https://{ref}.supabase.co/auth/v1", "authenticated", "ES256", profile)


PRESETS: dict[str, Callable[[], IdentityProvider]] = {
    "firebase": firebase, "clerk": clerk, "auth0": auth0, "supabase": supabase}

# What each preset's first token signs in as: (display name, email).
PRESET_PROFILES = {"firebase": ("Ada Lovelace", "ada@example.com"), "clerk": ("Grace Hopper", "grace@example.com"),
                   "auth0": ("Katherine Johnson", "katherine@example.com"),
                   "supabase": ("Mary Jackson", "mary@example.com")}


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata that signs in with a token."""
    return (("authorization", f"Bearer {token}"),)


def grpc_error_info(error: Any) -> Any:
    """The one ErrorInfo (domain storyloom.v1) of a failed gRPC call."""
    from tests.support.errors import error_info

    return error_info(error)

"""The JWT verifier (engines/identity) against identity providers made at test time, each serving its JWKS over
HTTP on 127.0.0.1: the presets' claim shapes, every way a token is refused, key rotation, and a JWKS server that
goes down."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from storyloom.domain.ports.identity import TokenKeysUnavailable, TokenRejected, looks_like_jwt
from storyloom.engines.identity.jwt import IssuerConfig, JwtVerifier
from tests.support.identity import PRESET_PROFILES, PRESETS, IdentityProvider, new_key


def config(provider: IdentityProvider, **overrides: object) -> IssuerConfig:
    settings = provider.settings()
    values = dict(issuer=settings.issuer, audiences=settings.audiences, jwks_url=settings.jwks_url,
                  algorithms=settings.algorithms)
    values.update(overrides)
    return IssuerConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    idp = PRESETS["firebase"]()
    assert idp.jwks is not None
    idp.jwks.start()
    yield idp
    idp.jwks.stop()


@pytest_asyncio.fixture
async def verifier(provider: IdentityProvider) -> AsyncIterator[JwtVerifier]:
    v = JwtVerifier([config(provider)], clock_skew_seconds=30, refresh_cooldown_seconds=0)
    yield v
    await v.aclose()


@pytest.mark.parametrize("preset", sorted(PRESETS))
async def test_a_token_of_each_preset_names_its_issuer_subject_name_and_email(preset: str) -> None:
    idp = PRESETS[preset]()
    assert idp.jwks is not None
    idp.jwks.start()
    verifier = JwtVerifier([config(idp)])
    try:
        verified = await verifier.verify(idp.token("subject-42"))
    finally:
        await verifier.aclose()
        idp.jwks.stop()
    assert (verified.issuer, verified.subject) == (idp.issuer, "subject-42")
    assert (verified.display_name, verified.email) == PRESET_PROFILES[preset]


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")  # the name providers and Envoy use (RFC 8037)
async def test_several_issuers_each_with_its_own_keys_and_algorithm() -> None:
    a, b = PRESETS["auth0"](), IdentityProvider("eddsa", "https://ed.example", "storyloom", "EdDSA")
    for idp in (a, b):
        assert idp.jwks is not None
        idp.jwks.start()
    verifier = JwtVerifier([config(a), config(b)])
    try:
        assert (await verifier.verify(a.token("a1"))).issuer == a.issuer
        assert (await verifier.verify(b.token("b1"))).issuer == b.issuer
        # b's kid and claims, but a's algorithm and key: not b's token.
        forged = b.token("b1", key=new_key("RS256", kid=b.key.kid), header={"alg": "RS256"})
        with pytest.raises(TokenRejected) as refused:
            await verifier.verify(forged)
        assert refused.value.reason == "TOKEN_ALGORITHM"
    finally:
        await verifier.aclose()
        for idp in (a, b):
            assert idp.jwks is not None
            idp.jwks.stop()


REFUSALS = {
    "expired": (lambda p: p.token(exp=int(time.time()) - 120, iat=int(time.time()) - 3600), "TOKEN_EXPIRED"),
    "not yet valid": (lambda p: p.token(nbf=int(time.time()) + 600), "TOKEN_NOT_YET_VALID"),
    "issued in the future": (lambda p: p.token(iat=int(time.time()) + 600), "TOKEN_NOT_YET_VALID"),
    "another audience": (lambda p: p.token(aud="someone-elses-app"), "TOKEN_AUDIENCE"),
    "no audience": (lambda p: p.token(aud=None), "TOKEN_AUDIENCE"),
    "another issuer": (lambda p: p.token(iss="https://securetoken.google.com/another-project"), "TOKEN_ISSUER"),
    "alg none": (lambda p: p.unsigned_token(), "TOKEN_ALGORITHM"),
    "HS256 with the public key": (lambda p: p.hs256_with_public_key(), "TOKEN_ALGORITHM"),
    "tampered payload": (lambda p: p.tampered_token(), "TOKEN_SIGNATURE"),
    "signed by a stranger under the issuer's kid": (lambda p: p.token_signed_by_stranger(), "TOKEN_SIGNATURE"),
    "unknown kid": (lambda p: p.token(key=new_key("RS256")), "TOKEN_SIGNATURE"),
    "no subject": (lambda p: p.token(sub=None), "TOKEN_CLAIMS"),
    "no expiry": (lambda p: p.token(exp=None), "TOKEN_CLAIMS"),
    "not a JWT": (lambda p: "not.a.jwt", "TOKEN_MALFORMED"),
    "payload not JSON": (lambda p: p.token().split(".")[0] + ".bm90IGpzb24." + p.token().split(".")[2],
                         "TOKEN_MALFORMED"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_a_bad_token_is_refused_with_the_reason(case: str, provider: IdentityProvider,
                                                      verifier: JwtVerifier) -> None:
    make, reason = REFUSALS[case]
    with pytest.raises(TokenRejected) as refused:
        await verifier.verify(make(provider))
    assert refused.value.reason == reason, refused.value.message


async def test_the_clock_skew_is_allowed_on_expiry_and_not_before(provider: IdentityProvider,
                                                                  verifier: JwtVerifier) -> None:
    now = int(time.time())
    assert (await verifier.verify(provider.token(exp=now - 10))).subject == "user-1"  # skew 30 s
    assert (await verifier.verify(provider.token(nbf=now + 10))).subject == "user-1"


async def test_a_rotated_key_is_fetched_when_a_token_names_it(provider: IdentityProvider,
                                                              verifier: JwtVerifier) -> None:
    assert provider.jwks is not None
    await verifier.verify(provider.token("before"))
    fetched = provider.jwks.fetches
    await verifier.verify(provider.token("again"))
    assert provider.jwks.fetches == fetched  # cached

    provider.rotate(keep_old=False)
    assert (await verifier.verify(provider.token("after"))).subject == "after"
    assert provider.jwks.fetches == fetched + 1


async def test_an_unknown_kid_fetches_again_at_most_once_per_cooldown(provider: IdentityProvider) -> None:
    assert provider.jwks is not None
    verifier = JwtVerifier([config(provider)], refresh_cooldown_seconds=3600)
    try:
        await verifier.verify(provider.token())
        for _ in range(5):
            with pytest.raises(TokenRejected) as refused:
                await verifier.verify(provider.token(key=new_key("RS256")))
            assert refused.value.reason == "TOKEN_SIGNATURE"
        assert provider.jwks.fetches == 1  # fetched a moment ago: made-up kids cause no fetch within the cooldown
    finally:
        await verifier.aclose()


async def test_keys_unreachable_refuse_new_tokens_as_unavailable_and_never_pass(provider: IdentityProvider,
                                                                               verifier: JwtVerifier) -> None:
    assert provider.jwks is not None
    provider.jwks.stop()
    with pytest.raises(TokenKeysUnavailable):
        await verifier.verify(provider.token())
    # Back up: the same token is accepted.
    provider.jwks.start()
    assert (await verifier.verify(provider.token("back"))).subject == "back"
    # Down again: keys already fetched still verify their tokens until they expire; a new kid cannot be checked.
    provider.jwks.stop()
    assert (await verifier.verify(provider.token("cached"))).subject == "cached"
    provider.rotate()
    with pytest.raises(TokenKeysUnavailable):
        await verifier.verify(provider.token("new key"))


async def test_a_jwks_file_alone_or_as_the_fallback_of_an_unreachable_url(provider: IdentityProvider,
                                                                          tmp_path: Path) -> None:
    assert provider.jwks is not None
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(provider.published()))
    only_file = JwtVerifier([config(provider, jwks_url="", jwks_file=str(jwks_file))])
    fallback = JwtVerifier([config(provider, jwks_file=str(jwks_file))])
    try:
        assert (await only_file.verify(provider.token("f"))).subject == "f"
        provider.jwks.stop()
        assert (await fallback.verify(provider.token("fb"))).subject == "fb"
        with pytest.raises(TokenRejected):
            await fallback.verify(provider.tampered_token())
        # A key the file does not have, with the URL down: cannot be checked.
        provider.rotate()
        with pytest.raises(TokenKeysUnavailable):
            await fallback.verify(provider.token("rotated"))
        # The file is read again when it changes.
        jwks_file.write_text(json.dumps(provider.published()))
        assert (await only_file.verify(provider.token("rotated"))).subject == "rotated"
    finally:
        await only_file.aclose()
        await fallback.aclose()


def test_only_three_part_credentials_are_taken_for_tokens() -> None:
    assert looks_like_jwt("eyJhbGciOi.eyJzdWIi.c2ln")
    assert looks_like_jwt("eyJhbGciOi.eyJzdWIi.")  # alg none: still a token (and refused as one)
    assert not looks_like_jwt("sl_AbC-dEf_123")
    assert not looks_like_jwt("a.b")

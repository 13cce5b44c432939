"""Signing in with an identity provider's token, directly over gRPC to the real server: each preset's users reach
their own resources (created just in time, with their name and email), another subject's resources are NOT_FOUND,
every bad token is UNAUTHENTICATED with its reason, keys rotate without a restart, and a JWKS server that is down
refuses new tokens as UNAVAILABLE. API keys keep working beside tokens, under the same ownership rules."""

from __future__ import annotations

import grpc
import pytest

from storyloom.store.identities import SqlIdentityRepository
from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc
from tests.support.identity import PRESET_PROFILES, PRESETS, IdentityProvider, bearer, grpc_error_info, new_key
from tests.support.server import StoryloomServer


def conversations(server: StoryloomServer) -> conversation_pb2_grpc.ConversationServiceStub:
    return conversation_pb2_grpc.ConversationServiceStub(server.channel)


async def create(server: StoryloomServer, metadata: tuple[tuple[str, str], ...], title: str) -> pb.Conversation:
    return await conversations(server).CreateConversation(pb.CreateConversationRequest(
        parent="users/me", conversation=pb.Conversation(title=title)), metadata=metadata)


async def titles(server: StoryloomServer, metadata: tuple[tuple[str, str], ...]) -> list[str]:
    listed = await conversations(server).ListConversations(pb.ListConversationsRequest(parent="users/me"),
                                                          metadata=metadata)
    return sorted(c.title for c in listed.conversations)


@pytest.mark.parametrize("preset", sorted(PRESETS))
async def test_a_presets_users_reach_their_own_resources_and_not_anothers(
        preset: str, signin_server: StoryloomServer, providers: dict[str, IdentityProvider]) -> None:
    idp = providers[preset]
    alice, bob = bearer(idp.token("alice-uid")), bearer(idp.token("bob-uid"))
    mine = await create(signin_server, alice, f"{preset}: alice's")
    assert await titles(signin_server, alice) == [f"{preset}: alice's"]
    # A new token of the same person is the same user.
    assert await titles(signin_server, bearer(idp.token("alice-uid"))) == [f"{preset}: alice's"]

    # Bob (another subject of the same issuer) and an API-key user see nothing of Alice's, by name either.
    key_user = await signin_server.new_caller("key user")
    for other in (bob, key_user.metadata):
        assert await titles(signin_server, other) == []
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await conversations(signin_server).GetConversation(pb.GetConversationRequest(name=mine.name),
                                                               metadata=other)
        assert missing.value.code() is grpc.StatusCode.NOT_FOUND

    # The same subject at another issuer is another person.
    stranger = providers["firebase" if preset != "firebase" else "auth0"]
    assert await titles(signin_server, bearer(stranger.token("alice-uid"))) == []

    # Alice was created on first sight with the profile her token carried.
    identity = await SqlIdentityRepository(signin_server.app.db).find_identity(idp.issuer, "alice-uid")
    assert identity is not None and (identity.display_name, identity.email) == PRESET_PROFILES[preset]
    assert mine.name.startswith(f"users/{identity.user_id}/")
    user = await signin_server.app.accounts._repo.get_user(identity.user_id)
    assert user is not None and user.display_name == PRESET_PROFILES[preset][0]


async def test_an_api_key_works_as_before_also_as_a_bearer(signin_server: StoryloomServer) -> None:
    caller = await signin_server.new_caller()
    await create(signin_server, caller.metadata, "by key")
    assert await titles(signin_server, bearer(caller.key)) == ["by key"]


async def test_a_changed_name_or_email_is_stored_at_the_next_sign_in(
        signin_server: StoryloomServer, providers: dict[str, IdentityProvider]) -> None:
    idp = providers["auth0"]
    await titles(signin_server, bearer(idp.token("auth0|k")))
    await titles(signin_server, bearer(idp.token("auth0|k", name="Katherine G. Johnson", email="kgj@example.com")))
    identity = await SqlIdentityRepository(signin_server.app.db).find_identity(idp.issuer, "auth0|k")
    assert identity is not None and (identity.display_name, identity.email) == ("Katherine G. Johnson",
                                                                                "kgj@example.com")


REFUSED = {
    "expired": (lambda p: p.token(exp=p.claims("x")["iat"] - 600), "TOKEN_EXPIRED"),
    "from the future": (lambda p: p.token(nbf=p.claims("x")["iat"] + 600), "TOKEN_NOT_YET_VALID"),
    "wrong audience": (lambda p: p.token(aud="another-project"), "TOKEN_AUDIENCE"),
    "wrong issuer": (lambda p: p.token(iss="https://securetoken.google.com/another-project"), "TOKEN_ISSUER"),
    "alg none": (lambda p: p.unsigned_token(), "TOKEN_ALGORITHM"),
    "HS256 with the public key": (lambda p: p.hs256_with_public_key(), "TOKEN_ALGORITHM"),
    "tampered": (lambda p: p.tampered_token(), "TOKEN_SIGNATURE"),
    "unknown key": (lambda p: p.token(key=new_key("RS256")), "TOKEN_SIGNATURE"),
    "malformed": (lambda p: "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", "TOKEN_MALFORMED"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_bad_token_is_unauthenticated_with_its_reason_and_a_bearer_challenge(
        case: str, signin_server: StoryloomServer, providers: dict[str, IdentityProvider]) -> None:
    make, reason = REFUSED[case]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await titles(signin_server, bearer(make(providers["firebase"])))
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert grpc_error_info(refused.value).reason == reason
    challenge = dict(refused.value.trailing_metadata() or ())["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')


async def test_a_rotated_key_is_used_without_a_restart(signin_server: StoryloomServer,
                                                       providers: dict[str, IdentityProvider]) -> None:
    idp = providers["supabase"]
    await create(signin_server, bearer(idp.token("rotating")), "before")
    idp.rotate(keep_old=False)
    assert await titles(signin_server, bearer(idp.token("rotating"))) == ["before"]


async def test_a_jwks_server_that_is_down_refuses_new_tokens_as_unavailable(
        signin_server: StoryloomServer, providers: dict[str, IdentityProvider]) -> None:
    idp = providers["clerk"]
    assert idp.jwks is not None
    idp.jwks.stop()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await titles(signin_server, bearer(idp.token("user_2down")))
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    assert grpc_error_info(refused.value).reason == "TOKEN_KEYS_UNAVAILABLE"
    idp.jwks.start()
    assert await titles(signin_server, bearer(idp.token("user_2down"))) == []

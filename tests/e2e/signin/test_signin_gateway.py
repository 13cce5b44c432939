"""Signing in with tokens through the real Envoy gateway: jwt_authn verifies bearer JWTs of the configured issuers
(remote JWKS, cached) before the server verifies them again; API keys pass untouched. Refusals keep the server's
shape: 401 with one ErrorInfo whose reason says why and a WWW-Authenticate challenge (JSON for REST, a
grpc-status-details-bin for gRPC), 503 UNAVAILABLE when the keys cannot be fetched."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import grpc
import httpx
import pytest

from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc
from tests.support.gateway import Gateway, StartGateway, the_error_info
from tests.support.identity import PRESETS, IdentityProvider, bearer, grpc_error_info, new_key
from tests.support.server import StoryloomServer


async def gateway_for(server: StoryloomServer, providers: dict[str, IdentityProvider], start_gateway: StartGateway,
                      **options: object) -> Gateway:
    issuers = [dataclasses.asdict(p.settings()) for p in providers.values()]
    return await start_gateway(server.port, jwt_issuers=issuers, jwt_clock_skew_s=30, **options)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("preset", sorted(PRESETS))
async def test_a_presets_users_reach_their_own_resources_over_rest_and_grpc(
        preset: str, signin_server: StoryloomServer, providers: dict[str, IdentityProvider],
        start_gateway: StartGateway) -> None:
    gateway = await gateway_for(signin_server, providers, start_gateway)
    idp = providers[preset]
    alice, bob = auth(idp.token("alice")), auth(idp.token("bob"))
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        created = await http.post("/v1/users/me/conversations", json={"title": "alice's"}, headers=alice)
        assert created.status_code == 200, created.text
        name = created.json()["name"]
        listed = await http.get("/v1/users/me/conversations", headers=alice)
        assert listed.status_code == 200, listed.text
        assert [c["title"] for c in listed.json()["conversations"]] == ["alice's"]
        missing = await http.get(f"/v1/{name}", headers=bob)
        assert missing.status_code == 404 and the_error_info(missing.json())["reason"] == "RESOURCE_NOT_FOUND"

    # Native gRPC through the same port.
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = conversation_pb2_grpc.ConversationServiceStub(channel)
        got = await stub.GetConversation(pb.GetConversationRequest(name=name), metadata=bearer(idp.token("alice")))
        assert got.title == "alice's"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetConversation(pb.GetConversationRequest(name=name), metadata=bearer(idp.token("bob")))
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND


async def test_api_keys_pass_the_gateway_as_before(signin_server: StoryloomServer,
                                                   providers: dict[str, IdentityProvider],
                                                   start_gateway: StartGateway) -> None:
    gateway = await gateway_for(signin_server, providers, start_gateway)
    caller = await signin_server.new_caller()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        for headers in ({"x-api-key": caller.key}, {"authorization": f"Bearer {caller.key}"}):
            assert (await http.get("/v1/tasks", headers=headers)).status_code == 200
        wrong = await http.get("/v1/tasks", headers={"authorization": "Bearer sl_not-a-key"})
        assert wrong.status_code == 401 and the_error_info(wrong.json())["reason"] == "API_KEY_INVALID"


# (token, reason, who refuses it). HS256 made with the public key has no key of its algorithm among the issuer's,
# which jwt_authn reports as it does an unknown key: TOKEN_SIGNATURE (the server itself says TOKEN_ALGORITHM). An
# unsecured token has an empty signature, which the gateway leaves to the server.
REFUSED = {
    "expired": (lambda p: p.token(exp=int(time.time()) - 600, iat=int(time.time()) - 3600), "TOKEN_EXPIRED",
                "gateway"),
    "from the future": (lambda p: p.token(nbf=int(time.time()) + 600), "TOKEN_NOT_YET_VALID", "gateway"),
    "wrong audience": (lambda p: p.token(aud="another-project"), "TOKEN_AUDIENCE", "gateway"),
    "wrong issuer": (lambda p: p.token(iss="https://securetoken.google.com/another-project"), "TOKEN_ISSUER",
                     "gateway"),
    "alg none": (lambda p: p.unsigned_token(), "TOKEN_ALGORITHM", "server"),
    "HS256 with the public key": (lambda p: p.hs256_with_public_key(), "TOKEN_SIGNATURE", "gateway"),
    "tampered": (lambda p: p.tampered_token(), "TOKEN_SIGNATURE", "gateway"),
    "unknown key": (lambda p: p.token(key=new_key("RS256")), "TOKEN_SIGNATURE", "gateway"),
    "malformed": (lambda p: "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", "TOKEN_MALFORMED", "gateway"),
}


async def test_bad_tokens_are_refused_at_the_gateway_with_their_reason_over_rest_and_grpc(
        signin_server: StoryloomServer, providers: dict[str, IdentityProvider], start_gateway: StartGateway) -> None:
    gateway = await gateway_for(signin_server, providers, start_gateway)
    idp = providers["firebase"]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http, \
            grpc.aio.insecure_channel(gateway.address) as channel:
        stub = conversation_pb2_grpc.ConversationServiceStub(channel)
        for case, (make, reason, refused_by) in REFUSED.items():
            token = make(idp)
            answer = await http.get("/v1/users/me/conversations", headers=auth(token))
            assert answer.status_code == 401, (case, answer.text)
            status = answer.json()
            assert status["code"] == 16 and the_error_info(status)["reason"] == reason, (case, the_error_info(status))
            assert the_error_info(status)["metadata"].get("source", "server") == refused_by, case
            assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token", error_description='), \
                case

            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListConversations(pb.ListConversationsRequest(parent="users/me"), metadata=bearer(token))
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED, case
            assert grpc_error_info(refused.value).reason == reason, case


async def test_a_token_the_gateway_leaves_to_the_server_is_refused_there_in_the_same_shape(
        signin_server: StoryloomServer, providers: dict[str, IdentityProvider], start_gateway: StartGateway) -> None:
    # jwt_authn takes "Bearer " as written; a lower-case scheme reaches the server, which verifies it itself.
    gateway = await gateway_for(signin_server, providers, start_gateway)
    expired = providers["auth0"].token(exp=int(time.time()) - 600, iat=int(time.time()) - 3600)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        answer = await http.get("/v1/tasks", headers={"authorization": f"bearer {expired}"})
    assert answer.status_code == 401
    info = the_error_info(answer.json())
    assert info["reason"] == "TOKEN_EXPIRED" and "source" not in info["metadata"]  # the server's own error
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def eventually_accepted(http: httpx.AsyncClient, token: str, within: float = 30.0) -> int:
    """Retries until the gateway accepts the token (its key cache expired and it fetched the keys again)."""
    deadline = time.monotonic() + within
    while True:
        answer = await http.get("/v1/tasks", headers=auth(token))
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer.status_code
        await asyncio.sleep(0.2)


async def test_a_rotated_key_is_picked_up_by_the_gateway_without_a_restart(
        signin_server: StoryloomServer, providers: dict[str, IdentityProvider], start_gateway: StartGateway) -> None:
    gateway = await gateway_for(signin_server, providers, start_gateway, jwks_cache_s=1)
    idp = providers["supabase"]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        assert (await http.get("/v1/tasks", headers=auth(idp.token("rot")))).status_code == 200
        idp.rotate(keep_old=False)
        assert await eventually_accepted(http, idp.token("rot")) == 200
        old_key = providers["supabase"].keys[0]
        assert old_key.kid == idp.key.kid  # only the new key is published now


async def test_a_jwks_server_that_is_down_refuses_new_tokens_as_unavailable(
        signin_server: StoryloomServer, providers: dict[str, IdentityProvider], start_gateway: StartGateway) -> None:
    idp = providers["clerk"]
    assert idp.jwks is not None
    idp.jwks.stop()
    gateway = await gateway_for(signin_server, providers, start_gateway)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http, \
            grpc.aio.insecure_channel(gateway.address) as channel:
        answer = await http.get("/v1/tasks", headers=auth(idp.token("user_2x")))
        assert answer.status_code == 503, answer.text
        assert the_error_info(answer.json())["reason"] == "TOKEN_KEYS_UNAVAILABLE"
        stub = conversation_pb2_grpc.ConversationServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListConversations(pb.ListConversationsRequest(parent="users/me"),
                                         metadata=bearer(idp.token("user_2x")))
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
        assert grpc_error_info(refused.value).reason == "TOKEN_KEYS_UNAVAILABLE"
        # The other issuers are not affected.
        assert (await http.get("/v1/tasks", headers=auth(providers["auth0"].token("k")))).status_code == 200
        idp.jwks.start()
        assert await eventually_accepted(http, idp.token("user_2x")) == 200

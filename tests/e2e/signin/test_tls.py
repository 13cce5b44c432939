"""TLS with a certificate authority made at test time: the gateway serves HTTPS (HTTP/2 by ALPN, and HTTP/1.1) and
gRPC over TLS, and reaches the server over mTLS (the server takes only clients its CA signed); the Python client
and storyloom-cli dial https:// addresses with a CA file, with an API key or a sign-in token."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import ssl
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio

from storyloom.v1 import task_pb2, task_pb2_grpc
from storyloom_client import StoryloomClient
from storyloom_client import v1 as client_v1
from storyloom_client.errors import StoryloomError
from tests.support.gateway import Gateway, StartGateway
from tests.support.identity import IdentityProvider, bearer
from tests.support.server import Caller, StoryloomServer, serving, settings_for_tests
from tests.support.tls import Issued, TestCA


@dataclass
class TlsSetup:
    ca: TestCA
    server: StoryloomServer
    gateway: Gateway
    gateway_client: Issued  # the gateway's client certificate for the server
    caller: Caller

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.gateway.port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca.cert))


async def wait_https_healthy(gateway: Gateway, context: ssl.SSLContext, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(verify=context, timeout=2) as http:
        while True:
            try:
                if (await http.get(f"https://127.0.0.1:{gateway.port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the TLS gateway did not become healthy:\n{gateway.log_tail()}")
            await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def tls(tmp_path: Path, providers: dict[str, IdentityProvider],
              start_gateway: StartGateway) -> AsyncIterator[TlsSetup]:
    ca = TestCA(tmp_path / "pki")
    server_cert, gateway_cert = ca.issue("server"), ca.issue("gateway")
    gateway_client = ca.issue("gateway-client", server=False, client=True)
    settings = settings_for_tests(tmp_path / "data", tls_cert_file=str(server_cert.cert),
                                  tls_key_file=str(server_cert.key), tls_client_ca_file=str(ca.cert),
                                  jwt_issuers=tuple(p.settings() for p in providers.values()))
    async with serving(settings) as server:
        gateway = await start_gateway(
            server.port, wait_healthy=False, tls_cert=str(gateway_cert.cert), tls_key=str(gateway_cert.key),
            backend_tls_ca=str(ca.cert), backend_tls_cert=str(gateway_client.cert),
            backend_tls_key=str(gateway_client.key),
            jwt_issuers=[dataclasses.asdict(p.settings()) for p in providers.values()])
        setup = TlsSetup(ca, server, gateway, gateway_client, await server.new_caller("tls user"))
        await wait_https_healthy(gateway, setup.ssl_context())
        yield setup


async def test_rest_over_https_speaks_http2_by_alpn_and_http1(tls: TlsSetup) -> None:
    for http2, version in ((True, "HTTP/2"), (False, "HTTP/1.1")):
        async with httpx.AsyncClient(verify=tls.ssl_context(), http2=http2, timeout=30) as http:
            answer = await http.get(f"{tls.https}/v1/tasks", headers={"x-api-key": tls.caller.key})
        assert answer.status_code == 200 and answer.http_version == version
    # The certificate is checked: a client without the test CA refuses the gateway.
    async with httpx.AsyncClient(timeout=10) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{tls.https}/v1/tasks")


async def test_grpc_over_tls_through_the_gateway_with_a_key_and_with_a_token(
        tls: TlsSetup, providers: dict[str, IdentityProvider]) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca.cert.read_bytes())
    async with grpc.aio.secure_channel(tls.gateway.address, credentials) as channel:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        await stub.ListTasks(task_pb2.ListTasksRequest(), metadata=tls.caller.metadata)
        await stub.ListTasks(task_pb2.ListTasksRequest(), metadata=bearer(providers["firebase"].token("tls")))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListTasks(task_pb2.ListTasksRequest(), metadata=bearer(providers["firebase"].tampered_token()))
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_the_server_takes_only_clients_with_a_certificate_from_its_ca(tls: TlsSetup) -> None:
    address = f"127.0.0.1:{tls.server.port}"
    anonymous = grpc.ssl_channel_credentials(root_certificates=tls.ca.cert.read_bytes())
    async with grpc.aio.secure_channel(address, anonymous) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await task_pb2_grpc.TaskServiceStub(channel).ListTasks(task_pb2.ListTasksRequest(),
                                                                  metadata=tls.caller.metadata, timeout=10)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    with_certificate = grpc.ssl_channel_credentials(
        root_certificates=tls.ca.cert.read_bytes(), private_key=tls.gateway_client.key.read_bytes(),
        certificate_chain=tls.gateway_client.cert.read_bytes())
    async with grpc.aio.secure_channel(address, with_certificate) as channel:
        await task_pb2_grpc.TaskServiceStub(channel).ListTasks(task_pb2.ListTasksRequest(),
                                                              metadata=tls.caller.metadata, timeout=10)


async def test_the_python_client_dials_https_with_a_ca_file_and_a_key_or_a_token(
        tls: TlsSetup, providers: dict[str, IdentityProvider]) -> None:
    async with StoryloomClient(tls.https, tls.caller.key, ca_file=str(tls.ca.cert)) as client:
        conversation = await client.create_conversation("over TLS")
        assert conversation.name.startswith(f"users/{tls.caller.user_id}/")
    token = providers["supabase"].token("tls-client")
    async with StoryloomClient(tls.https, token=token, ca_file=str(tls.ca.cert)) as client:
        listed = await client.conversations.list_conversations(client_v1.ListConversationsRequest(parent="users/me"))
        assert listed.conversations == []  # a user of its own
    expired = providers["supabase"].token("tls-client", exp=int(time.time()) - 600, iat=int(time.time()) - 3600)
    async with StoryloomClient(tls.https, token=expired, ca_file=str(tls.ca.cert)) as client:
        with pytest.raises(StoryloomError) as refused:
            await client.conversations.list_conversations(client_v1.ListConversationsRequest(parent="users/me"))
        assert refused.value.reason == "TOKEN_EXPIRED"


async def cli(tls: TlsSetup, *args: str, **env: str) -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STORYLOOM_")}
    environment.update(STORYLOOM_ADDR=tls.https, STORYLOOM_CA_FILE=str(tls.ca.cert), **env)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "storyloom_client", *args, env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_the_cli_takes_a_token_and_an_https_address_with_a_ca_file(
        tls: TlsSetup, providers: dict[str, IdentityProvider]) -> None:
    code, out, err = await cli(tls, "tasks", "list", "--json", STORYLOOM_TOKEN=providers["auth0"].token("cli"))
    assert code == 0, err
    json.loads(out)
    expired = providers["auth0"].token("cli", exp=int(time.time()) - 600, iat=int(time.time()) - 3600)
    code, out, err = await cli(tls, "--token", expired, "tasks", "list")
    assert code == 1 and "TOKEN_EXPIRED" in err and "sign in again" in err, err

"""The gateway's limits: request bodies, URLs, header lists, grpc-timeout, Envoy's own memory; and its access log.

Bodies over a route's limit are refused with a JSON 413 as they stream in, at once when Content-Length says so, so
Envoy never holds them; a request without an API key may carry only a little. These tests speak raw HTTP/1.1 where
it matters how the gateway answers before the body is sent (httpx writes the whole body before it reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest_asyncio

from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.support.gateway import Gateway, StartGateway, access_log_line, render_config, the_error_info
from tests.support.server import Caller, StoryloomServer

MiB = 1024 * 1024


@pytest_asyncio.fixture
async def gateway(storyloom_server: StoryloomServer, start_gateway: StartGateway) -> Gateway:
    return await start_gateway(storyloom_server.port, access_log=True)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the end of the request headers to the whole answer

    def json(self) -> dict:
        return json.loads(self.body)


async def raw_request(gateway: Gateway, method: str, path: str, headers: dict[str, str],
                      body: Iterable[bytes] = (), *, wait_before_body: float = 0.0) -> Answer:
    """One HTTP/1.1 request on its own connection, reading the answer while the body is still being sent (as
    browsers and curl do). `body` is sent as given: with a content-length header it is the raw bytes, else
    chunks. With `wait_before_body`, the body waits that long for an answer to the headers alone."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    chunked = "content-length" not in {name.lower() for name in headers}
    head = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{gateway.port}", "connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    if chunked:
        head.append("transfer-encoding: chunked")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    started = time.monotonic()

    async def send_body() -> None:
        with contextlib.suppress(ConnectionError):
            if wait_before_body:
                await asyncio.sleep(wait_before_body)
            for piece in body:
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                await writer.drain()
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()

    sending = asyncio.create_task(send_body())
    try:
        status_line = await asyncio.wait_for(reader.readline(), 60)
        answer_headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            answer_headers[name.strip().lower()] = value.strip()
        length = int(answer_headers.get("content-length", "0"))
        answer_body = await reader.readexactly(length)
        return Answer(int(status_line.split()[1]), answer_headers, answer_body, time.monotonic() - started)
    finally:
        sending.cancel()
        with contextlib.suppress(BaseException):
            await sending
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def zeros(total: int, piece: int = MiB) -> Iterable[bytes]:
    block = b"\0" * piece
    for _ in range(total // piece):
        yield block
    if total % piece:
        yield b"\0" * (total % piece)


def json_body(size: int) -> bytes:
    """A JSON conversation of about `size` bytes."""
    return json.dumps({"title": "x" * max(0, size - 12)}).encode()


def assert_too_large(answer: Answer) -> None:
    assert answer.status == 413, answer
    status = answer.json()
    assert status["code"] == 8 and status["status"] == "RESOURCE_EXHAUSTED"
    assert the_error_info(status)["reason"] == "REQUEST_TOO_LARGE"


# --- request bodies --------------------------------------------------------------------------------------------------


async def test_a_json_body_over_the_limit_is_refused_by_its_length_before_it_is_sent(gateway: Gateway, caller: Caller):
    answer = await raw_request(gateway, "POST", f"/v1/users/{caller.user_id}/conversations",
                               {"x-api-key": caller.key, "content-type": "application/json",
                                "content-length": str(100 * MiB)}, zeros(100 * MiB), wait_before_body=5)
    assert_too_large(answer)
    assert answer.seconds < 5  # answered to the headers: none of the 100 MB was read


async def test_a_chunked_json_body_is_counted_as_it_streams_and_refused_past_the_limit(gateway: Gateway,
                                                                                      caller: Caller):
    answer = await raw_request(gateway, "POST", f"/v1/users/{caller.user_id}/conversations",
                               {"x-api-key": caller.key, "content-type": "application/json"},
                               zeros(20 * MiB, 64 * 1024))
    assert_too_large(answer)


async def test_json_bodies_under_the_limit_reach_the_server(http: httpx.AsyncClient, caller: Caller, key):
    body = json_body(render_config.JSON_BODY_LIMIT - 1024)
    response = await http.post(f"/v1/users/{caller.user_id}/conversations", content=body,
                               headers={**key, "content-type": "application/json"})
    assert response.status_code == 400  # the server's answer: the title is too long
    assert the_error_info(response.json())["reason"] == "INVALID_ARGUMENT"


async def test_uploads_may_be_larger_than_json_bodies(http: httpx.AsyncClient, gateway: Gateway, key):
    audio = b"RIFF" + bytes(4 * MiB)  # over the JSON limit, under the upload limit; not a WAV the server reads
    response = await http.post("/v1/media", content=audio, headers={**key, "content-type": "audio/wav"})
    assert response.status_code != 413, response.text
    assert response.json()["code"] == 3  # the server looked at it and refused the bytes
    over = render_config.UPLOAD_BODY_LIMIT + 1
    answer = await raw_request(gateway, "POST", "/v1/media",
                               {**key, "content-type": "audio/wav", "content-length": str(over)}, zeros(over),
                               wait_before_body=5)
    assert_too_large(answer)


async def test_a_request_without_an_api_key_may_carry_only_a_small_body(gateway: Gateway, caller: Caller):
    path = f"/v1/users/{caller.user_id}/conversations"
    small = await raw_request(gateway, "POST", path, {"content-type": "application/json",
                                                      "content-length": str(len(json_body(8 * 1024)))},
                              [json_body(8 * 1024)])
    assert small.status == 401  # it reached the server, which wants a key
    big = json_body(render_config.ANONYMOUS_BODY_LIMIT + 1)
    assert_too_large(await raw_request(gateway, "POST", path, {"content-type": "application/json",
                                                                "content-length": str(len(big))}, [big]))
    upload = await raw_request(gateway, "POST", "/v1/media", {"content-type": "audio/wav"}, zeros(5 * MiB, 64 * 1024))
    assert_too_large(upload)
    grpc_web = await raw_request(gateway, "POST", "/storyloom.v1.MediaService/CreateMedia",
                                 {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"},
                                 zeros(5 * MiB, 64 * 1024))
    assert grpc_web.status == 413 or grpc_web.headers.get("grpc-status") not in (None, "0"), grpc_web


# --- URLs, header lists and grpc-timeout -----------------------------------------------------------------------------


async def test_a_long_url_is_a_json_414_and_a_big_header_list_a_json_431(http: httpx.AsyncClient, key):
    for length in (render_config.MAX_URL_BYTES + 1, 12_000, 50_000):
        response = await http.get("/v1/tasks/" + "x" * (length - len("/v1/tasks/")), headers=key)
        assert response.status_code == 414, (length, response.text)
        status = response.json()
        assert status["code"] == 3 and the_error_info(status)["reason"] == "URL_TOO_LONG"
        assert len(status["message"]) < 200  # the URL is not echoed back
    response = await http.get("/v1/tasks", headers={**key, "x-padding": "p" * render_config.MAX_HEADER_LIST_BYTES})
    assert response.status_code == 431
    assert the_error_info(response.json())["reason"] == "HEADERS_TOO_LARGE"


async def test_a_url_and_headers_just_under_the_limits_reach_the_server(http: httpx.AsyncClient, key):
    """Under the gateway's limits, the server (which refuses over 8 KiB of headers) still answers."""
    url = "/v1/tasks/" + "x" * (render_config.MAX_URL_BYTES - len("/v1/tasks/") - 10)
    padding = render_config.MAX_HEADER_LIST_BYTES - len(url) - 1200  # what httpx and the key add, and some
    for _ in range(10):  # the server's limit between 8 and 16 KiB refuses at random: try a few times
        response = await http.get(url, headers={**key, "x-padding": "p" * padding})
        assert response.status_code == 400, response.text  # the server's own answer to a bad name
        assert response.json()["code"] == 3


async def test_a_bad_grpc_timeout_is_a_400_and_spoils_nothing_for_other_callers(
        http: httpx.AsyncClient, gateway: Gateway, storyloom_server: StoryloomServer, key):
    other = await storyloom_server.new_caller("other")
    channel = grpc.aio.insecure_channel(gateway.address)
    stub = task_pb2_grpc.TaskServiceStub(channel)
    try:
        for value in ("xyz", "1", "S", "123456789S", "1s5", "-1S"):
            response = await http.get("/v1/tasks", headers={**key, "grpc-timeout": value})
            assert response.status_code == 400, (value, response.text)
            status = response.json()
            assert status["code"] == 3 and "grpc-timeout" in status["message"]
        for value in ("30S", "100m", "99999999u", "1H"):
            response = await http.get("/v1/tasks", headers={**key, "grpc-timeout": value})
            assert response.status_code == 200, (value, response.text)
        # Native gRPC calls with deadlines, through the same gateway and upstream connection.
        for timeout in (5.0, 7.5, 9.25):
            await stub.ListTasks(task_pb2.ListTasksRequest(), metadata=other.metadata, timeout=timeout)
    finally:
        await channel.close()


MALFORMED = [("x-trace-bin", "!!!"), ("grpc-trace-bin", "a"), ("grpc-encoding", "xyz"),
             ("grpc-internal-encoding-request", "br"), ("grpc-previous-rpc-attempts", "abc"),
             ("grpc-retry-pushback-ms", "-1"), ("grpc-status", "OK"), ("grpc-timeout", "10s")]


async def upstream_protocol_errors(gateway: Gateway) -> int:
    async with httpx.AsyncClient() as admin:
        stats = (await admin.get(f"http://127.0.0.1:{gateway.admin_port}/stats",
                                 params={"filter": "storyloom_backend.upstream_cx_protocol_error"})).text
    return int(stats.split(":")[-1])


async def test_headers_the_server_would_choke_on_are_a_400_and_spoil_no_other_call(
        http: httpx.AsyncClient, gateway: Gateway, storyloom_server: StoryloomServer, key):
    """gRPC's header decoder remembers a value it refused and may fail other callers' calls on the same upstream
    connection, or the connection may be dropped with every call on it: such values never leave the gateway."""
    other = await storyloom_server.new_caller("other")
    for name, value in MALFORMED:
        response = await http.get("/v1/tasks", headers={**key, name: value})
        assert response.status_code == 400, (name, response.text)
        status = response.json()
        assert status["code"] == 3 and name in status["message"]
    response = await http.get("/v1/tasks", headers={**key, "x-trace-bin": "AQI", "grpc-encoding": "gzip"})
    assert response.status_code == 200, response.text
    channel = grpc.aio.insecure_channel(gateway.address)
    try:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        for value in (b"\x01\x02", b"\x03\x04\x05"):
            await stub.ListTasks(task_pb2.ListTasksRequest(), metadata=(*other.metadata, ("x-trace-bin", value)),
                                 timeout=10)
    finally:
        await channel.close()
    assert await upstream_protocol_errors(gateway) == 0


# --- Envoy's memory --------------------------------------------------------------------------------------------------


def envoy_memory_kb(gateway: Gateway) -> tuple[int, int]:
    """Envoy's resident memory now and at its peak (VmRSS, VmHWM), in KiB."""
    status = Path(f"/proc/{gateway.process.pid}/status").read_text()
    return (int(re.search(r"VmRSS:\s+(\d+)", status).group(1)),  # type: ignore[union-attr]
            int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))  # type: ignore[union-attr]


async def test_ten_parallel_100_mb_uploads_leave_envoy_memory_bounded(gateway: Gateway, caller: Caller):
    _, before = envoy_memory_kb(gateway)
    with_key = {"x-api-key": caller.key, "content-type": "audio/wav"}
    uploads = [raw_request(gateway, "POST", "/v1/media", with_key, zeros(100 * MiB, 256 * 1024)) for _ in range(5)]
    uploads += [raw_request(gateway, "POST", "/v1/media", {"content-type": "audio/wav"}, zeros(100 * MiB, 256 * 1024))
                for _ in range(3)]
    uploads += [raw_request(gateway, "POST", f"/v1/users/{caller.user_id}/conversations",
                            {**with_key, "content-type": "application/json"}, zeros(100 * MiB, 256 * 1024))
                for _ in range(2)]
    answers = await asyncio.gather(*uploads)
    for answer in answers:
        assert_too_large(answer)
    now, peak = envoy_memory_kb(gateway)
    grown_mb = (peak - before) / 1024
    print(f"Envoy RSS: {before / 1024:.0f} MB before, {peak / 1024:.0f} MB at the peak (+{grown_mb:.0f} MB), "
          f"{now / 1024:.0f} MB after ten parallel 100 MB uploads")
    # Each upload is buffered at most up to its route's limit (17 MiB for media) by the transcoder.
    assert grown_mb < 10 * render_config.UPLOAD_BODY_LIMIT / MiB + 64


# --- the access log --------------------------------------------------------------------------------------------------


async def test_the_access_log_shows_the_servers_grpc_status(http: httpx.AsyncClient, gateway: Gateway,
                                                           caller: Caller, key):
    assert (await http.get("/v1/tasks/nope", headers=key)).status_code == 404
    assert (await http.get("/v1/tasks?pageSize=-1", headers=key)).status_code == 400
    assert (await http.get("/v1/tasks?pageSize=3", headers=key)).status_code == 200
    channel = grpc.aio.insecure_channel(gateway.address)
    try:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        try:
            await stub.GetTask(task_pb2.GetTaskRequest(name="tasks/missing"), metadata=caller.metadata)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await channel.close()
    expected = {"/v1/tasks/nope": (404, 5), "/v1/tasks?pageSize=-1": (400, 3), "/v1/tasks?pageSize=3": (200, 0),
                "/storyloom.v1.TaskService/GetTask": (200, 5)}
    for path, (http_status, grpc_status) in expected.items():
        line = await access_log_line(gateway, path)
        assert f" {http_status} grpc={grpc_status} " in line, line
        assert re.search(r" \d+ms ", line), line

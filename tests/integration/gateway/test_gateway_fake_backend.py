"""Gateway behaviours the real server cannot trigger yet, shown with tests/gateway/fake_backend.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from tests.support import fake_backend
from tests.support.gateway import Gateway, StartGateway, sse_events


@pytest_asyncio.fixture
async def fake_backend_port() -> AsyncIterator[int]:
    server, port = await fake_backend.start()
    try:
        yield port
    finally:
        await server.stop(0)


@pytest_asyncio.fixture
async def gateway(fake_backend_port: int, start_gateway: StartGateway) -> Gateway:
    return await start_gateway(fake_backend_port)


async def http1_exchange(port: int, path: str) -> tuple[str, bytes, dict[str, str]]:
    """GETs path over a raw HTTP/1.1 connection: (head, de-chunked body, trailers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nhost: gateway\r\nte: trailers\r\n\r\n".encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    assert "transfer-encoding: chunked" in head.lower(), head
    body = b""
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            break
        body += await reader.readexactly(size)
        await reader.readexactly(2)
    trailers = {}
    while (line := (await reader.readline()).decode().strip()):
        key, _, value = line.partition(":")
        trailers[key.strip().lower()] = value.strip()
    writer.close()
    await writer.wait_closed()
    return head, body, trailers


async def test_a_grpc_error_in_the_middle_of_a_stream_reaches_http1_clients_only_as_trailers(gateway):
    head, body, trailers = await http1_exchange(gateway.port, "/v1/tasks/fail-midstream:watch")
    # The status line was sent with the first event, so it stays 200 ...
    assert head.startswith("HTTP/1.1 200")
    assert [e["sequence"] for e in sse_events(body.decode())] == ["1", "2"]
    # ... and the error travels in HTTP/1.1 trailers (http_protocol_options.enable_trailers).
    assert trailers["grpc-status"] == "13"
    assert trailers["grpc-message"] == "engine crashed"
    assert trailers["grpc-status-details-bin"]


async def test_a_unary_http_body_response_is_the_raw_document_with_its_content_type(http):
    response = await http.get("/v1/users/u1/stories/s1:export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.text == fake_backend.EXPORT_MARKDOWN


async def test_a_slow_unary_call_times_out_as_json_504_but_a_longer_stream_lives_on(
    fake_backend_port, start_gateway
):
    gateway = await start_gateway(fake_backend_port, unary_timeout_s=1)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as http:
        slow_unary = await http.get("/v1/tasks/sleep")  # takes 2 s
        assert slow_unary.status_code == 504
        status = slow_unary.json()
        assert status["code"] == 4 and status["status"] == "DEADLINE_EXCEEDED"

        started = time.monotonic()
        stream = await http.get("/v1/tasks/slow:watch")  # 5 events 0.3 s apart
        assert time.monotonic() - started > 1.2
        events = sse_events(stream.text)
        assert len(events) == fake_backend.STREAM_EVENTS
        assert events[-1]["state"] == "TASK_STATE_SUCCEEDED"

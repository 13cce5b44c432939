"""Bytes that are no request: INVALID_ARGUMENT with one ErrorInfo (MALFORMED_REQUEST) on every RPC, after auth,
one log line a minute per client and never a traceback."""

from __future__ import annotations

import logging

import grpc
import pytest

from storyloom.api.decoding import MalformedLog
from storyloom.server import SERVICE_NAMES
from storyloom.v1 import conversation_pb2, media_pb2, story_pb2, task_pb2, voice_pb2, voice_pb2_grpc
from tests.conftest import Caller, StoryloomServer
from tests.support.errors import the_error_info

GARBAGE = b"\xff\xff\xff\xff"
FILES = (conversation_pb2, media_pb2, story_pb2, task_pb2, voice_pb2)


def all_methods() -> list[tuple[str, bool, bool]]:
    """(path, client_streaming, server_streaming) of every RPC of the five services."""
    methods = []
    for module in FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            assert service.full_name in SERVICE_NAMES
            for method in service.methods:
                methods.append((f"/{service.full_name}/{method.name}", method.client_streaming,
                                method.server_streaming))
    return methods


async def call_raw(channel: grpc.aio.Channel, path: str, client_streaming: bool, server_streaming: bool,
                   payload: bytes, metadata: tuple[tuple[str, str], ...],
                   messages: list[bytes] | None = None) -> grpc.aio.AioRpcError:
    """Sends `payload` as the request's bytes (`messages` on a client stream) and returns the error the call
    ended with."""
    try:
        if client_streaming:
            call = channel.stream_stream(path)(iter(messages or [payload]), metadata=metadata, timeout=30)
            async for _ in call:
                pass
        elif server_streaming:
            async for _ in channel.unary_stream(path)(payload, metadata=metadata, timeout=30):
                pass
        else:
            await channel.unary_unary(path)(payload, metadata=metadata, timeout=30)
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError(f"{path} accepted {payload!r}")


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in records if r.exc_info or r.levelno >= logging.ERROR]


async def test_every_rpc_answers_undecodable_bytes_with_invalid_argument_and_one_error_info(
        storyloom_server: StoryloomServer, caller: Caller, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    methods = all_methods()
    assert len(methods) == 41  # every RPC of the five services, health and reflection aside
    for path, client_streaming, server_streaming in methods:
        error = await call_raw(storyloom_server.channel, path, client_streaming, server_streaming, GARBAGE,
                               caller.metadata)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (path, error.code(), error.details())
        assert the_error_info(error).reason == "MALFORMED_REQUEST", path
        assert "DecodeError" not in (error.details() or ""), path
    assert tracebacks(caplog.records) == []
    lines = [r for r in caplog.records if r.getMessage() == "malformed request"]
    assert len(lines) == 1, "one line a minute per client"


async def test_undecodable_bytes_without_a_key_are_unauthenticated(storyloom_server: StoryloomServer,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    error = await call_raw(storyloom_server.channel, "/storyloom.v1.TaskService/GetTask", False, False, GARBAGE, ())
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert the_error_info(error).reason == "API_KEY_MISSING"
    assert tracebacks(caplog.records) == []
    assert not [r for r in caplog.records if r.getMessage() == "malformed request"]


@pytest.mark.parametrize("payload", [
    # A string field (name) that is not UTF-8.
    task_pb2.GetTaskRequest(name="tasks/x").SerializeToString().replace(b"x", b"\xc0"),
    # A length that runs past the end.
    b"\x0a\x7f" + b"a",
    # A field number 0, and an end-group tag with no group.
    b"\x00\x00", b"\x0c",
])
async def test_each_kind_of_broken_message_is_malformed(storyloom_server: StoryloomServer, caller: Caller,
                                                        payload: bytes) -> None:
    error = await call_raw(storyloom_server.channel, "/storyloom.v1.TaskService/GetTask", False, False, payload,
                           caller.metadata)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert the_error_info(error).reason == "MALFORMED_REQUEST"


async def test_a_malformed_message_later_in_a_converse_stream_ends_it_invalid_argument(
        storyloom_server: StoryloomServer, caller: Caller, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    voice = voice_pb2_grpc.VoiceServiceStub(storyloom_server.channel)
    session = await voice.CreateVoiceSession(voice_pb2.CreateVoiceSessionRequest(parent=caller.parent),
                                             metadata=caller.metadata)
    config = voice_pb2.ConverseRequest(config=voice_pb2.ConverseConfig(session=session.name)).SerializeToString()
    error = await call_raw(storyloom_server.channel, "/storyloom.v1.VoiceService/Converse", True, True,
                           b"", caller.metadata, messages=[config, GARBAGE])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert the_error_info(error).reason == "MALFORMED_REQUEST"
    assert tracebacks(caplog.records) == []


def test_the_malformed_log_admits_one_line_per_client_per_interval() -> None:
    now = [0.0]
    log = MalformedLog(interval=60, max_clients=2, clock=lambda: now[0])
    assert log.admit("a") == 0
    assert log.admit("a") is None
    assert log.admit("a") is None
    assert log.admit("b") == 0
    now[0] = 61
    assert log.admit("a") == 2  # two left out
    assert log.admit("c") == 0  # the table is full: it starts again, still bounded
    assert log.admit("c") is None

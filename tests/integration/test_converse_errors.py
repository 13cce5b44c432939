"""Converse's errors on a real server: a fatal error is told in-band and then ends the call with the same status and
one ErrorInfo; a fault of the server is INTERNAL with the id of its log line; a client that cancels leaves nothing
in the logs; a message over the size limit is refused with a reason, not by grpc's bare limit."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from storyloom.v1 import voice_pb2 as pb
from storyloom.v1 import voice_pb2_grpc
from tests.conftest import StoryloomServer
from tests.support.voice import ConverseClient, kind, silence


def the_error_info(status: object) -> error_details_pb2.ErrorInfo:
    infos = []
    for detail in getattr(status, "details", ()):
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            infos.append(info)
    assert len(infos) == 1, f"expected exactly one ErrorInfo, got {len(infos)}"
    assert infos[0].domain == "storyloom.v1"
    return infos[0]


def call_error(client: ConverseClient) -> tuple[grpc.StatusCode, error_details_pb2.ErrorInfo]:
    error = client.error
    assert isinstance(error, grpc.aio.AioRpcError), f"the call ended {error!r}, not with a status"
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    return error.code(), the_error_info(status)


async def ended(client: ConverseClient) -> None:
    await asyncio.wait_for(client.ended.wait(), 30)


@pytest.fixture
def server(storyloom_server: StoryloomServer) -> StoryloomServer:
    return storyloom_server


async def test_a_fatal_config_error_is_told_in_band_then_ends_the_call_with_its_status(
        server: StoryloomServer) -> None:
    me, other = await server.new_caller("me"), await server.new_caller("other")
    theirs = await voice_pb2_grpc.VoiceServiceStub(server.channel).CreateVoiceSession(
        pb.CreateVoiceSessionRequest(parent="users/me"), metadata=other.metadata)
    cases = [
        (pb.ConverseConfig(session=theirs.name), grpc.StatusCode.NOT_FOUND, "RESOURCE_NOT_FOUND"),
        (pb.ConverseConfig(input_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16,
                                                       sample_rate_hertz=100000)),
         grpc.StatusCode.INVALID_ARGUMENT, "SAMPLE_RATE_UNSUPPORTED"),
        (pb.ConverseConfig(voice="darth"), grpc.StatusCode.INVALID_ARGUMENT, "VOICE_UNKNOWN"),
    ]
    for config, code, reason in cases:
        client = ConverseClient(server.channel, me.metadata)
        client.send(pb.ConverseRequest(config=config))
        await ended(client)
        assert call_error(client) == (code, the_error_info(client.events[-1].error)), config
        assert call_error(client)[1].reason == reason
        assert [kind(e) for e in client.events] == ["error"]  # the in-band event, then the status

    no_config = ConverseClient(server.channel, me.metadata)
    no_config.send(pb.ConverseRequest(audio=silence(0.1)))
    await ended(no_config)
    code, info = call_error(no_config)
    assert (code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CONFIG_REQUIRED")

    closed_at_once = ConverseClient(server.channel, me.metadata)
    await closed_at_once.close()
    code, info = call_error(closed_at_once)
    assert (code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CONFIG_REQUIRED")


async def test_a_fault_of_the_server_is_internal_with_the_id_of_its_log_line(
        server: StoryloomServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caller = await server.new_caller()

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server.app.voice, "create_session", broken)
    with caplog.at_level(logging.ERROR):
        client = ConverseClient(server.channel, caller.metadata)
        client.configure()
        await ended(client)
    code, info = call_error(client)
    assert (code, info.reason) == (grpc.StatusCode.INTERNAL, "INTERNAL")
    request_id = info.metadata["requestId"]
    logged = [r for r in caplog.records if getattr(r, "requestId", None) == request_id]
    assert len(logged) == 1 and logged[0].exc_info is not None


async def test_a_client_that_cancels_mid_reply_leaves_nothing_in_the_logs(
        server: StoryloomServer, caplog: pytest.LogCaptureFixture) -> None:
    caller = await server.new_caller()
    live = server.app.voice.live
    with caplog.at_level(logging.DEBUG):
        for stage in ("reply_text", "reply_audio", "session_started") * 2:
            client = ConverseClient(server.channel, caller.metadata)
            client.configure()
            started = await client.wait_for(lambda e: kind(e) == "session_started", timeout=60)
            session_id = started.session_started.session.name.rsplit("/", 1)[1]
            if stage != "session_started":
                client.text("Tell me a long story about a dragon and a rabbit, please.")
                await client.wait_for(lambda e, s=stage: kind(e) == s, timeout=60)
            else:
                client.send(pb.ConverseRequest(audio=silence(0.1)))
            await client.cancel()
            # The server is done with the stream when it lets go of the session's live state.
            for _ in range(600):
                if session_id not in live or live._states[session_id].owner is None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the server did not end the cancelled stream")
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info is not None
             or "ExecuteBatchError" in r.getMessage()]
    assert noisy == [], [(r.name, r.levelname, r.getMessage()) for r in noisy]

    again = ConverseClient(server.channel, caller.metadata)  # and the server goes on serving
    again.configure()
    await again.wait_for(lambda e: kind(e) == "session_started", timeout=60)
    await again.close()
    assert again.error is None


async def test_a_message_over_the_size_limit_is_refused_with_a_reason(server: StoryloomServer) -> None:
    caller = await server.new_caller()
    limit = server.app.settings.max_receive_message_bytes
    client = ConverseClient(server.channel, caller.metadata)
    client.configure()
    await client.wait_for(lambda e: kind(e) == "session_started", timeout=60)
    client.send(pb.ConverseRequest(audio=bytes(limit + 1024)))
    await ended(client)
    code, info = call_error(client)
    assert (code, info.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "MESSAGE_TOO_LARGE")
    assert int(info.metadata["limitBytes"]) == limit
    assert the_error_info(client.events[-1].error).reason == "MESSAGE_TOO_LARGE"

    # A unary call alike: refused after authentication, with the reason.
    stub = voice_pb2_grpc.VoiceServiceStub(server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Transcribe(pb.TranscribeRequest(parent="users/me", audio_content=bytes(limit + 1024)),
                              metadata=caller.metadata)
    status = rpc_status.from_call(raised.value)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert the_error_info(status).reason == "MESSAGE_TOO_LARGE"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Transcribe(pb.TranscribeRequest(parent="users/me", audio_content=bytes(limit + 1024)))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED

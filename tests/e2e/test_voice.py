"""VoiceService on a real server with the real offline engines (faster-whisper tiny.en, Silero VAD, piper, fastText
language id) and the offline storyteller. Speech input is piper's voice resampled to 16 kHz, streamed in real time.

One server serves the whole module (the models load once); each test has its own user. A spy around the text engine
records every ChatRequest, so tests can see the memories a turn was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import re
import struct
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import pytest_asyncio
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from storyloom.app import App, build_app, start
from storyloom.domain.ports.text import ChatRequest, TextDelta
from storyloom.engines.speech.piper_tts import PiperNarrator
from storyloom.server import RunningServer, start_server
from storyloom.v1 import conversation_pb2, conversation_pb2_grpc, media_pb2, media_pb2_grpc, voice_pb2_grpc
from storyloom.v1 import voice_pb2 as pb
from tests.support.errors import error_info
from tests.support.server import Caller, settings_for_tests
from tests.support.voice import ConverseClient, kind, seconds, silence, speech
from tests.support.waiting import wait_until

QUESTION = "Can you tell me a story about a brave little dragon?"


class SpyEngine:
    """Delegates to the real text engine and records each chat request."""

    def __init__(self, engine: Any):
        self._engine = engine
        self.requests: list[ChatRequest] = []
        self.written: list[str] = []  # the text written for each request, as far as it was read

    def chat(self, request: ChatRequest) -> Any:
        self.requests.append(request)
        self.written.append("")
        return self._recorded(self._engine.chat(request), len(self.written) - 1)

    async def _recorded(self, events: Any, index: int) -> AsyncIterator[Any]:
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    self.written[index] += event.text
                yield event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@dataclasses.dataclass
class VoiceServer:
    app: App
    running: RunningServer
    channel: grpc.aio.Channel
    spy: SpyEngine
    speaker: PiperNarrator  # what the tests say: piper without its random variation (the same samples every run)

    @property
    def stub(self) -> voice_pb2_grpc.VoiceServiceStub:
        return voice_pb2_grpc.VoiceServiceStub(self.channel)

    async def new_caller(self, name: str = "voice") -> Caller:
        user = await self.app.accounts.create_user(name)
        return Caller(user.id, await self.app.accounts.create_key(user.id))

    def converse(self, caller: Caller) -> ConverseClient:
        return ConverseClient(self.channel, caller.metadata)

    async def speech(self, text: str) -> bytes:
        return await speech(self.speaker, text)

    async def messages(self, caller: Caller, conversation: str) -> list[conversation_pb2.Message]:
        stub = conversation_pb2_grpc.ConversationServiceStub(self.channel)
        found = await stub.ListMessages(conversation_pb2.ListMessagesRequest(parent=conversation),
                                        metadata=caller.metadata)
        return list(reversed(found.messages))


@pytest_asyncio.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[VoiceServer]:
    data = Path(tmp_path_factory.mktemp("voice")) / "data"
    app = await build_app(settings_for_tests(data, messages_per_minute=1000))
    spy = SpyEngine(app.conversations._engine)
    app.conversations._engine = spy  # type: ignore[assignment]
    await start(app)
    await app.voice.engines.warm_up()
    running = await start_server(app)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    speaker = PiperNarrator(noise_scale=0.0, noise_w_scale=0.0)
    try:
        yield VoiceServer(app, running, channel, spy, speaker)
    finally:
        await speaker.aclose()
        await channel.close()
        await running.stop(0.5)
        await app.close()


@pytest_asyncio.fixture
async def caller(server: VoiceServer) -> Caller:
    return await server.new_caller()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def status_reason(status: Any) -> str:
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    raise AssertionError("no ErrorInfo")


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        result = call
        if hasattr(result, "__aiter__"):
            async for _ in result:
                pass
        else:
            await result
    return raised.value


# --- Converse: a spoken turn -----------------------------------------------------------------------------------------


async def test_a_spoken_question_is_heard_transcribed_answered_and_spoken_back(server: VoiceServer, caller) -> None:
    client = server.converse(caller)
    client.configure()
    started = await client.wait_for(lambda e: kind(e) == "session_started")
    assert started.sequence == 1 and started.turn == 1
    session = started.session_started.session
    assert session.name.startswith(f"users/{caller.user_id}/voiceSessions/") and session.turn_count == 0
    assert started.session_started.output_format == pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16,
                                                                   sample_rate_hertz=22050)

    await client.speak(silence(0.5))
    # At half speed: the recognizer has time for partials even on a loaded machine (the detector goes by the audio).
    await client.speak(await server.speech(QUESTION), speed=0.5)
    await client.speak(silence(1.0))
    complete = await client.wait_for(lambda e: kind(e) == "turn_complete")
    await client.close()

    events = client.events
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    names = [kind(e) for e in events]
    assert names.count("speech_started") == 1 and names.count("speech_stopped") == 1
    started_at = names.index("speech_started")
    stopped_at = names.index("speech_stopped")
    assert 0.4 <= seconds(events[started_at].speech_started.audio_offset) <= 0.8
    partials = [i for i, e in enumerate(events) if kind(e) == "transcript" and not e.transcript.final]
    finals = [e for e in events if kind(e) == "transcript" and e.transcript.final]
    assert partials and all(started_at < i < stopped_at + 1 for i in partials)
    # Partials while the user speaks (how often is measured in bench/bench_voice.py, not here: a loaded machine
    # delays them): the first words, once the recognizer has heard some, and before the end of speech is sure.
    assert words(events[partials[0]].transcript.text)[:1] == ["can"]
    (final,) = finals
    assert final.turn == 1 and final.transcript.language_code == "en"
    assert words(final.transcript.text) == words(QUESTION)
    assert names.index("transcript", stopped_at) > stopped_at

    reply_text = "".join(e.reply_text.text for e in events if kind(e) == "reply_text")
    audio = [e.reply_audio for e in events if kind(e) == "reply_audio"]
    assert "dragon" in reply_text.lower()
    assert audio and audio[-1].last and not any(a.last for a in audio[:-1])
    assert all(0.02 <= len(a.audio) / 2 / 22050 <= 0.1 for a in audio)
    sentences = [a.sentence for a in audio if a.sentence]
    assert len(sentences) >= 2 and " ".join(sentences) == " ".join(reply_text.split())
    offsets = [seconds(a.start_offset) for a in audio]
    assert offsets == sorted(offsets) and offsets[0] == 0
    total = offsets[-1] + len(audio[-1].audio) / 2 / 22050
    assert 0.2 * len(words(reply_text)) <= total <= 0.8 * len(words(reply_text))

    assert complete.turn == 1 and names[-1] == "turn_complete"
    user, assistant = complete.turn_complete.user_message, complete.turn_complete.assistant_message
    assert user.text == final.transcript.text and assistant.text == reply_text
    assert assistant.state == conversation_pb2.MESSAGE_STATE_COMPLETE
    assert await server.messages(caller, session.conversation) == [user, assistant]
    got = await server.stub.GetVoiceSession(pb.GetVoiceSessionRequest(name=session.name), metadata=caller.metadata)
    assert got.turn_count == 1 and got.last_use_time.ToDatetime() >= session.last_use_time.ToDatetime()


async def test_speaking_over_the_reply_interrupts_it_and_stores_what_was_played(server: VoiceServer, caller) -> None:
    client = server.converse(caller)
    client.configure()
    session = (await client.wait_for(lambda e: kind(e) == "session_started")).session_started.session
    await client.speak(silence(0.3))
    await client.speak(await server.speech(QUESTION))
    speaking = asyncio.create_task(client.speak(silence(3.0)))
    second = await client.wait_for(lambda e: kind(e) == "reply_audio" and e.reply_audio.sentence != ""
                                   and seconds(e.reply_audio.start_offset) > 0)
    speaking.cancel()
    first = next(e for e in client.events if kind(e) == "reply_audio" and e.reply_audio.sentence)
    played = seconds(second.reply_audio.start_offset)  # exactly the first sentence (and the pause after it)
    client.playback(1, played)
    barge_at = len(client.events)
    # No comma: piper pauses 0.36-0.44 s after one, as long as the detector's hangover, and "Wait," would then be
    # a turn of its own now and then.
    await client.speak(await server.speech("Please make it about a kind robot instead."))
    await client.speak(silence(1.0))

    interrupted = await client.wait_for(lambda e: kind(e) == "interrupted", after=barge_at)
    assert interrupted.turn == 1
    assert seconds(interrupted.interrupted.played) == pytest.approx(played, abs=1e-6)
    assert interrupted.interrupted.stored_text == first.reply_audio.sentence
    # The interruption comes at once: right after the speech start that caused it.
    index = client.index_of(interrupted)
    assert kind(client.events[index + 1]) == "speech_started" and client.events[index + 1].turn == 2

    done = await client.wait_for(lambda e: kind(e) == "turn_complete" and e.turn == 2, timeout=40)
    await client.close()
    stored = await server.messages(caller, session.conversation)
    roles = [conversation_pb2.MESSAGE_ROLE_USER, conversation_pb2.MESSAGE_ROLE_ASSISTANT] * 2
    assert [m.role for m in stored] == roles, [m.text for m in stored]
    assert stored[1].text == first.reply_audio.sentence and stored[1].state == conversation_pb2.MESSAGE_STATE_CUT
    assert stored[1].finish_reason == conversation_pb2.FINISH_REASON_CANCELLED
    assert "robot" in stored[2].text.lower() and stored[3] == done.turn_complete.assistant_message
    # Turn 1's audio stopped with the interruption, and the reply to turn 2 was generated from the cut history.
    after = client.index_of(interrupted)
    assert not [e for e in client.events[after + 1:] if kind(e) in ("reply_audio", "reply_text") and e.turn == 1]
    turn_one = [e for e in client.events if kind(e) == "turn_complete" and e.turn == 1]
    if turn_one and client.index_of(turn_one[0]) > after:  # completed after the interruption: the cut message
        assert turn_one[0].turn_complete.assistant_message == stored[1]
    history = [r for r in server.spy.requests if r.turns and "robot" in r.turns[-1].text.lower()][-1]
    assert [t.text for t in history.turns][-2] == first.reply_audio.sentence


async def test_a_reconnect_with_the_session_continues_its_conversation(server: VoiceServer, caller) -> None:
    client = server.converse(caller)
    client.configure(voice="joe", language_code="en")
    session = (await client.wait_for(lambda e: kind(e) == "session_started")).session_started.session
    assert (session.voice, session.language_code) == ("joe", "en")
    client.text("I want a story about a fox named Luna.")
    first = await client.wait_for(lambda e: kind(e) == "turn_complete")
    await client.cancel()  # the phone went into a tunnel

    again = server.converse(caller)
    again.configure(session=session.name)
    resumed = await again.wait_for(lambda e: kind(e) == "session_started")
    assert resumed.session_started.session.turn_count == 1 and resumed.turn == 2
    assert resumed.session_started.session.conversation == session.conversation
    again.text("She lives in a snowy forest.")
    second = await again.wait_for(lambda e: kind(e) == "turn_complete")
    await again.close()

    assert second.turn == 2 and second.sequence > 1
    stored = await server.messages(caller, session.conversation)
    assert [m.text for m in stored][:2] == [first.turn_complete.user_message.text,
                                           first.turn_complete.assistant_message.text]
    assert stored[2:] == [second.turn_complete.user_message, second.turn_complete.assistant_message]
    assert "Luna" in stored[3].text  # the reply knew the first turn
    got = await server.stub.GetVoiceSession(pb.GetVoiceSessionRequest(name=session.name), metadata=caller.metadata)
    assert got.turn_count == 2


async def test_a_second_stream_on_a_session_takes_it_over(server: VoiceServer, caller) -> None:
    first = server.converse(caller)
    first.configure()
    session = (await first.wait_for(lambda e: kind(e) == "session_started")).session_started.session
    second = server.converse(caller)
    second.configure(session=session.name)
    await second.wait_for(lambda e: kind(e) == "session_started")
    ended = await first.wait_for(lambda e: kind(e) == "error")
    assert status_reason(ended.error) == "SESSION_RESUMED_ELSEWHERE"
    await asyncio.wait_for(first.ended.wait(), 5)
    # The in-band error, then the call's status says the same.
    assert first.error.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[union-attr]
    assert status_reason(rpc_status.from_call(first.error)) == "SESSION_RESUMED_ELSEWHERE"
    second.text("Hello there")
    await second.wait_for(lambda e: kind(e) == "turn_complete")
    await second.close()


# --- memory ---------------------------------------------------------------------------------------------------------


async def test_memory_from_one_session_is_queried_and_given_to_a_later_turn(server: VoiceServer, caller) -> None:
    one = server.converse(caller)
    one.configure()
    first_session = (await one.wait_for(lambda e: kind(e) == "session_started")).session_started.session
    one.text("My name is Zara and I love rockets.")  # typed: tiny.en is not reliable with names
    await one.wait_for(lambda e: kind(e) == "turn_complete")
    await one.close()

    found = await server.stub.QueryMemory(pb.QueryMemoryRequest(parent="users/me", query="what is my name?"),
                                          metadata=caller.metadata)
    assert len(found.matches) == 1 and found.matches[0].score > 0
    remembered = found.matches[0].memory
    assert "Zara" in remembered.user_text and remembered.assistant_text
    assert remembered.session == first_session.name

    two = server.converse(caller)
    two.configure()
    await two.wait_for(lambda e: kind(e) == "session_started")
    asked = len(server.spy.requests)
    two.text("Hello! Do you remember my name?")
    done = await two.wait_for(lambda e: kind(e) == "turn_complete")
    await two.close()
    request = next(r for r in server.spy.requests[asked:] if "remember my name" in r.turns[-1].text)
    assert any("My name is Zara" in memory for memory in request.memories)
    assert "Zara" in done.turn_complete.assistant_message.text


async def test_add_query_and_summarize_memories(server: VoiceServer, caller) -> None:
    stub = server.stub
    md = caller.metadata
    added = await stub.AddMemory(pb.AddMemoryRequest(parent="users/me", memory=pb.Memory(
        user_text="My cat is called Pepper", assistant_text="Pepper is a lovely name for a cat!")), metadata=md)
    assert added.name.startswith(f"users/{caller.user_id}/memories/") and added.create_time.seconds > 0
    await stub.AddMemory(pb.AddMemoryRequest(parent=caller.parent, memory=pb.Memory(user_text="I like pancakes")),
                         metadata=md)
    found = await stub.QueryMemory(pb.QueryMemoryRequest(parent="users/me", query="Pepper the cat", page_size=3),
                                   metadata=md)
    assert [m.memory for m in found.matches] == [added]
    summary = await stub.GetMemorySummary(pb.GetMemorySummaryRequest(name="users/me/memorySummary"), metadata=md)
    assert summary.name == f"users/{caller.user_id}/memorySummary" and summary.memory_count == 2
    assert summary.last_update_time.ToDatetime() >= added.create_time.ToDatetime()
    assert "pancakes" in summary.summary

    other = await server.new_caller("other")
    assert not (await stub.QueryMemory(pb.QueryMemoryRequest(parent="users/me", query="Pepper"),
                                       metadata=other.metadata)).matches
    for call, reason in [
        (stub.AddMemory(pb.AddMemoryRequest(parent="users/me", memory=pb.Memory(user_text=" ")), metadata=md),
         "INVALID_ARGUMENT"),
        (stub.QueryMemory(pb.QueryMemoryRequest(parent="users/me", query="cat", page_size=-1), metadata=md),
         "INVALID_ARGUMENT"),
        (stub.GetMemorySummary(pb.GetMemorySummaryRequest(name="users/me/summary"), metadata=md),
         "RESOURCE_NAME_INVALID"),
        (stub.GetMemorySummary(pb.GetMemorySummaryRequest(name=f"{other.parent}/memorySummary"), metadata=md),
         "RESOURCE_NOT_FOUND"),
        (stub.AddMemory(pb.AddMemoryRequest(parent="users/me", memory=pb.Memory(
            user_text="hi", session="users/me/voiceSessions/nope")), metadata=md), "RESOURCE_NOT_FOUND"),
    ]:
        assert error_info(await rpc_error(call)).reason == reason


# --- Transcribe, Synthesize, DetectLanguage --------------------------------------------------------------------------


TRANSCRIBED = ("The little fox found a shiny red apple under the old oak tree.",
               "Please make the story funny and not too scary.",
               "Once upon a time, a small boat sailed across the blue sea.")


async def test_transcribe_hears_wav_raw_pcm_and_uploaded_media(server: VoiceServer, caller) -> None:
    md = caller.metadata
    wav = (await server.app.engines.narrator.narrate(TRANSCRIBED[0])).wav
    heard = await server.stub.Transcribe(pb.TranscribeRequest(parent="users/me", audio_content=wav), metadata=md)
    raw = await server.speech(TRANSCRIBED[1])
    heard_raw = await server.stub.Transcribe(pb.TranscribeRequest(
        parent="users/me", audio_content=raw,
        format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000)), metadata=md)
    media = media_pb2_grpc.MediaServiceStub(server.channel)
    uploaded = await media.CreateMedia(media_pb2.CreateMediaRequest(content=httpbody_pb2.HttpBody(
        content_type="audio/wav", data=(await server.app.engines.narrator.narrate(TRANSCRIBED[2])).wav)), metadata=md)
    heard_media = await server.stub.Transcribe(pb.TranscribeRequest(parent="users/me", media=uploaded.name),
                                               metadata=md)

    errors = total = 0
    for reference, result in zip(TRANSCRIBED, (heard, heard_raw, heard_media), strict=True):
        expected, got = words(reference), words(result.text)
        errors += sum(1 for a, b in zip(expected, got, strict=False) if a != b) + abs(len(expected) - len(got))
        total += len(expected)
        assert result.language_code == "en" and result.language_confidence > 0.5
        assert result.segments and seconds(result.segments[-1].end_offset) <= seconds(result.audio_duration) + 0.1
    assert errors / total < 0.1
    assert seconds(heard_raw.audio_duration) == pytest.approx(len(raw) / 32000, abs=0.01)


async def test_transcribe_refuses_bad_audio(server: VoiceServer, caller) -> None:
    md, stub = caller.metadata, server.stub
    media = media_pb2_grpc.MediaServiceStub(server.channel)
    png = await media.CreateMedia(media_pb2.CreateMediaRequest(content=httpbody_pb2.HttpBody(
        content_type="image/png", data=_tiny_png())), metadata=md)
    other = await server.new_caller("other")
    cases = [
        (pb.TranscribeRequest(parent="users/me"), "INVALID_ARGUMENT"),
        (pb.TranscribeRequest(parent="users/me", audio_content=b"\x89PNG\r\n\x1a\n" + bytes(100)),
         "AUDIO_ENCODING_UNSUPPORTED"),
        (pb.TranscribeRequest(parent="users/me", audio_content=b"OggS" + bytes(100)), "AUDIO_UNDECODABLE"),
        (pb.TranscribeRequest(parent="users/me", audio_content=b"\x01\x02\x03"), "AUDIO_UNDECODABLE"),
        (pb.TranscribeRequest(parent="users/me", audio_content=bytes(4 * 1024 * 1024 + 2)), "AUDIO_TOO_LARGE"),
        (pb.TranscribeRequest(parent="users/me", audio_content=bytes(320), format=pb.AudioFormat(
            encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=96000)), "SAMPLE_RATE_UNSUPPORTED"),
        (pb.TranscribeRequest(parent="users/me", media=png.name), "MEDIA_NOT_AUDIO"),
        (pb.TranscribeRequest(parent="users/me", audio_content=bytes(320), language_code="en_US!"),
         "LANGUAGE_CODE_INVALID"),
        (pb.TranscribeRequest(parent=other.parent, audio_content=bytes(320)), "RESOURCE_NOT_FOUND"),
    ]
    for request, reason in cases:
        assert error_info(await rpc_error(stub.Transcribe(request, metadata=md))).reason == reason, request
    missing = await rpc_error(stub.Transcribe(pb.TranscribeRequest(parent="users/me", media=png.name),
                                              metadata=other.metadata))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    silent = await stub.Transcribe(pb.TranscribeRequest(parent="users/me", audio_content=silence(1.0)), metadata=md)
    assert silent.text == "" and seconds(silent.audio_duration) == pytest.approx(1.0)


def _tiny_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(out, "PNG")
    return out.getvalue()


def chunk_info(body: httpbody_pb2.HttpBody) -> pb.SynthesisChunkInfo:
    (packed,) = body.extensions
    info = pb.SynthesisChunkInfo()
    assert packed.Unpack(info)
    return info


async def test_synthesize_streams_a_wav_header_then_a_chunk_per_sentence(server: VoiceServer, caller) -> None:
    text = "The moon rose over the hill. An owl said hello! Then everyone went to sleep."
    chunks = [c async for c in server.stub.Synthesize(pb.SynthesizeRequest(parent="users/me", text=text),
                                                      metadata=caller.metadata)]
    infos = [chunk_info(c) for c in chunks]
    assert [i.sequence for i in infos] == list(range(1, len(chunks) + 1)) and len(chunks) == 4
    assert {c.content_type for c in chunks} == {"audio/wav"}
    assert chunks[0].data[:4] == b"RIFF" and chunks[0].data[8:16] == b"WAVEfmt " and len(chunks[0].data) == 44
    assert [i.sentence for i in infos[1:]] == ["The moon rose over the hill.", "An owl said hello!",
                                               "Then everyone went to sleep."]
    for before, after in zip(infos[1:], infos[2:], strict=False):
        assert seconds(after.start_offset) == pytest.approx(seconds(before.start_offset) + seconds(before.duration))
    with wave.open(io.BytesIO(b"".join(c.data for c in chunks))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        frames = wav.readframes(10**7)
    duration = len(frames) / 2 / 22050
    assert duration == pytest.approx(sum(seconds(i.duration) for i in infos), abs=0.01)
    assert 0.2 * 15 <= duration <= 0.8 * 15
    assert max(abs(s) for s in struct.unpack(f"<{len(frames) // 2}h", frames)) > 8000


async def test_synthesize_linear16_at_a_chosen_rate_and_speaking_rate(server: VoiceServer, caller) -> None:
    async def synthesize(**fields: Any) -> list[httpbody_pb2.HttpBody]:
        return [c async for c in server.stub.Synthesize(pb.SynthesizeRequest(
            parent="users/me", text="A little rabbit hopped across the garden.", **fields), metadata=caller.metadata)]

    linear = await synthesize(output_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16,
                                                           sample_rate_hertz=16000))
    assert [c.content_type for c in linear] == ["audio/L16;rate=16000"]
    pcm = linear[0].data
    assert len(pcm) / 2 / 16000 == pytest.approx(seconds(chunk_info(linear[0]).duration), abs=0.001)
    fast = await synthesize(speaking_rate=2.0, output_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16))
    assert fast[0].content_type == "audio/L16;rate=22050"
    assert len(fast[0].data) / 2 / 22050 < 0.8 * len(pcm) / 2 / 16000  # (piper's durations vary a little)


async def test_synthesize_refuses_bad_requests(server: VoiceServer, caller) -> None:
    cases = [
        (pb.SynthesizeRequest(parent="users/me", text=""), "INVALID_ARGUMENT"),
        (pb.SynthesizeRequest(parent="users/me", text="x" * 5001), "TEXT_TOO_LONG"),
        (pb.SynthesizeRequest(parent="users/me", text="Hi", voice="darth"), "VOICE_UNKNOWN"),
        (pb.SynthesizeRequest(parent="users/me", text="Hi", speaking_rate=3), "INVALID_ARGUMENT"),
        (pb.SynthesizeRequest(parent="users/me", text="Hi", output_format=pb.AudioFormat(
            encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=4000)), "SAMPLE_RATE_UNSUPPORTED"),
        (pb.SynthesizeRequest(parent="users/me", text="Hi", output_format=pb.AudioFormat(
            encoding=pb.AUDIO_ENCODING_WEBM_OPUS)), "AUDIO_ENCODING_UNSUPPORTED"),
    ]
    for request, reason in cases:
        error = await rpc_error(server.stub.Synthesize(request, metadata=caller.metadata))
        assert error_info(error).reason == reason, request


async def test_synthesize_ogg_opus(server: VoiceServer, caller) -> None:
    chunks = [c async for c in server.stub.Synthesize(pb.SynthesizeRequest(
        parent="users/me", text="Good night, little star. Sleep well.",
        output_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_OGG_OPUS)), metadata=caller.metadata)]
    assert {c.content_type for c in chunks} == {"audio/ogg"}
    data = b"".join(c.data for c in chunks)
    assert data[:4] == b"OggS" and b"OpusHead" in data[:100]
    from storyloom.engines.speech.audio import decode_audio

    pcm, rate = decode_audio(data, "OGG_OPUS")
    duration = sum(seconds(chunk_info(c).duration) for c in chunks)
    assert len(pcm) / 2 / rate == pytest.approx(duration, abs=0.1) and duration > 1.0


async def test_detect_language_on_sentences_in_several_languages(server: VoiceServer, caller) -> None:
    sentences = {"en": "Once upon a time there was a little dragon who loved to sing.",
                 "fr": "Il était une fois un petit dragon qui aimait chanter.",
                 "de": "Es war einmal ein kleiner Drache, der gerne sang.",
                 "es": "Había una vez un pequeño dragón que amaba cantar.",
                 "it": "C'era una volta un piccolo drago che amava cantare."}
    for code, text in sentences.items():
        found = await server.stub.DetectLanguage(pb.DetectLanguageRequest(parent="users/me", text=text),
                                                 metadata=caller.metadata)
        assert found.language_code == code and found.confidence > 0.5, (code, found)
        assert all(a.confidence <= found.confidence for a in found.alternatives)
    error = await rpc_error(server.stub.DetectLanguage(pb.DetectLanguageRequest(parent="users/me", text=" "),
                                                       metadata=caller.metadata))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


# --- sessions --------------------------------------------------------------------------------------------------------


async def test_voice_sessions_are_created_read_and_deleted_keeping_their_conversation(server: VoiceServer,
                                                                                        caller) -> None:
    stub, md = server.stub, caller.metadata
    request_id = "c1b2e3f4-0000-4000-8000-00000000c1b2"
    created = await stub.CreateVoiceSession(pb.CreateVoiceSessionRequest(
        parent="users/me", voice_session=pb.VoiceSession(language_code="en", voice="en_US-joe-medium"),
        request_id=request_id), metadata=md)
    assert created.turn_count == 0 and created.create_time == created.last_use_time
    assert created.conversation.startswith(f"users/{caller.user_id}/conversations/")
    again = await stub.CreateVoiceSession(pb.CreateVoiceSessionRequest(parent="users/me", request_id=request_id),
                                          metadata=md)
    assert again == created
    assert await stub.GetVoiceSession(pb.GetVoiceSessionRequest(name=created.name), metadata=md) == created

    other = await server.new_caller("other")
    error = await rpc_error(stub.GetVoiceSession(pb.GetVoiceSessionRequest(name=created.name),
                                                 metadata=other.metadata))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    for request, reason in [
        (pb.CreateVoiceSessionRequest(parent="users/me", voice_session=pb.VoiceSession(voice="darth")),
         "VOICE_UNKNOWN"),
        (pb.CreateVoiceSessionRequest(parent="users/me", voice_session=pb.VoiceSession(language_code="??")),
         "LANGUAGE_CODE_INVALID"),
    ]:
        assert error_info(await rpc_error(stub.CreateVoiceSession(request, metadata=md))).reason == reason
    assert error_info(await rpc_error(stub.GetVoiceSession(pb.GetVoiceSessionRequest(name="voiceSessions/x"),
                                                           metadata=md))).reason == "RESOURCE_NAME_INVALID"

    await stub.DeleteVoiceSession(pb.DeleteVoiceSessionRequest(name=created.name), metadata=md)
    error = await rpc_error(stub.GetVoiceSession(pb.GetVoiceSessionRequest(name=created.name), metadata=md))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    conversations = conversation_pb2_grpc.ConversationServiceStub(server.channel)
    await conversations.GetConversation(conversation_pb2.GetConversationRequest(name=created.conversation),
                                        metadata=md)
    client = server.converse(caller)
    client.configure(session=created.name)
    ended = await client.wait_for(lambda e: kind(e) == "error")
    assert ended.error.code == grpc.StatusCode.NOT_FOUND.value[0]
    await asyncio.wait_for(client.ended.wait(), 5)


async def test_idle_session_state_is_evicted_and_its_metadata_kept(server: VoiceServer, caller) -> None:
    client = server.converse(caller)
    client.configure()
    session = (await client.wait_for(lambda e: kind(e) == "session_started")).session_started.session
    await client.speak(silence(0.3))
    await client.close()
    session_id = session.name.rsplit("/", 1)[1]
    live = server.app.voice.live
    assert session_id in live
    assert live.sweep(time.monotonic() + live.idle_seconds / 2) == 0 or session_id in live
    live.sweep(time.monotonic() + live.idle_seconds + 1)
    assert session_id not in live
    got = await server.stub.GetVoiceSession(pb.GetVoiceSessionRequest(name=session.name), metadata=caller.metadata)
    assert got.name == session.name


async def test_deleting_a_session_ends_its_live_stream(server: VoiceServer, caller) -> None:
    client = server.converse(caller)
    client.configure()
    session = (await client.wait_for(lambda e: kind(e) == "session_started")).session_started.session
    await server.stub.DeleteVoiceSession(pb.DeleteVoiceSessionRequest(name=session.name), metadata=caller.metadata)
    ended = await client.wait_for(lambda e: kind(e) == "error")
    assert status_reason(ended.error) == "SESSION_DELETED"
    await asyncio.wait_for(client.ended.wait(), 5)


# --- Converse: bad input ---------------------------------------------------------------------------------------------


async def test_a_stream_must_start_with_config(server: VoiceServer, caller) -> None:
    client = server.converse(caller)
    client.send(pb.ConverseRequest(audio=silence(0.1)))
    ended = await client.wait_for(lambda e: kind(e) == "error")
    assert status_reason(ended.error) == "CONFIG_REQUIRED" and ended.sequence == 1
    await asyncio.wait_for(client.ended.wait(), 5)
    assert status_reason(rpc_status.from_call(client.error)) == "CONFIG_REQUIRED" and len(client.events) == 1

    empty = server.converse(caller)
    await empty.close()
    assert status_reason(empty.events[0].error) == "CONFIG_REQUIRED"
    assert empty.error.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[union-attr]


async def test_a_bad_config_ends_the_stream_with_the_reason(server: VoiceServer, caller) -> None:
    other = await server.new_caller("other")
    theirs = await server.stub.CreateVoiceSession(pb.CreateVoiceSessionRequest(parent="users/me"),
                                                  metadata=other.metadata)
    for config, reason in [
        (pb.ConverseConfig(input_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_OGG_OPUS)),
         "AUDIO_ENCODING_UNSUPPORTED"),
        (pb.ConverseConfig(input_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16,
                                                       sample_rate_hertz=100000)), "SAMPLE_RATE_UNSUPPORTED"),
        (pb.ConverseConfig(output_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_WAV)),
         "AUDIO_ENCODING_UNSUPPORTED"),
        (pb.ConverseConfig(voice="darth"), "VOICE_UNKNOWN"),
        (pb.ConverseConfig(session=theirs.name), "RESOURCE_NOT_FOUND"),
        (pb.ConverseConfig(session="sessions/1"), "RESOURCE_NAME_INVALID"),
    ]:
        client = server.converse(caller)
        client.send(pb.ConverseRequest(config=config))
        ended = await client.wait_for(lambda e: kind(e) == "error")
        assert status_reason(ended.error) == reason, config
        await asyncio.wait_for(client.ended.wait(), 5)
        assert status_reason(rpc_status.from_call(client.error)) == reason  # the call ends with it too


async def test_bad_events_are_answered_in_band_and_the_stream_goes_on(server: VoiceServer, caller) -> None:
    client = server.converse(caller)
    client.configure()
    session = (await client.wait_for(lambda e: kind(e) == "session_started")).session_started.session
    client.text("I want a story about a turtle.")
    first = await client.wait_for(lambda e: kind(e) == "turn_complete")
    mark = len(client.events)
    client.send(pb.ConverseRequest(audio=bytes(40 * 1024)))
    client.send(pb.ConverseRequest(audio=b"\x00\x01\x02"))
    client.text("   ")
    client.configure()
    client.send(pb.ConverseRequest())
    client.playback(1, -1.0)
    errors = []
    for _ in range(6):
        errors.append(await client.wait_for(lambda e: kind(e) == "error", after=client.index_of(errors[-1]) + 1
                                            if errors else mark))
    assert [status_reason(e.error) for e in errors] == [
        "AUDIO_CHUNK_TOO_LARGE", "AUDIO_CONTENT_INVALID", "INVALID_ARGUMENT", "ALREADY_CONFIGURED",
        "INVALID_ARGUMENT", "INVALID_ARGUMENT"]
    client.text("It is a green turtle.")
    second = await client.wait_for(lambda e: kind(e) == "turn_complete", after=mark)
    await client.close()
    assert client.error is None
    stored = await server.messages(caller, session.conversation)
    assert stored == [first.turn_complete.user_message, first.turn_complete.assistant_message,
                      second.turn_complete.user_message, second.turn_complete.assistant_message]


async def test_silence_alone_makes_no_turn(server: VoiceServer, caller) -> None:
    client = server.converse(caller)
    client.configure()
    session = (await client.wait_for(lambda e: kind(e) == "session_started")).session_started.session
    noise = bytes(b ^ (i % 7) for i, b in enumerate(silence(2.0)))  # a faint hiss, not speech
    await client.speak(noise, speed=4)
    client.end_of_turn()
    await client.close()
    assert [kind(e) for e in client.events] == ["session_started"]
    assert await server.messages(caller, session.conversation) == []


async def test_end_of_turn_answers_at_once_and_other_input_rates_are_resampled(server: VoiceServer, caller) -> None:
    from storyloom.engines.speech.audio import resample_pcm16

    client = server.converse(caller)
    client.configure(input_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=48000),
                     output_format=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000))
    started = await client.wait_for(lambda e: kind(e) == "session_started")
    assert started.session_started.output_format.sample_rate_hertz == 16000
    pause = bytes(round(0.3 * 48000) * 2)  # the button is pressed a moment before speaking, released after
    pcm = pause + resample_pcm16(await server.speech("Tell me a story about the ocean."), 16000, 48000) + pause
    size = 4800 * 2  # 100 ms at 48 kHz
    for at in range(0, len(pcm), size):
        client.send(pb.ConverseRequest(audio=pcm[at:at + size]))
    client.end_of_turn()  # push-to-talk released: no trailing silence needed
    final = await client.wait_for(lambda e: kind(e) == "transcript" and e.transcript.final)
    assert words(final.transcript.text) == ["tell", "me", "a", "story", "about", "the", "ocean"]
    await client.wait_for(lambda e: kind(e) == "turn_complete")
    await client.close()
    audio = [e.reply_audio for e in client.events if kind(e) == "reply_audio"]
    assert all(len(a.audio) <= 1600 * 2 for a in audio) and audio[-1].last


async def test_a_synthesized_stream_saved_as_it_came_transcribes_back(server: VoiceServer, caller) -> None:
    text = "The happy whale sang a song to the moon."
    chunks = [c async for c in server.stub.Synthesize(pb.SynthesizeRequest(parent="users/me", text=text),
                                                      metadata=caller.metadata)]
    saved = b"".join(c.data for c in chunks)  # its header says "as long as it goes"
    assert struct.unpack_from("<I", saved, 40)[0] > len(saved)
    heard = await server.stub.Transcribe(pb.TranscribeRequest(parent="users/me", audio_content=saved),
                                         metadata=caller.metadata)
    # All of it was read (its duration, below), and it is the sentence: tiny.en mishears a word now and then (WER is
    # measured in tests/engines) and piper's voice differs from one synthesis to the next, two of the words at
    # times ("The happy whale's seen us onto the moon.", "The happy will sayness onto the moon."): one must come back.
    heard_words = [word.removesuffix("'s") for word in words(heard.text)]
    assert len(heard_words) >= 6 and {"whale", "song", "moon"} & set(heard_words), heard.text
    assert seconds(heard.audio_duration) == pytest.approx((len(saved) - 44) / 2 / 22050, abs=0.01)


async def test_an_utterance_over_the_limit_is_cut_there_answered_and_reported(server: VoiceServer, caller) -> None:
    voice = server.app.voice
    limits = voice.limits
    voice.limits = dataclasses.replace(limits, max_utterance_seconds=1.5)
    try:
        client = server.converse(caller)
        client.configure()
        await client.wait_for(lambda e: kind(e) == "session_started")
        question = await server.speech(QUESTION)
        await client.speak(silence(0.3) + question, speed=2)
        await client.speak(silence(1.0), speed=2)
        error = await client.wait_for(lambda e: kind(e) == "error")
        done = await client.wait_for(lambda e: kind(e) == "turn_complete")
        await client.close()
    finally:
        voice.limits = limits
    assert status_reason(error.error) == "UTTERANCE_TOO_LONG"
    assert error.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    started, stopped = client.of_kind("speech_started", 1)[0], client.of_kind("speech_stopped", 1)[0]
    said = seconds(stopped.speech_stopped.audio_offset) - seconds(started.speech_started.audio_offset)
    # Cut at the limit (counted from the pre-roll before the onset, to the 0.1 s chunk), well before the question
    # ends: what was answered is its beginning. (Not a word count: tiny.en may repeat words of a clipped clip.)
    assert 1.5 - voice.limits.pre_roll_seconds - 0.01 <= said <= 1.5 + 0.01 < len(question) / 32000 - 0.5
    heard = words(done.turn_complete.user_message.text)  # the words up to the cut (the last one may be clipped)
    assert done.turn == 1 and heard[:3] == ["can", "you", "tell"] and "dragon" not in heard
    assert client.error is None


async def test_a_finished_sentence_ends_the_turn_after_the_short_pause(server: VoiceServer, caller) -> None:
    """0.3 s of silence is less than the detector's 0.4 s hangover, more than the 0.2 s one for turns that sound
    finished: the finished question is answered, the unfinished one waits (and is answered at end_of_turn)."""
    engine = server.app.voice.engines.stt
    stt = getattr(engine, "inner", engine)  # the recognizer itself, inside the metrics' timing wrapper
    # (Not "and" for the unfinished one: tiny.en hears a trailing "and" as "then", "in" or "end" in many of piper's
    # varied renderings, and those read as finished; it hears "because" in all.)
    for text, finished in ((QUESTION, True), ("I want a story about a dragon because", False)):
        client = server.converse(caller)
        client.configure()
        await client.wait_for(lambda e: kind(e) == "session_started")
        finals = stt.finals_completed
        await client.speak(silence(0.3) + await server.speech(text) + silence(0.3), speed=4)
        if finished:  # no more audio: only the completeness check can end the turn
            stopped = await client.wait_for(lambda e: kind(e) == "speech_stopped", timeout=60)
            final = await client.wait_for(lambda e: kind(e) == "transcript" and e.transcript.final)
            assert client.index_of(stopped) < client.index_of(final)
            assert words(final.transcript.text) == words(QUESTION)
        else:
            # The speculative final has run (and heard the words), and still the turn goes on.
            await wait_until(lambda f=finals: stt.finals_completed > f and stt.finals_admitted == 0)
            await asyncio.sleep(0.1)  # (what the final's end would set off happens at once: give it a moment)
            assert "speech_stopped" not in [kind(e) for e in client.events]
            client.end_of_turn()
            await client.wait_for(lambda e: kind(e) == "speech_stopped")
        await client.wait_for(lambda e: kind(e) == "turn_complete", timeout=60)
        await client.close()


async def test_a_turn_that_sounds_unfinished_waits_through_a_longer_pause(server: VoiceServer, caller) -> None:
    """A 0.7 s pause after "...a dragon because" is longer than the detector's 0.4 s hangover and shorter than the
    1 s one for turns that sound unfinished: the user goes on, and what they said is one turn, not two. (Not "and":
    tiny.en hears a trailing "and" as "then", "in" or "end" in most of piper's renderings, "because" in all.)"""
    assert server.app.voice.limits.unfinished_hangover_seconds > 0.7 + 0.2  # (a margin for piper's quiet tail)
    first_part, second_part = "I want a story about a dragon because", "it is my favorite animal."
    client = server.converse(caller)
    client.configure()
    await client.wait_for(lambda e: kind(e) == "session_started")
    await client.speak(silence(0.3) + await server.speech(first_part) + silence(0.7)
                       + await server.speech(second_part) + silence(1.5), speed=4)
    done = await client.wait_for(lambda e: kind(e) == "turn_complete", timeout=60)
    await client.speak(silence(0.5), speed=4)
    await client.close()
    names = [kind(e) for e in client.events]
    assert names.count("speech_stopped") == 1 and names.count("turn_complete") == 1, names
    assert words(done.turn_complete.user_message.text) == words(f"{first_part} {second_part}")


async def test_a_reply_drafted_in_a_pause_is_dropped_when_the_user_goes_on(server: VoiceServer, caller) -> None:
    """In a pause shorter than the hangover the reply is drafted (the engine is asked), and when the user goes on,
    nothing of that draft is sent or stored: the one turn is the whole utterance, answered afresh."""
    voice = server.app.voice
    limits = voice.limits
    voice.limits = dataclasses.replace(limits, finished_hangover_seconds=0.0)  # only the detector ends the turn
    engine = voice.engines.stt
    stt = getattr(engine, "inner", engine)  # the recognizer itself, inside the metrics' timing wrapper
    first_part, second_part = "Tell me a story about a dragon.", "And make the dragon purple."
    try:
        client = server.converse(caller)
        client.configure()
        session = (await client.wait_for(lambda e: kind(e) == "session_started")).session_started.session
        live = voice.live._states[session.name.rsplit("/", 1)[1]]
        asked, finals = len(server.spy.requests), stt.finals_admitted + stt.finals_completed
        await client.speak(silence(0.3) + await server.speech(first_part), speed=4)
        # A pause, 20 ms at a time (piper ends each rendering a little differently), until the server has started
        # the speculative final transcription; then no more audio until the draft is made: to the server, the
        # pause is still far shorter than the 0.4 s hangover that would end the turn.
        paused = 0.0
        while stt.finals_admitted + stt.finals_completed == finals:
            assert paused < 0.3, "no final transcription started in the pause"
            await client.speak(silence(0.02), speed=4)
            paused += 0.02
            await wait_until(lambda: live.heard >= client.audio_sent_seconds - 1e-6)
        # The draft: the engine was asked to answer the first part alone (as the recognizer heard it so far).
        await wait_until(lambda: len(server.spy.requests) > asked)
        drafted = server.spy.requests[asked]
        assert words(drafted.turns[-1].text)[:4] == words(first_part)[:4]
        await wait_until(lambda: server.spy.written[asked] != "")  # (it was written, at least in part)
        await client.speak(await server.speech(second_part) + silence(1.0), speed=4)
        done = await client.wait_for(lambda e: kind(e) == "turn_complete", timeout=60)
        await client.speak(silence(0.5), speed=4)
        await client.close()
    finally:
        voice.limits = limits
    heard = words(done.turn_complete.user_message.text)
    assert heard[-len(words(second_part)):] == words(second_part) and len(heard) > len(words(second_part)) + 4
    names = [kind(e) for e in client.events]
    assert names.count("speech_stopped") == 1 and names.count("turn_complete") == 1
    final = next(i for i, e in enumerate(client.events) if kind(e) == "transcript" and e.transcript.final)
    sent_reply = "".join(e.reply_text.text for e in client.events if kind(e) == "reply_text")
    assert all(i > final for i, e in enumerate(client.events) if kind(e) in ("reply_text", "reply_audio"))
    stored = await server.messages(caller, session.conversation)
    assert [m.text for m in stored] == [done.turn_complete.user_message.text, sent_reply]
    # What was sent and stored is what the engine wrote for the whole utterance (asked afresh, or drafted in the
    # final pause from the whole of it), not the draft of the first part.
    answers = [server.spy.written[i] for i in range(asked + 1, len(server.spy.requests))
               if words(server.spy.requests[i].turns[-1].text) == heard]
    assert sent_reply in answers
    assert sent_reply != server.spy.written[asked]
    spoken = " ".join(e.reply_audio.sentence for e in client.events
                      if kind(e) == "reply_audio" and e.reply_audio.sentence)
    assert words(spoken) == words(sent_reply)  # and the audio is that reply's, sentence by sentence

class HeardAudio:
    """Delegates to the real recognizer and records the audio of every final transcription pass."""

    def __init__(self, engine: Any):
        self._engine = engine
        self.finals: list[bytes] = []

    async def transcribe_partial(self, pcm16: bytes, sample_rate_hertz: int, **options: Any) -> Any:
        if options.get("final"):
            self.finals.append(pcm16)
        return await self._engine.transcribe_partial(pcm16, sample_rate_hertz, **options)

    async def transcribe(self, pcm16: bytes, sample_rate_hertz: int, **options: Any) -> Any:
        self.finals.append(pcm16)
        return await self._engine.transcribe(pcm16, sample_rate_hertz, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


async def test_the_final_pass_hears_the_same_audio_wherever_the_detectors_frames_fall(server: VoiceServer,
                                                                                    caller) -> None:
    """The detector judges 32 ms frames, which fall on the speech wherever the stream's audio before it puts them
    (between turns, 100 ms chunks of silence shift them 4 ms at a time), and tiny.en hears "a" or "the" depending
    on 4 ms shifts of an utterance's start: the utterance starts the pre-roll before where the sound began, to the
    sample, so the final pass hears the same audio whatever the frames' phase."""
    voice = server.app.voice
    engines = voice.engines
    clip = await server.speech("What happens when they find a magic stone?")
    speech_samples = np.nonzero(np.abs(np.frombuffer(clip, dtype="<i2")) > 500)[0]
    speech_end = (int(speech_samples[-1]) + 1) * 2  # bytes into the clip
    heard: list[bytes] = []
    try:
        for shift_ms in (0, 8, 16, 24):  # where the frames fall on the clip
            recorder = HeardAudio(engines.stt)
            voice.engines = dataclasses.replace(engines, stt=recorder)
            client = server.converse(caller)
            client.configure()
            await client.wait_for(lambda e: kind(e) == "session_started")
            await client.speak(silence(0.5 + shift_ms / 1000), speed=4)
            await client.speak(clip + silence(1.0), speed=4)  # (100 ms chunks from the clip's start, as ever)
            await client.wait_for(lambda e: kind(e) == "turn_complete", timeout=60)
            await client.close()
            # The last final pass is the one the turn took: an earlier one may be a speculative pass begun at a pause
            # inside the sentence and dropped when speech went on, which under load starts at other moments.
            assert recorder.finals
            heard.append(recorder.finals[-1])
    finally:
        voice.engines = engines
    starts = {audio.find(clip[:2000]) for audio in heard}  # where the clip begins in what the final heard
    assert len(starts) == 1 and starts != {-1}, starts
    start = starts.pop()
    assert 0 < start <= round(voice.limits.pre_roll_seconds * 16000) * 2  # (the onset is inside the clip)
    assert all(len(audio) >= start + speech_end for audio in heard)  # each heard the whole sentence
    assert {audio[:start + speech_end] for audio in heard} == {heard[0][:start + speech_end]}

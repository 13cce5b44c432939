"""VoiceService: proto <-> Voice (sessions, speech, the live conversation) and Memories."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from google.api import httpbody_pb2
from google.protobuf import duration_pb2, empty_pb2

from storyloom.api.auth import caller
from storyloom.api.context import Context
from storyloom.api.conversations import message_proto
from storyloom.api.errors import abort, new_request_id, status_for_error
from storyloom.api.requests import check_request_id, resource_id, resource_path, timestamp, user_parent
from storyloom.domain import voice as domain
from storyloom.domain.errors import DomainError, FailedPrecondition, FieldViolation, Internal, InvalidArgument
from storyloom.domain.memory import Memories, Memory
from storyloom.domain.text import clip
from storyloom.v1 import voice_pb2, voice_pb2_grpc

log = logging.getLogger(__name__)

SESSION = ("users", "voiceSessions")
_ENCODINGS: dict[voice_pb2.AudioEncoding, domain.Encoding] = {
    voice_pb2.AUDIO_ENCODING_UNSPECIFIED: "", voice_pb2.AUDIO_ENCODING_LINEAR16: "LINEAR16",
    voice_pb2.AUDIO_ENCODING_WAV: "WAV", voice_pb2.AUDIO_ENCODING_OGG_OPUS: "OGG_OPUS",
    voice_pb2.AUDIO_ENCODING_WEBM_OPUS: "WEBM_OPUS"}
_ENCODINGS_TO_PROTO = {name: value for value, name in _ENCODINGS.items()}
SUMMARY_SUFFIX = "/memorySummary"
# How long a Converse stream may take to send its config.
CONFIG_TIMEOUT_SECONDS = 10.0


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


def audio_format(value: voice_pb2.AudioFormat, field: str) -> domain.AudioFormat:
    encoding = _ENCODINGS.get(value.encoding)
    if encoding is None:
        raise InvalidArgument(FieldViolation(f"{field}.encoding", f"unknown encoding {value.encoding}"))
    return domain.AudioFormat(encoding, domain.check_rate(value.sample_rate_hertz, f"{field}.sample_rate_hertz"))


def audio_format_proto(value: domain.AudioFormat) -> voice_pb2.AudioFormat:
    return voice_pb2.AudioFormat(encoding=_ENCODINGS_TO_PROTO[value.encoding],
                                 sample_rate_hertz=value.sample_rate_hertz)


def session_proto(value: domain.VoiceSession) -> voice_pb2.VoiceSession:
    return voice_pb2.VoiceSession(
        name=value.name, conversation=value.conversation_name, language_code=value.language_code, voice=value.voice,
        turn_count=value.turn_count, create_time=timestamp(value.create_time),
        last_use_time=timestamp(value.last_use_time))


def memory_proto(value: Memory) -> voice_pb2.Memory:
    return voice_pb2.Memory(
        name=value.name, user_text=value.user_text, assistant_text=value.assistant_text,
        session=f"users/{value.user_id}/voiceSessions/{value.session_id}" if value.session_id else "",
        create_time=timestamp(value.create_time))


def event_proto(event: domain.VoiceEvent, sequence: int) -> voice_pb2.ConverseResponse:
    message = voice_pb2.ConverseResponse(sequence=sequence, turn=event.turn)
    if isinstance(event, domain.SessionStartedEvent):
        message.session_started.CopyFrom(voice_pb2.SessionStarted(
            session=session_proto(event.session), output_format=audio_format_proto(event.output_format)))
    elif isinstance(event, domain.SpeechStartedEvent):
        message.speech_started.audio_offset.CopyFrom(duration(event.offset_seconds))
    elif isinstance(event, domain.SpeechStoppedEvent):
        message.speech_stopped.audio_offset.CopyFrom(duration(event.offset_seconds))
    elif isinstance(event, domain.TranscriptEvent):
        message.transcript.CopyFrom(voice_pb2.Transcript(text=event.text, final=event.final,
                                                         language_code=event.language_code))
    elif isinstance(event, domain.ReplyTextEvent):
        message.reply_text.text = event.text
    elif isinstance(event, domain.ReplyAudioEvent):
        message.reply_audio.CopyFrom(voice_pb2.ReplyAudio(audio=event.audio, sentence=event.sentence,
                                                          start_offset=duration(event.start_seconds),
                                                          last=event.last))
    elif isinstance(event, domain.InterruptedEvent):
        message.interrupted.CopyFrom(voice_pb2.Interrupted(played=duration(event.played_seconds),
                                                           stored_text=event.stored_text))
    elif isinstance(event, domain.TurnCompleteEvent):
        message.turn_complete.CopyFrom(voice_pb2.TurnComplete(user_message=message_proto(event.user_message),
                                                              assistant_message=message_proto(event.assistant_message)))
    elif isinstance(event, domain.ErrorEvent):
        message.error.CopyFrom(status_for_error(event.error))
    else:  # pragma: no cover - every event kind is mapped above
        raise TypeError(f"unknown voice event {event!r}")
    return message


def converse_settings(config: voice_pb2.ConverseConfig) -> domain.ConverseSettings:
    session_id = resource_path(config.session, SESSION, "config.session")[1] if config.session else ""
    return domain.ConverseSettings(
        session_id=session_id,
        input_format=audio_format(config.input_format, "config.input_format"),
        output_format=audio_format(config.output_format, "config.output_format"),
        language_code=config.language_code, voice=config.voice)


class _ReadFailed(Exception):
    """Reading the client's next event failed: the client cancelled or went away."""


async def _next_request(iterator: AsyncIterator[voice_pb2.ConverseRequest]) -> voice_pb2.ConverseRequest:
    try:
        return await anext(iterator)
    except (StopAsyncIteration, asyncio.CancelledError, DomainError):  # DomainError: a message too large
        raise
    except Exception as error:  # grpc's own errors of a broken call (AioRpcError, ExecuteBatchError, UsageError)
        raise _ReadFailed(repr(error)) from error


class VoiceServicer(voice_pb2_grpc.VoiceServiceServicer):
    def __init__(self, voice: domain.Voice, memories: Memories):
        self._voice = voice
        self._memories = memories

    # --- speech -------------------------------------------------------------------------------------------------------

    async def Transcribe(self, request: voice_pb2.TranscribeRequest,
                         context: Context) -> voice_pb2.TranscribeResponse:
        user = user_parent(request.parent)
        source = request.WhichOneof("audio_source")
        if source is None:
            raise InvalidArgument(FieldViolation("audio_content", "is required: send audio_content or media"))
        found = await self._voice.transcribe(
            user, content=request.audio_content if source == "audio_content" else None,
            media_id=resource_id(request.media, "media", "media") if source == "media" else "",
            audio_format=audio_format(request.format, "format"), language_code=request.language_code)
        return voice_pb2.TranscribeResponse(
            text=found.text, language_code=found.language_code, language_confidence=found.language_confidence,
            audio_duration=duration(found.duration_seconds),
            segments=[voice_pb2.TranscriptSegment(text=s.text, start_offset=duration(s.start_seconds),
                                                  end_offset=duration(s.end_seconds)) for s in found.segments])

    async def Synthesize(self, request: voice_pb2.SynthesizeRequest,
                         context: Context) -> AsyncIterator[httpbody_pb2.HttpBody]:
        user_parent(request.parent)
        chunks = await self._voice.synthesize(request.text, voice=request.voice,
                                              output=audio_format(request.output_format, "output_format"),
                                              speaking_rate=request.speaking_rate)
        # Envoy's JSON transcoder resets a streamed HttpBody that carries extensions (Envoy 1.40); a REST caller
        # gets the audio file alone, which is what it wants anyway. gRPC and gRPC-Web callers get the chunk infos.
        rest = any(key == "x-envoy-original-path" for key, _ in context.invocation_metadata() or ())
        if rest:
            # A REST caller saves a file: give its WAV header the true sizes (so the whole audio comes first).
            chunks = self._voice.sized_wav(chunks)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                body = httpbody_pb2.HttpBody(content_type=chunk.content_type, data=chunk.data)
                if not rest:
                    body.extensions.add().Pack(voice_pb2.SynthesisChunkInfo(
                        sequence=chunk.sequence, sentence=chunk.sentence, start_offset=duration(chunk.start_seconds),
                        duration=duration(chunk.duration_seconds)))
                yield body

    async def DetectLanguage(self, request: voice_pb2.DetectLanguageRequest,
                             context: Context) -> voice_pb2.DetectLanguageResponse:
        user_parent(request.parent)
        guesses = await self._voice.detect_language(request.text)
        if not guesses:
            return voice_pb2.DetectLanguageResponse(language_code="und", confidence=0.0)
        best, *others = guesses
        return voice_pb2.DetectLanguageResponse(
            language_code=best.language_code, confidence=best.confidence,
            alternatives=[voice_pb2.LanguageCandidate(language_code=g.language_code, confidence=g.confidence)
                          for g in others])

    # --- sessions -----------------------------------------------------------------------------------------------------

    async def CreateVoiceSession(self, request: voice_pb2.CreateVoiceSessionRequest,
                                 context: Context) -> voice_pb2.VoiceSession:
        user = user_parent(request.parent)
        check_request_id(request.request_id)
        created = await self._voice.create_session(user, language_code=request.voice_session.language_code,
                                                   voice=request.voice_session.voice, request_id=request.request_id)
        return session_proto(created)

    async def GetVoiceSession(self, request: voice_pb2.GetVoiceSessionRequest,
                              context: Context) -> voice_pb2.VoiceSession:
        user, session_id = resource_path(request.name, SESSION, "name")
        return session_proto(await self._voice.get_session(user, session_id))

    async def DeleteVoiceSession(self, request: voice_pb2.DeleteVoiceSessionRequest,
                                 context: Context) -> empty_pb2.Empty:
        user, session_id = resource_path(request.name, SESSION, "name")
        await self._voice.delete_session(user, session_id)
        return empty_pb2.Empty()

    # --- the live conversation ----------------------------------------------------------------------------------------

    async def Converse(self, request_iterator: AsyncIterator[voice_pb2.ConverseRequest],
                       context: Context) -> AsyncIterator[voice_pb2.ConverseResponse]:
        """A fatal error is told in-band (an `error` event) and then ends the call with its status; a client that
        goes away ends it quietly."""
        live = domain.LiveConversation(self._voice, caller())
        reader = asyncio.create_task(self._read(request_iterator, live))
        sequence = 0
        try:
            async for event in live.events():
                sequence += 1
                yield event_proto(event, sequence)
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            await live.close()
        if live.fatal is not None and not context.cancelled():
            await abort(context, status_for_error(live.fatal))

    async def _read(self, requests: AsyncIterator[voice_pb2.ConverseRequest], live: domain.LiveConversation) -> None:
        """Feeds the client's events to the conversation. A bad event is answered in-band and skipped; a stream that
        does not start with config is told so and ended. A read that fails means the client went away (or
        cancelled): the stream ends without a word in the logs. Anything else that fails is a fault of ours:
        INTERNAL, with the id of its log line."""
        iterator = aiter(requests)
        try:
            try:
                first = await asyncio.wait_for(_next_request(iterator), CONFIG_TIMEOUT_SECONDS)
            except DomainError as error:
                live.fail(error)
                return
            except StopAsyncIteration:
                live.fail(FailedPrecondition("The stream ended before its config event.", reason="CONFIG_REQUIRED"))
                return
            except TimeoutError:
                live.fail(FailedPrecondition(f"No config event within {CONFIG_TIMEOUT_SECONDS:g} s.",
                                             reason="CONFIG_REQUIRED"))
                return
            if first.WhichOneof("event") != "config":
                live.fail(FailedPrecondition("The first event must be config.", reason="CONFIG_REQUIRED"))
                return
            try:
                await live.configure(converse_settings(first.config))
            except DomainError as error:
                live.fail(error)
                return
            while True:
                try:
                    request = await _next_request(iterator)
                except StopAsyncIteration:
                    break
                except DomainError as error:  # a message over the size limit ends the stream
                    live.fail(error)
                    return
                try:
                    self._dispatch(request, live)
                except DomainError as error:
                    live.report(error)
            await live.finish()
        except asyncio.CancelledError:
            raise
        except _ReadFailed:
            live.hang_up()
        except DomainError as error:  # the stream itself was bad (a first message that does not decode)
            live.fail(error)
        except Exception:  # a bug of ours: logged once, under the id the client is given
            request_id = new_request_id()
            log.exception("converse stream failed", extra={"requestId": request_id, "session": live.session_name})
            live.fail(Internal(f"The stream failed; it has been logged as request {request_id}.",
                               metadata={"requestId": request_id}))

    @staticmethod
    def _dispatch(request: voice_pb2.ConverseRequest, live: domain.LiveConversation) -> None:
        kind = request.WhichOneof("event")
        if kind == "audio":
            live.audio(request.audio)
        elif kind == "text":
            live.text(request.text)
        elif kind == "end_of_turn":
            live.end_of_turn()
        elif kind == "playback":
            live.playback(request.playback.turn, request.playback.played.ToNanoseconds() / 1e9)
        elif kind == "config":
            raise FailedPrecondition("The stream is already configured; config comes once, first.",
                                     reason="ALREADY_CONFIGURED")
        else:
            raise InvalidArgument(FieldViolation("event", "is required"))

    # --- memory -------------------------------------------------------------------------------------------------------

    async def AddMemory(self, request: voice_pb2.AddMemoryRequest,
                        context: Context) -> voice_pb2.Memory:
        user = user_parent(request.parent)
        session_id = ""
        if request.memory.session:
            session_id = resource_path(request.memory.session, SESSION, "memory.session")[1]
            await self._voice.get_session(user, session_id)
        added = await self._memories.add(user, request.memory.user_text, request.memory.assistant_text, session_id)
        return memory_proto(added)

    async def QueryMemory(self, request: voice_pb2.QueryMemoryRequest,
                          context: Context) -> voice_pb2.QueryMemoryResponse:
        user = user_parent(request.parent)
        found = await self._memories.query(user, request.query, request.page_size)
        return voice_pb2.QueryMemoryResponse(
            matches=[voice_pb2.MemoryMatch(memory=memory_proto(m.memory), score=m.score) for m in found])

    async def GetMemorySummary(self, request: voice_pb2.GetMemorySummaryRequest,
                               context: Context) -> voice_pb2.MemorySummary:
        if not request.name.endswith(SUMMARY_SUFFIX):
            if not request.name:
                raise InvalidArgument(FieldViolation("name", "is required"))
            raise InvalidArgument(FieldViolation("name", f"must look like users/{{user}}/memorySummary, got "
                                                         f"{clip(request.name)}"), reason="RESOURCE_NAME_INVALID")
        user = user_parent(request.name.removesuffix(SUMMARY_SUFFIX), "name")
        summary = await self._memories.summary(user)
        return voice_pb2.MemorySummary(name=f"users/{user}/memorySummary", memory_count=summary.memory_count,
                                       last_update_time=timestamp(summary.last_update_time), summary=summary.summary)

"""Voice: sessions, speech to text and back, language detection, and the live spoken conversation.

A voice session is a conversation (stored through `Conversations`, so its turns are ordinary messages) plus what
voice needs: the language, the voice, a turn count. Its metadata is persisted; the in-memory state of a session in
use (the end-of-speech detector, the audio heard so far) lives in `LiveSessions` and is dropped once the session has
been idle for a while.

`LiveConversation` runs one Converse stream: audio in, speech events, transcripts, the reply's text and audio out,
barge-in. Its pipeline for a turn: the final transcript (reusing a partial one that already covers the end of speech,
so end-of-speech to transcript is often near zero), the memories relevant to what was said, `Conversations.send`
(the reply is written by a task, as in chat), and sentence-by-sentence synthesis that starts as soon as the first
sentence of the reply is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Literal, Protocol

from storyloom.domain.conversations import Conversations, Message, check_text
from storyloom.domain.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unimplemented,
)
from storyloom.domain.media import MediaLibrary
from storyloom.domain.memory import Memories
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.speech import (
    AudioCodecs,
    AudioEncoder,
    LanguageGuess,
    LanguageIdentifier,
    PcmStreamResampler,
    SentenceSynthesizer,
    SpeechToText,
    Transcription,
    VadStream,
    VoiceActivityDetector,
)

log = logging.getLogger(__name__)

Encoding = Literal["", "LINEAR16", "WAV", "OGG_OPUS", "WEBM_OPUS"]

STREAM_RATE = 16000  # what the VAD and the recognizer hear
MAX_TRANSCRIBE_BYTES = 4 * 1024 * 1024
MAX_MEDIA_BYTES = 16 * 1024 * 1024
MAX_CHUNK_BYTES = 32 * 1024
MAX_SYNTHESIS_CHARS = 5000
MIN_RATE, MAX_RATE = 8000, 48000
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
SYNTHESIS_PAUSE_SECONDS = 0.25  # between sentences in Synthesize, as in narration
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_MEDIA_ENCODINGS: dict[str, Encoding] = {"audio/wav": "WAV", "audio/ogg": "OGG_OPUS", "audio/webm": "WEBM_OPUS"}


# --- engines ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SpeechEngines:
    stt: SpeechToText
    vad: VoiceActivityDetector
    langid: LanguageIdentifier
    tts: SentenceSynthesizer
    codecs: AudioCodecs
    # Voice names the TTS engine answers to ("" is the default voice) and the default's full name.
    voices: frozenset[str] = frozenset({""})
    default_voice: str = ""
    # A TTS engine speaking at another rate (length scale = 1 / rate); None: only rate 1.0 is offered.
    tts_at_rate: Callable[[float], SentenceSynthesizer] | None = None

    async def aclose(self) -> None:
        for engine in (self.stt, self.tts):
            with contextlib.suppress(Exception):
                await engine.aclose()

    async def warm_up(self) -> None:
        """Loads every model and runs each once, so the first turn is as fast as the next."""
        started = time.perf_counter()
        await self.stt.warm_up()
        await self.tts.warm_up()
        self.vad.stream(STREAM_RATE).feed(b"\x00\x00" * 1600)
        await asyncio.to_thread(self.langid.detect, "Hello, how are you?")
        log.info("speech engines warmed up in %.1f s", time.perf_counter() - started)


@dataclasses.dataclass(frozen=True)
class VoiceLimits:
    # A session's in-memory state is dropped this long after its last stream detached.
    idle_seconds: float = 300.0
    # An utterance is cut (and transcribed) when it gets this long.
    max_utterance_seconds: float = 30.0
    # Partial transcripts while the user speaks: at least this often.
    partial_interval_seconds: float = 0.5
    # The recognizer is left idle this long between partial transcriptions.
    partial_gap_seconds: float = 0.4
    # Audio kept from before the detector's speech start, and after its speech stop.
    pre_roll_seconds: float = 0.3
    post_roll_seconds: float = 0.2
    # Reply audio: the pause put before each sentence after the first, and the chunk length on the wire.
    sentence_pause_seconds: float = 0.2
    chunk_seconds: float = 0.1
    # Memories given to the engine on each turn; and whether each completed voice turn is remembered.
    memories_per_turn: int = 3
    remember_turns: bool = True
    # A reply still playing this long past its end (by the clock) is taken as finished.
    playback_grace_seconds: float = 1.0


# --- sessions --------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VoiceSession:
    id: str
    user_id: str
    conversation_id: str
    language_code: str
    voice: str
    turn_count: int
    create_time: dt.datetime
    last_use_time: dt.datetime

    @property
    def name(self) -> str:
        return f"users/{self.user_id}/voiceSessions/{self.id}"

    @property
    def conversation_name(self) -> str:
        return f"users/{self.user_id}/conversations/{self.conversation_id}"


class VoiceSessionRepository(Protocol):
    async def create(self, voice_session: VoiceSession, request_id: str) -> tuple[VoiceSession, bool]: ...

    async def find_by_request(self, user_id: str, request_id: str) -> VoiceSession | None: ...

    async def get(self, session_id: str) -> VoiceSession | None: ...

    async def delete(self, session_id: str) -> bool: ...

    async def update(self, session_id: str, *, turns_added: int = 0, **fields: Any) -> VoiceSession | None: ...


@dataclasses.dataclass(frozen=True)
class AudioFormat:
    encoding: Encoding
    sample_rate_hertz: int  # 0: the default (16000 in, the voice's own rate out)


@dataclasses.dataclass(frozen=True)
class SynthesisChunk:
    data: bytes
    content_type: str
    sequence: int
    sentence: str  # set on the first chunk of a sentence
    start_seconds: float
    duration_seconds: float


def check_language(code: str, field: str) -> str:
    if code and not _LANGUAGE.fullmatch(code):
        raise InvalidArgument(FieldViolation(field, f"must be a BCP-47 language code such as 'en', got {code!r}"),
                              reason="LANGUAGE_CODE_INVALID")
    return code


def check_rate(rate: int, field: str) -> int:
    if rate and not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidArgument(FieldViolation(field, f"must be 0 or from {MIN_RATE} to {MAX_RATE}, got {rate}"),
                              reason="SAMPLE_RATE_UNSUPPORTED")
    return rate


def pcm_seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


class Voice:
    """Voice sessions, the discrete speech calls, and the factory of live conversations."""

    def __init__(self, sessions: VoiceSessionRepository, conversations: Conversations, memories: Memories,
                 media: MediaLibrary, engines: SpeechEngines, limits: VoiceLimits = VoiceLimits(),
                 clock: Clock = SYSTEM_CLOCK):
        self._sessions = sessions
        self.clock = clock
        self.conversations = conversations
        self.memories = memories
        self._media = media
        self.engines = engines
        self.limits = limits
        self.live = LiveSessions(limits.idle_seconds, clock)
        self._rated: dict[float, SentenceSynthesizer] = {}
        self._rated_lock = asyncio.Lock()
        self._warming: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.live.start()

    def warm_up_in_background(self) -> None:
        async def warm() -> None:
            try:
                await self.engines.warm_up()
            except Exception:
                log.exception("warming up the speech engines failed; they load on first use")

        self._warming = asyncio.create_task(warm(), name="voice-warm-up")

    async def aclose(self) -> None:
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
        await self.live.stop()
        for tts in self._rated.values():
            with contextlib.suppress(Exception):
                await tts.aclose()
        await self.engines.aclose()

    # --- sessions ----------------------------------------------------------------------------------------------------

    def check_voice(self, voice: str, field: str = "voice") -> str:
        if voice.strip().lower() not in self.engines.voices:
            raise InvalidArgument(FieldViolation(field, f"unknown voice {voice!r}; available: "
                                                        f"{self.engines.default_voice or 'the default voice'}"),
                                  reason="VOICE_UNKNOWN")
        return voice.strip()

    async def create_session(self, user_id: str, *, language_code: str = "", voice: str = "",
                             request_id: str = "") -> VoiceSession:
        check_language(language_code, "voice_session.language_code")
        self.check_voice(voice, "voice_session.voice")
        if request_id:
            earlier = await self._sessions.find_by_request(user_id, request_id)
            if earlier is not None:
                return earlier
        conversation = await self.conversations.create(user_id, "Voice conversation")
        now = self.clock.now()
        created, _ = await self._sessions.create(VoiceSession(
            id=uuid.uuid4().hex, user_id=user_id, conversation_id=conversation.id, language_code=language_code,
            voice=voice, turn_count=0, create_time=now, last_use_time=now), request_id)
        if created.conversation_id != conversation.id:  # a concurrent retry won: drop our spare conversation
            with contextlib.suppress(DomainError):
                await self.conversations.delete(user_id, conversation.id)
        return created

    async def get_session(self, user_id: str, session_id: str) -> VoiceSession:
        found = await self._sessions.get(session_id)
        if found is None or found.user_id != user_id:
            raise NotFound(f"users/{user_id}/voiceSessions/{session_id}")
        return found

    async def delete_session(self, user_id: str, session_id: str) -> None:
        """Deletes the session (its conversation and the memories it added are kept) and ends its live stream."""
        found = await self.get_session(user_id, session_id)
        await self._sessions.delete(session_id)
        self.live.evict(session_id, FailedPrecondition(f"{found.name} was deleted", reason="SESSION_DELETED",
                                                       metadata={"resourceName": found.name}))

    async def record_turn(self, session_id: str) -> VoiceSession | None:
        """Counts a turn of the session (and its use); None if the session is gone."""
        return await self._sessions.update(session_id, turns_added=1, last_use_time=self.clock.now())

    async def record_use(self, session_id: str) -> VoiceSession | None:
        """Notes that the session was used now; None if the session is gone."""
        return await self._sessions.update(session_id, last_use_time=self.clock.now())

    # --- speech ------------------------------------------------------------------------------------------------------

    async def transcribe(self, user_id: str, *, content: bytes | None = None, media_id: str = "",
                         audio_format: AudioFormat = AudioFormat("", 0), language_code: str = "") -> Transcription:
        check_language(language_code, "language_code")
        check_rate(audio_format.sample_rate_hertz, "format.sample_rate_hertz")
        encoding = audio_format.encoding
        rate = audio_format.sample_rate_hertz
        if media_id:
            item, chunks = await self._media.read(user_id, media_id)
            if not item.content_type.startswith("audio/"):
                raise InvalidArgument(FieldViolation("media", f"media/{media_id} is {item.content_type}, not audio"),
                                      reason="MEDIA_NOT_AUDIO")
            data = b"".join([chunk async for chunk in chunks])
            base = item.content_type.split(";")[0].strip().lower()
            if not encoding:
                if base == "audio/l16":
                    encoding, rate = "LINEAR16", rate or (item.sample_rate_hertz or STREAM_RATE)
                elif base in _MEDIA_ENCODINGS:
                    encoding = _MEDIA_ENCODINGS[base]
                else:
                    raise InvalidArgument(FieldViolation("media", f"cannot transcribe {base}: send WAV, Ogg/Opus, "
                                                                  "WebM/Opus or audio/L16"),
                                          reason="AUDIO_ENCODING_UNSUPPORTED")
        else:
            if not content:
                raise InvalidArgument(FieldViolation("audio_content", "is required (or media)"))
            if len(content) > MAX_TRANSCRIBE_BYTES:
                raise InvalidArgument(FieldViolation("audio_content", f"must be at most {MAX_TRANSCRIBE_BYTES} bytes;"
                                                                      " upload longer recordings as media"),
                                      reason="AUDIO_TOO_LARGE")
            data = content
        if encoding in ("", "WAV"):
            data = self.engines.codecs.true_wav_sizes(data)  # a streamed WAV saved as it came
        pcm, pcm_rate = await asyncio.to_thread(self.engines.codecs.decode, data, encoding, rate)
        return await self.engines.stt.transcribe(pcm, pcm_rate, language_code=language_code)

    async def detect_language(self, text: str) -> list[LanguageGuess]:
        if not text.strip():
            raise InvalidArgument(FieldViolation("text", "must not be empty"))
        if len(text) > MAX_SYNTHESIS_CHARS:
            raise InvalidArgument(FieldViolation("text", f"must be at most {MAX_SYNTHESIS_CHARS} characters"))
        # In a worker thread: detection itself is quick, but the first call loads the model.
        return await asyncio.to_thread(self.engines.langid.detect, text)

    async def synthesize(self, text: str, *, voice: str = "", output: AudioFormat = AudioFormat("", 0),
                         speaking_rate: float = 0.0) -> AsyncGenerator[SynthesisChunk]:
        """Checks the request, then streams the audio: for WAV a header first, then one chunk per sentence (PCM16
        at the requested rate, the first sentence as soon as it is synthesized); Ogg/Opus pages as they fill."""
        if not text.strip():
            raise InvalidArgument(FieldViolation("text", "must not be empty"))
        if len(text) > MAX_SYNTHESIS_CHARS:
            raise InvalidArgument(FieldViolation("text", f"must be at most {MAX_SYNTHESIS_CHARS} characters"),
                                  reason="TEXT_TOO_LONG")
        self.check_voice(voice)
        if speaking_rate and not 0.5 <= speaking_rate <= 2.0:
            raise InvalidArgument(FieldViolation("speaking_rate", "must be 0 or from 0.5 to 2.0"))
        encoding = output.encoding or "WAV"
        check_rate(output.sample_rate_hertz, "output_format.sample_rate_hertz")
        if encoding == "WEBM_OPUS":
            raise InvalidArgument(FieldViolation("output_format.encoding", "WebM output is not offered; use "
                                                                           "OGG_OPUS, WAV or LINEAR16"),
                                  reason="AUDIO_ENCODING_UNSUPPORTED")
        encoder: AudioEncoder | None = None
        if encoding == "OGG_OPUS":
            rate = output.sample_rate_hertz or 48000
            if rate not in OPUS_RATES:
                raise InvalidArgument(FieldViolation("output_format.sample_rate_hertz",
                                                     f"Opus runs at {', '.join(map(str, OPUS_RATES))} Hz"),
                                      reason="SAMPLE_RATE_UNSUPPORTED")
            encoder = self.engines.codecs.opus_encoder(rate)
            if encoder is None:
                raise Unimplemented("OGG_OPUS output is not available on this server; use WAV or LINEAR16.",
                                    reason="AUDIO_ENCODING_UNAVAILABLE")
        tts = await self._tts_at(speaking_rate)
        return self._synthesis_stream(tts, text, encoding, output.sample_rate_hertz, encoder)

    async def _synthesis_stream(self, tts: SentenceSynthesizer, text: str, encoding: str, rate: int,
                                encoder: AudioEncoder | None) -> AsyncGenerator[SynthesisChunk]:
        source_rate = tts.sample_rate_hertz
        rate = rate or (48000 if encoder else source_rate)
        content_type = {"WAV": "audio/wav", "LINEAR16": f"audio/L16;rate={rate}", "OGG_OPUS": "audio/ogg"}[encoding]
        pause = b"\x00\x00" * round(rate * SYNTHESIS_PAUSE_SECONDS)
        sequence, offset = 0, 0.0
        if encoding == "WAV":
            sequence += 1
            yield SynthesisChunk(self.engines.codecs.wav_header(rate), content_type, sequence, "", 0.0, 0.0)
        async with contextlib.aclosing(tts.synthesize_sentences(text)) as sentences:
            async for sentence, pcm in sentences:
                if rate != source_rate:
                    pcm = await asyncio.to_thread(self.engines.codecs.resample, pcm, source_rate, rate)
                if sequence > (1 if encoding == "WAV" else 0):
                    pcm = pause + pcm
                seconds = pcm_seconds(pcm, rate)
                data = encoder.encode(pcm) if encoder is not None else pcm
                sequence += 1
                yield SynthesisChunk(data, content_type, sequence, sentence, offset, seconds)
                offset += seconds
        if encoder is not None:
            sequence += 1
            yield SynthesisChunk(encoder.finish(), content_type, sequence, "", offset, 0.0)

    async def _tts_at(self, speaking_rate: float) -> SentenceSynthesizer:
        """The TTS engine at a speaking rate, rounded to a quarter (each one is a loaded voice of its own, ~100 MB:
        at most six besides the normal one); each rate's engine is built once."""
        rate = round((speaking_rate or 1.0) * 4) / 4
        if rate == 1.0:
            return self.engines.tts
        if self.engines.tts_at_rate is None:
            raise InvalidArgument(FieldViolation("speaking_rate", "this voice speaks at 1.0 only"))
        async with self._rated_lock:
            if rate not in self._rated:
                self._rated[rate] = self.engines.tts_at_rate(rate)
            return self._rated[rate]

    async def sized_wav(self, chunks: AsyncGenerator[SynthesisChunk]) -> AsyncGenerator[SynthesisChunk]:
        """A synthesis stream whose WAV header (if it has one) states the true sizes: the audio is gathered first."""
        async with contextlib.aclosing(chunks):
            gathered = [chunk async for chunk in chunks]
        if gathered and gathered[0].data[:4] == b"RIFF":
            codecs = self.engines.codecs
            size = sum(len(chunk.data) for chunk in gathered[1:])
            header = codecs.wav_header(codecs.wav_sample_rate(gathered[0].data), size)
            gathered[0] = dataclasses.replace(gathered[0], data=header)
        for chunk in gathered:
            yield chunk

    # --- live conversations ------------------------------------------------------------------------------------------

    def converse(self, user_id: str) -> LiveConversation:
        return LiveConversation(self, user_id)




# --- live sessions ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class LiveState:
    """What a session in use keeps in memory: the end-of-speech detector and the audio heard, so a stream that
    reconnects within the idle window continues an utterance where the dropped one left it."""

    session_id: str
    vad: VadStream | None = None
    vad_base: float = 0.0  # seconds of stream audio heard before the detector started (its offsets are from there)
    audio: bytearray = dataclasses.field(default_factory=bytearray)  # 16 kHz PCM16 from `audio_start` on
    audio_start: float = 0.0
    heard: float = 0.0  # seconds of audio heard in all
    utterance_start: float | None = None  # where the utterance being spoken starts; None: nobody speaks
    prefix: bytes = b""  # audio of an utterance it continues (the user went on after a short pause)
    owner: LiveConversation | None = None
    last_active: float = 0.0  # when a stream last used it (monotonic seconds)

    def append(self, pcm: bytes) -> None:
        self.audio += pcm
        self.heard += pcm_seconds(pcm, STREAM_RATE)

    def span(self, start: float, end: float) -> bytes:
        """The buffered audio from `start` to `end` (seconds of stream audio)."""
        first = max(0, round((start - self.audio_start) * STREAM_RATE)) * 2
        last = max(first, round((end - self.audio_start) * STREAM_RATE) * 2)
        return bytes(self.audio[first:last])

    def trim(self, keep_from: float) -> None:
        """Forgets the audio before `keep_from`."""
        cut = max(0, round((keep_from - self.audio_start) * STREAM_RATE)) * 2
        if cut > 0:
            del self.audio[:cut]
            self.audio_start += cut / 2 / STREAM_RATE

    @property
    def utterance_seconds(self) -> float:
        if self.utterance_start is None:
            return 0.0
        return pcm_seconds(self.prefix, STREAM_RATE) + self.heard - self.utterance_start


class LiveSessions:
    """The live state of sessions in use, dropped `idle_seconds` after their last stream detached."""

    def __init__(self, idle_seconds: float, clock: Clock = SYSTEM_CLOCK):
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._states: dict[str, LiveState] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._states

    def attach(self, session_id: str, owner: LiveConversation) -> LiveState:
        """The session's state for a new stream; a stream still attached to it is ended (the client reconnected)."""
        state = self._states.get(session_id)
        if state is None:
            state = self._states[session_id] = LiveState(session_id)
        previous, state.owner = state.owner, owner
        state.last_active = self._clock.monotonic()
        if previous is not None and previous is not owner:
            previous.terminate(FailedPrecondition("The session was resumed by another stream.",
                                                  reason="SESSION_RESUMED_ELSEWHERE",
                                                  metadata={"resourceName": previous.session_name}))
        return state

    def detach(self, state: LiveState, owner: LiveConversation) -> None:
        if state.owner is owner:
            state.owner = None
            state.last_active = self._clock.monotonic()

    def evict(self, session_id: str, error: DomainError | None = None) -> None:
        state = self._states.pop(session_id, None)
        if state is not None and state.owner is not None and error is not None:
            state.owner.terminate(error)

    def sweep(self, now: float | None = None) -> int:
        """Drops the states no stream uses that have been idle too long; returns how many."""
        now = self._clock.monotonic() if now is None else now
        idle = [sid for sid, state in self._states.items()
                if state.owner is None and now - state.last_active >= self.idle_seconds]
        for session_id in idle:
            del self._states[session_id]
        return len(idle)

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="voice-live-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for state in list(self._states.values()):
            if state.owner is not None:
                state.owner.terminate(None)
        self._states.clear()

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, min(30.0, self.idle_seconds / 2)))
            evicted = self.sweep()
            if evicted:
                log.debug("evicted %d idle voice session state(s)", evicted)


# --- the live conversation -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConverseSettings:
    session_id: str = ""  # "" starts a new session
    input_format: AudioFormat = AudioFormat("", 0)
    output_format: AudioFormat = AudioFormat("", 0)
    language_code: str = ""
    voice: str = ""


@dataclasses.dataclass(frozen=True)
class VoiceEvent:
    turn: int


@dataclasses.dataclass(frozen=True)
class SessionStartedEvent(VoiceEvent):
    session: VoiceSession
    output_format: AudioFormat


@dataclasses.dataclass(frozen=True)
class SpeechStartedEvent(VoiceEvent):
    offset_seconds: float


@dataclasses.dataclass(frozen=True)
class SpeechStoppedEvent(VoiceEvent):
    offset_seconds: float


@dataclasses.dataclass(frozen=True)
class TranscriptEvent(VoiceEvent):
    text: str
    final: bool
    language_code: str = ""


@dataclasses.dataclass(frozen=True)
class ReplyTextEvent(VoiceEvent):
    text: str


@dataclasses.dataclass(frozen=True)
class ReplyAudioEvent(VoiceEvent):
    audio: bytes
    sentence: str
    start_seconds: float
    last: bool


@dataclasses.dataclass(frozen=True)
class InterruptedEvent(VoiceEvent):
    played_seconds: float
    stored_text: str


@dataclasses.dataclass(frozen=True)
class TurnCompleteEvent(VoiceEvent):
    user_message: Message
    assistant_message: Message


@dataclasses.dataclass(frozen=True)
class ErrorEvent(VoiceEvent):
    error: DomainError
    fatal: bool


class TurnFailed(DomainError):
    """A reply that failed in its task, with the task's code and reason."""

    def __init__(self, code: str, reason: str, message: str, metadata: dict[str, str]):
        super().__init__(message, reason=reason, metadata=metadata)
        self.code = code


@dataclasses.dataclass(frozen=True)
class _Spoken:
    """A sentence of the reply sent as audio: where its text ends in the reply, where its audio starts, how long it
    plays (pause before it included) and how much of that is the pause."""

    text: str
    text_end: int
    start: float
    duration: float
    pause: float


@dataclasses.dataclass(eq=False)
class _SttRun:
    start: float  # the utterance start it belongs to
    end: float  # how far into the stream's audio it heard
    task: asyncio.Task[Transcription]


_TRANSCRIBING, _STORING, _REPLYING, _DONE, _DROPPED = "transcribing", "storing", "replying", "done", "dropped"


@dataclasses.dataclass(eq=False)
class _Turn:
    number: int
    audio: bytes | None = None  # the utterance (16 kHz), or None for typed text
    text: str = ""
    stt: _SttRun | None = None  # a partial transcription that already heard the whole utterance
    utterance_start: float = 0.0
    mergeable: bool = False
    stage: str = _TRANSCRIBING
    task: asyncio.Task[None] | None = None
    reply_task: asyncio.Task[None] | None = None
    cut_task: asyncio.Task[Message | None] | None = None
    reply_id: str = ""
    user_message: Message | None = None
    reply_text: str = ""
    spoken: list[_Spoken] = dataclasses.field(default_factory=list)
    audio_seconds: float = 0.0
    first_audio_at: float | None = None
    played_reported: float | None = None
    interrupted: bool = False
    stored_text: str = ""

    def played(self, now: float) -> float:
        """What the client played of the reply by `now` (monotonic): what it reported, else what the clock
        allows."""
        if self.played_reported is not None:
            return min(self.played_reported, self.audio_seconds)
        if self.first_audio_at is None:
            return 0.0
        return min(self.audio_seconds, now - self.first_audio_at)

    def playing(self, grace: float, now: float) -> bool:
        """Whether the client is still playing the reply: more than a moment of it is left unheard (as reported,
        else by the clock), and the clock allows it (reports may stop coming)."""
        if self.first_audio_at is None or self.interrupted:
            return False
        if self.audio_seconds - self.played(now) <= 0.25:
            return False
        return now - self.first_audio_at < self.audio_seconds + grace

    def text_played(self, played: float) -> str:
        """The reply's text as far as `played` seconds of its audio: whole sentences, then the share of the words
        of the sentence playing when it stopped."""
        kept, partial = 0, ""
        for spoken in self.spoken:
            if played >= spoken.start + spoken.duration - 0.05:
                kept = spoken.text_end
                continue
            speech = spoken.duration - spoken.pause
            heard = played - spoken.start - spoken.pause
            if heard > 0 and speech > 0:
                words = spoken.text.split()
                partial = " ".join(words[:math.floor(len(words) * heard / speech)])
            break
        text = self.reply_text[:kept].rstrip()
        return f"{text} {partial}".strip() if partial else text


_SPEAKABLE = re.compile(r"\w")
# The opening clause of a reply's first sentence (words up to its first comma, semicolon, colon or dash, with at
# least four words after it), spoken on its own.
_OPENING_CLAUSE = re.compile(r"(\S+(?:\s+\S+)*?[,;:—–])\s+(?=(?:\S+\s+){3,}\S)")
# Text that ends with a finished sentence (its closing punctuation and the space after it have arrived).
_ENDS_SENTENCE = re.compile(r"(?:[.!?]+|…)[\"'”’»)\]]*\s+$")


class LiveConversation:
    """One Converse stream. Feed it client events (`configure` first); read `events()` until it ends.

    Client mistakes raise DomainError from the feeding methods (the caller reports them in-band and goes on);
    `fail` ends the stream with a fatal error.
    """

    def __init__(self, voice: Voice, user_id: str):
        self._voice = voice
        self._user = user_id
        self._limits = voice.limits
        self._engines = voice.engines
        self._clock = voice.clock
        self._out: asyncio.Queue[VoiceEvent | None] = asyncio.Queue()
        self._session: VoiceSession | None = None
        self._state: LiveState | None = None
        self._stream_base = 0.0
        self._input_rate = STREAM_RATE
        self._resampler: PcmStreamResampler | None = None
        self._output_rate = 0
        self._language = ""
        self._next_turn = 1
        self._turns: list[_Turn] = []
        self._run: _SttRun | None = None
        self._partial_text = ""
        self._run_ended = self._run_started = 0.0
        self._run_seconds = 0.6  # how long a partial transcription takes, on average
        self._partials: asyncio.Task[None] | None = None
        self._closed = False
        self._silenced: set[int] = set()  # turns whose reply was interrupted
        self.session_name = ""

    # --- output ------------------------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[VoiceEvent]:
        while True:
            event = await self._out.get()
            if event is None:
                return
            yield event

    def _emit(self, event: VoiceEvent) -> None:
        # Nothing of an interrupted reply goes out after `interrupted`, whatever was already in flight.
        if isinstance(event, (ReplyTextEvent, ReplyAudioEvent)) and event.turn in self._silenced:
            return
        if not self._closed:
            self._out.put_nowait(event)

    def report(self, error: DomainError) -> None:
        """A non-fatal error, in-band."""
        self._emit(ErrorEvent(self._next_turn, error, False))

    def fail(self, error: DomainError) -> None:
        """A fatal error: reported, then the stream ends."""
        self._emit(ErrorEvent(self._next_turn, error, True))
        self._end_output()

    def terminate(self, error: DomainError | None) -> None:
        """Ends the stream from outside (the session was deleted or resumed elsewhere, the server stops)."""
        if error is not None:
            self.fail(error)
        else:
            self._end_output()
        _in_background(self.close())

    def _end_output(self) -> None:
        if not self._closed:
            self._out.put_nowait(None)
            self._closed = True

    # --- input -------------------------------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return self._session is not None

    async def configure(self, settings: ConverseSettings) -> None:
        """Opens (or creates) the session; a DomainError here is fatal."""
        voice = self._voice
        check_language(settings.language_code, "config.language_code")
        input_encoding = settings.input_format.encoding
        if input_encoding not in ("", "LINEAR16"):
            raise InvalidArgument(FieldViolation("config.input_format.encoding",
                                                 "a stream takes LINEAR16 audio only (16-bit mono PCM)"),
                                  reason="AUDIO_ENCODING_UNSUPPORTED")
        self._input_rate = check_rate(settings.input_format.sample_rate_hertz,
                                      "config.input_format.sample_rate_hertz") or STREAM_RATE
        if self._input_rate != STREAM_RATE:
            self._resampler = self._engines.codecs.stream_resampler(self._input_rate, STREAM_RATE)
        if settings.output_format.encoding not in ("", "LINEAR16"):
            raise InvalidArgument(FieldViolation("config.output_format.encoding",
                                                 "a stream sends LINEAR16 audio only"),
                                  reason="AUDIO_ENCODING_UNSUPPORTED")
        self._output_rate = (check_rate(settings.output_format.sample_rate_hertz,
                                        "config.output_format.sample_rate_hertz")
                             or self._engines.tts.sample_rate_hertz)
        if settings.voice:
            voice.check_voice(settings.voice, "config.voice")
        if settings.session_id:
            session = await voice.get_session(self._user, settings.session_id)
        else:
            session = await voice.create_session(self._user, language_code=settings.language_code,
                                                 voice=settings.voice)
        try:
            await voice.conversations.get(self._user, session.conversation_id)
        except NotFound:
            raise FailedPrecondition(f"The conversation of {session.name} was deleted; start a new session.",
                                     reason="SESSION_CONVERSATION_DELETED",
                                     metadata={"resourceName": session.name}) from None
        self._language = settings.language_code or session.language_code
        self._session = await voice.record_use(session.id) or session
        self.session_name = session.name
        self._next_turn = self._session.turn_count + 1
        self._state = voice.live.attach(session.id, self)
        if self._state.vad is None:
            self._state.vad = self._engines.vad.stream(STREAM_RATE)
            self._state.vad_base = self._state.heard
        self._stream_base = self._state.heard
        self._partials = asyncio.create_task(self._partial_loop(), name=f"voice-partials-{session.id}")
        self._emit(SessionStartedEvent(self._next_turn, self._session, AudioFormat("LINEAR16", self._output_rate)))

    def audio(self, data: bytes) -> None:
        state = self._live()
        if len(data) > MAX_CHUNK_BYTES:
            raise InvalidArgument(FieldViolation("audio", f"a chunk must be at most {MAX_CHUNK_BYTES} bytes "
                                                          f"(100 ms is 3200 bytes at 16 kHz); got {len(data)}"),
                                  reason="AUDIO_CHUNK_TOO_LARGE")
        if len(data) % 2:
            raise InvalidArgument(FieldViolation("audio", "LINEAR16 audio must be whole 16-bit samples "
                                                          f"(an even number of bytes); got {len(data)}"),
                                  reason="AUDIO_CONTENT_INVALID")
        if not data:
            return
        pcm = data if self._resampler is None else self._resampler(data)
        state.append(pcm)
        state.last_active = self._clock.monotonic()
        assert state.vad is not None
        for event in state.vad.feed(pcm):
            offset = state.vad_base + event.offset_seconds
            if event.kind == "speech_started":
                self._speech_started(offset)
            else:
                self._speech_stopped(offset)
        if state.utterance_start is None:
            state.trim(state.heard - self._limits.pre_roll_seconds - 0.2)
        elif self._pause_heard(state):
            # Perhaps the end of speech: transcribe now, so the final transcript is ready when the pause is long
            # enough to end the utterance (the detector waits for that).
            self._start_run(min_new_audio=0.05)
        if state.utterance_start is not None and state.utterance_seconds >= self._limits.max_utterance_seconds:
            self._emit(SpeechStoppedEvent(self._next_turn, state.heard - self._stream_base))
            self._finalize(state.heard, state.heard)
            self._restart_vad()
            raise InvalidArgument(FieldViolation("audio", f"an utterance may last at most "
                                                          f"{self._limits.max_utterance_seconds:g} s; it was cut "
                                                          "there and answered"),
                                  reason="UTTERANCE_TOO_LONG")

    def text(self, text: str) -> None:
        self._live()
        check_text(text)
        self._start_turn(_Turn(self._next_turn, text=text.strip()))

    def end_of_turn(self) -> None:
        """The user says they finished speaking: the utterance is answered now. Without speech, nothing happens."""
        state = self._live()
        if state.utterance_start is None:
            return
        self._emit(SpeechStoppedEvent(self._next_turn, state.heard - self._stream_base))
        self._finalize(state.heard, state.heard)
        self._restart_vad()

    def playback(self, turn_number: int, played_seconds: float) -> None:
        self._live()
        if played_seconds < 0:
            raise InvalidArgument(FieldViolation("playback.played", "must not be negative"))
        for turn in reversed(self._turns):
            if turn.number == turn_number and turn.stage != _DROPPED:
                turn.played_reported = played_seconds
                return

    async def finish(self) -> None:
        """The client sent its last event: answer what it said, then end the stream."""
        if self._state is not None and self._state.utterance_start is not None and not self._closed:
            self.end_of_turn()
        for turn in list(self._turns):
            for task in (turn.task, turn.cut_task):
                if task is not None:
                    with contextlib.suppress(BaseException):
                        await asyncio.shield(task)
        self._end_output()

    async def close(self) -> None:
        """Stops everything this stream runs (a reply task, which writes the stored reply, goes on)."""
        self._end_output()
        tasks = [t for t in (self._partials, *(turn.task for turn in self._turns)) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._run is not None:
            self._run.task.cancel()
        if self._state is not None:
            self._voice.live.detach(self._state, self)

    def _live(self) -> LiveState:
        if self._state is None:
            raise FailedPrecondition("The first event must be config.", reason="CONFIG_REQUIRED")
        return self._state

    def _restart_vad(self) -> None:
        """A fresh detector: after an end of turn (or a cut) the old one still believes the user is speaking."""
        state = self._live()
        state.vad = self._engines.vad.stream(STREAM_RATE)
        state.vad_base = state.heard

    # --- speech ------------------------------------------------------------------------------------------------------

    def _speech_started(self, offset: float) -> None:
        state = self._live()
        if state.utterance_start is not None:
            return
        latest = self._turns[-1] if self._turns else None
        if latest is not None and latest.stage == _TRANSCRIBING and latest.mergeable and latest.task:
            # The user goes on after a short pause: one utterance, not two turns.
            latest.task.cancel()
            latest.stage = _DROPPED
            state.prefix = latest.audio
            state.utterance_start = state.audio_start
        else:
            state.utterance_start = max(state.audio_start, offset - self._limits.pre_roll_seconds)
        now, grace = self._clock.monotonic(), self._limits.playback_grace_seconds
        for turn in self._turns:
            if not turn.interrupted and (turn.stage in (_STORING, _REPLYING)
                                         or (turn.stage == _DONE and turn.playing(grace, now))):
                self._interrupt(turn)
        self._partial_text = ""
        self._emit(SpeechStartedEvent(self._next_turn, offset - self._stream_base))

    def _speech_stopped(self, offset: float) -> None:
        state = self._live()
        if state.utterance_start is None:
            return
        self._emit(SpeechStoppedEvent(self._next_turn, offset - self._stream_base))
        self._finalize(min(state.heard, offset + self._limits.post_roll_seconds), offset, mergeable=True)

    def _finalize(self, end: float, speech_end: float, *, mergeable: bool = False) -> None:
        """Closes the utterance and starts its turn. A `mergeable` one (ended by a pause, not by the client or the
        length limit) is taken back if the user goes on speaking before it is transcribed."""
        state = self._live()
        start = state.utterance_start
        assert start is not None
        turn = _Turn(self._next_turn, audio=state.prefix + state.span(start, end), utterance_start=start,
                     mergeable=mergeable)
        run = self._run
        if run is not None and run.start == start and run.end >= speech_end - 0.01 and not run.task.cancelled():
            turn.stt = run
            self._run = None
        elif run is not None and run.task.done():
            self._run = None  # (a run still going keeps the recognizer busy: the next one waits for it)
        state.utterance_start, state.prefix = None, b""
        state.trim(end)
        self._start_turn(turn)

    async def _partial_loop(self) -> None:
        """While the user speaks: transcribe what was said so far when the recognizer is free (leaving it idle for
        `partial_gap_seconds` between runs, so the end of speech often finds it free), and send the words at least
        every `partial_interval_seconds` (again, when nothing new was recognized)."""
        interval = self._limits.partial_interval_seconds
        last_sent, sent_text = 0.0, ""
        while True:
            await asyncio.sleep(0.02)
            state = self._state
            if state is None or state.utterance_start is None:
                sent_text, last_sent = "", 0.0
                continue
            run = self._run
            if run is not None and run.start == state.utterance_start and run.task.done():
                if not run.task.cancelled() and run.task.exception() is None:
                    text = run.task.result().text.strip()
                    if text:
                        self._partial_text = text
            now = self._clock.monotonic()
            # Idle between runs at least as long as a run takes, so the end of speech finds the recognizer free
            # about as often as busy (on a loaded machine, a run takes longer).
            if now - self._run_ended >= max(self._limits.partial_gap_seconds, self._run_seconds):
                self._start_run(min_new_audio=0.3)
            text = self._partial_text
            if text and (text != sent_text or now - last_sent >= interval):
                self._emit(TranscriptEvent(self._next_turn, text, False))
                sent_text, last_sent = text, now

    def _start_run(self, *, min_new_audio: float) -> None:
        """Starts transcribing the utterance so far, if the recognizer is free and there is new audio."""
        state = self._state
        if state is None or state.utterance_start is None or state.utterance_seconds < 0.3:
            return
        run = self._run
        if run is not None and (not run.task.done() or (run.start == state.utterance_start
                                                         and state.heard - run.end < min_new_audio)):
            return
        pcm = state.prefix + state.span(state.utterance_start, state.heard)
        self._run_started = self._clock.monotonic()
        self._run = _SttRun(state.utterance_start, state.heard, asyncio.create_task(self._transcribe_partial(pcm)))
        self._run.task.add_done_callback(self._run_done)

    def _run_done(self, task: asyncio.Task[Transcription]) -> None:
        self._run_ended = self._clock.monotonic()
        if not task.cancelled() and task.exception() is None:
            self._run_seconds = 0.7 * self._run_seconds + 0.3 * (self._run_ended - self._run_started)
        _retrieve(task)

    def _pause_heard(self, state: LiveState) -> bool:
        """Whether the detector hears a pause in speech right now (it may be the end of the utterance)."""
        return state.vad is not None and state.vad.pause_heard()

    async def _transcribe_partial(self, pcm: bytes) -> Transcription:
        """The quick transcription for partials (it never waits for a busy recognizer)."""
        return await self._engines.stt.transcribe_partial(pcm, STREAM_RATE, language_code=self._language)

    async def _transcribe(self, turn: _Turn) -> Transcription:
        run = turn.stt
        if run is not None:
            with contextlib.suppress(Exception):
                return await asyncio.shield(run.task)
        assert turn.audio is not None
        stt = self._engines.stt
        # The quick settings (no timestamps, no temperature fallback) do for a short turn; they need a free
        # recognizer, which this stream's partial still running will free in a moment.
        busy = self._run
        if busy is not None and not busy.task.done():
            await asyncio.wait([busy.task])
        with contextlib.suppress(ResourceExhausted):
            return await stt.transcribe_partial(turn.audio, STREAM_RATE, language_code=self._language)
        deadline = self._clock.monotonic() + 10.0
        while True:
            try:
                return await stt.transcribe(turn.audio, STREAM_RATE, language_code=self._language)
            except ResourceExhausted:
                if self._clock.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    # --- turns -------------------------------------------------------------------------------------------------------

    def _start_turn(self, turn: _Turn) -> None:
        now = self._clock.monotonic()
        self._turns = [t for t in self._turns if t.stage != _DROPPED and not _finished(t, now)][-8:]
        earlier = list(self._turns)
        self._turns.append(turn)
        turn.task = asyncio.create_task(self._run_turn(turn, earlier), name=f"voice-turn-{turn.number}")

    async def _run_turn(self, turn: _Turn, earlier: list[_Turn]) -> None:
        session = self._session
        assert session is not None
        try:
            if turn.audio is not None:
                transcription = await self._transcribe(turn)
                text = " ".join(transcription.text.split())
                if not _SPEAKABLE.search(text):
                    turn.stage = _DROPPED  # silence or noise: no turn
                    return
                turn.text = text
                self._emit(TranscriptEvent(turn.number, text, True, transcription.language_code))
            turn.stage = _STORING
            turn.number = self._next_turn
            self._next_turn += 1
            # The newest thing the user said wins: an earlier reply still going is stopped, and stored first.
            for other in earlier:
                if other.stage in (_STORING, _REPLYING) and not other.interrupted:
                    self._interrupt(other)
            for other in earlier:
                for task in (other.task, other.cut_task):
                    if task is not None:
                        with contextlib.suppress(BaseException):
                            await asyncio.shield(task)
            events = await asyncio.shield(self._send(turn))
            turn.stage = _REPLYING
            try:
                if not turn.interrupted:
                    turn.reply_task = asyncio.create_task(self._reply(turn, events))
                    try:
                        await asyncio.shield(turn.reply_task)
                    except asyncio.CancelledError:
                        if not (turn.interrupted and turn.reply_task.done()):
                            raise  # the stream is closing (a barge-in cancels only the reply task)
            finally:
                if turn.reply_task is not None and not turn.reply_task.done():
                    turn.reply_task.cancel()
                    with contextlib.suppress(BaseException):
                        await turn.reply_task
                with contextlib.suppress(Exception):
                    await events.aclose()  # type: ignore[attr-defined]
            reply: Message | None
            if turn.interrupted:
                reply = await asyncio.shield(self._voice.conversations.cut_reply(
                    self._user, turn.reply_id, turn.stored_text))
            else:
                reply = await self._voice.conversations.message(turn.reply_id)
            turn.stage = _DONE
            assert turn.user_message is not None and reply is not None
            self._emit(TurnCompleteEvent(turn.number, turn.user_message, reply))
            if self._limits.remember_turns:
                await self._voice.memories.add(self._user, turn.text[:4000], reply.text[:4000], session.id)
        except asyncio.CancelledError:
            raise
        except DomainError as exc:
            turn.stage = _DONE if turn.reply_id else _DROPPED
            self.report(exc)
        except Exception:
            log.exception("voice turn failed", extra={"session": session.id})
            turn.stage = _DONE if turn.reply_id else _DROPPED
            self.report(DomainError("The turn could not be completed.", reason="TURN_FAILED"))

    async def _send(self, turn: _Turn) -> AsyncIterator[Any]:
        """Stores the user's turn and starts the reply; returns the reply's event stream, its first event read."""
        session = self._session
        assert session is not None
        matches = []
        if self._limits.memories_per_turn:
            matches = await self._voice.memories.relevant(self._user, turn.text, self._limits.memories_per_turn,
                                                          exclude_session=session.id)
        events = await self._voice.conversations.send(self._user, session.conversation_id, turn.text,
                                                      memories=[match.memory.text for match in matches])
        accepted = await anext(events)  # type: ignore[call-overload]
        turn.user_message, turn.reply_id = accepted.user_message, accepted.reply.id
        self._session = await self._voice.record_turn(session.id) or session
        return events

    async def _reply(self, turn: _Turn, events: AsyncIterator[Any]) -> None:
        """Forwards the reply's text and speaks it sentence by sentence as it is written."""
        sentences: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        split = self._engines.tts.split_sentences
        speaker = asyncio.create_task(self._speak(turn, sentences))
        queued = 0  # how much of the reply text is queued for speech
        failed: DomainError | None = None
        try:
            async for event in events:
                if event.delta is not None:
                    turn.reply_text += event.delta
                    self._emit(ReplyTextEvent(turn.number, event.delta))
                    queued = _queue_sentences(split, turn.reply_text, queued, sentences, final=False)
                elif event.error is not None:
                    error = event.error
                    failed = TurnFailed(error.code, error.reason, error.message, error.metadata)
            _queue_sentences(split, turn.reply_text, queued, sentences, final=True)
            sentences.put_nowait(None)
            await speaker
        finally:
            if not speaker.done():
                speaker.cancel()
                with contextlib.suppress(BaseException):
                    await speaker
        if failed is not None:
            self.report(failed)

    async def _speak(self, turn: _Turn, sentences: asyncio.Queue[tuple[str, int] | None]) -> None:
        rate, source = self._output_rate, self._engines.tts.sample_rate_hertz
        chunk_bytes = max(2, round(rate * self._limits.chunk_seconds)) * 2
        pause = b"\x00\x00" * round(rate * self._limits.sentence_pause_seconds)
        pending: ReplyAudioEvent | None = None
        while (item := await sentences.get()) is not None:
            sentence, text_end = item
            pieces = []
            async with contextlib.aclosing(self._engines.tts.synthesize_sentences(sentence)) as synthesized:
                async for _piece, pcm in synthesized:
                    pieces.append(pcm)
            pcm = b"".join(pieces)
            if not pcm:
                continue
            if rate != source:
                pcm = await asyncio.to_thread(self._engines.codecs.resample, pcm, source, rate)
            # A pause between sentences; none after the opening clause cut off a first sentence.
            gap = pause if turn.spoken and _ENDS_SENTENCE.search(turn.spoken[-1].text + " ") else b""
            pcm = gap + pcm
            start = turn.audio_seconds
            turn.spoken.append(_Spoken(sentence, text_end, start, pcm_seconds(pcm, rate), pcm_seconds(gap, rate)))
            # Equal chunks of at most chunk_seconds: no sliver at the end of a sentence.
            count = -(-len(pcm) // chunk_bytes)
            size = -(-len(pcm) // 2 // count) * 2
            for at in range(0, len(pcm), size):
                if pending is not None:
                    self._emit(pending)
                    if turn.first_audio_at is None:
                        turn.first_audio_at = self._clock.monotonic()
                pending = ReplyAudioEvent(turn.number, pcm[at:at + size], sentence if at == 0 else "",
                                          start + at / 2 / rate, False)
            turn.audio_seconds = start + pcm_seconds(pcm, rate)
        if pending is None:
            pending = ReplyAudioEvent(turn.number, b"", "", turn.audio_seconds, True)
        self._emit(dataclasses.replace(pending, last=True))
        if turn.first_audio_at is None and pending.audio:
            turn.first_audio_at = self._clock.monotonic()

    def _interrupt(self, turn: _Turn) -> None:
        """Barge-in: tells the client at once, stops the reply's text and audio, and stores what was played."""
        turn.interrupted = True
        self._silenced.add(turn.number)
        played = turn.played(self._clock.monotonic())
        turn.stored_text = turn.text_played(played)
        self._emit(InterruptedEvent(turn.number, played, turn.stored_text))
        if turn.stage == _REPLYING and turn.reply_task is not None:
            turn.reply_task.cancel()
        elif turn.stage == _DONE and turn.reply_id:
            turn.cut_task = _in_background(self._voice.conversations.cut_reply(
                self._user, turn.reply_id, turn.stored_text))


def _queue_sentences(split_sentences: Callable[[str], list[str]], text: str, queued: int,
                     sentences: asyncio.Queue[tuple[str, int] | None], *, final: bool) -> int:
    """Queues the sentences of `text` after `queued` that are complete (all of them when `final`); returns how much
    of the text is queued now."""
    pending = text[queued:]
    found = split_sentences(pending)
    # The last sentence may go on, unless its end has arrived: a following capitalized word would start another.
    if not final and not (_ENDS_SENTENCE.search(pending) and len(split_sentences(pending + "Next")) > len(found)):
        found = found[:-1]
    position = queued
    for sentence in found:
        at = text.find(sentence, position)
        end = (at + len(sentence)) if at >= 0 else position
        if position == 0 and at >= 0 and (clause := _OPENING_CLAUSE.match(sentence)):
            # The reply's first words are spoken on their own, so the first audio comes sooner.
            sentences.put_nowait((clause.group(1), at + clause.end(1)))
            sentence = sentence[clause.end():]
        sentences.put_nowait((sentence, end))
        position = end
    return position


def _finished(turn: _Turn, now: float) -> bool:
    return (turn.stage == _DONE and turn.task is not None and turn.task.done()
            and (turn.cut_task is None or turn.cut_task.done()) and not turn.playing(1.0, now))


_BACKGROUND: set[asyncio.Task[Any]] = set()


def _in_background(work: Any) -> asyncio.Task[Any]:
    """Runs work nobody awaits, holding the task until it ends (the loop keeps only weak references)."""
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    task.add_done_callback(_retrieve)
    return task


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and isinstance(task.exception(), ResourceExhausted):
        log.debug("voice background work skipped: %s", task.exception())
    elif not task.cancelled() and task.exception() is not None:
        log.warning("voice background work failed: %r", task.exception())

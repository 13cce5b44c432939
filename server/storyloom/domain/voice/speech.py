"""The voice service: sessions, and the discrete speech calls (transcription, synthesis, language detection).

Live spoken conversations (the Converse stream) are `LiveConversation`s in conversation.py, built on this service.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable

from storyloom.domain.conversations import Conversations
from storyloom.domain.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
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
    SentenceSynthesizer,
    SpeechToText,
    Transcription,
    VoiceActivityDetector,
)
from storyloom.domain.voice.formats import (
    DEFAULT_FORMAT,
    OPUS_RATES,
    STREAM_RATE,
    AudioFormat,
    Encoding,
    SynthesisChunk,
    check_language,
    check_rate,
    pcm_seconds,
)
from storyloom.domain.voice.sessions import LiveSessions, VoiceSession, VoiceSessionRepository

log = logging.getLogger(__name__)

MAX_TRANSCRIBE_BYTES = 4 * 1024 * 1024
MAX_SYNTHESIS_CHARS = 5000
SYNTHESIS_PAUSE_SECONDS = 0.25  # between sentences in Synthesize, as in narration
_MEDIA_ENCODINGS: dict[str, Encoding] = {"audio/wav": "WAV", "audio/ogg": "OGG_OPUS", "audio/webm": "WEBM_OPUS"}


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
    # A turn whose speculative final transcript sounds finished ends after a pause this long (the detector's own
    # hangover, longer, ends the others); 0: only the detector ends turns.
    finished_hangover_seconds: float = 0.2
    # A turn whose speculative final transcript sounds unfinished ("...a dragon and", "because um") goes on waiting
    # after the detector's pause, up to a pause this long, for the user to go on; 0: the detector ends every turn.
    unfinished_hangover_seconds: float = 1.0
    # The final transcription starts (speculatively) once a pause has lasted this long: shorter ones are the gaps
    # between words.
    final_after_pause_seconds: float = 0.06
    # Draft the reply (text and first audio, nothing stored or sent) from the speculative final transcript during
    # the pause; it is used if the pause ends the turn, dropped if the user goes on.
    draft_replies: bool = True
    # The recognizer reads this many of the stream's last words (the user's and the replies') before each
    # transcription, to hear names and the topic again; 0: none.
    recognizer_context_words: int = 80
    # Audio kept from before the speech onset (the sample the detector's speech start refines to), and after its
    # speech stop. Any pre-roll from 0.25 to 0.40 s gives the same word error rate within noise on piper's varied
    # voice (bench/bench_preroll.py, 2 x 300 utterances); 0.34 had the fewest word errors (1.13 %, 1.20-1.40 % for
    # 0.26-0.38), and bench_voice's 12 steady utterances are all heard right with it (0.30: "find the magic stone").
    pre_roll_seconds: float = 0.34
    post_roll_seconds: float = 0.2
    # Reply audio: the pause put before each sentence after the first, and the chunk length on the wire.
    sentence_pause_seconds: float = 0.2
    chunk_seconds: float = 0.1
    # Memories given to the engine on each turn; and whether each completed voice turn is remembered.
    memories_per_turn: int = 3
    remember_turns: bool = True
    # A reply still playing this long past its end (by the clock) is taken as finished.
    playback_grace_seconds: float = 1.0


class Voice:
    """Voice sessions and the discrete speech calls; each live conversation (conversation.py) runs on it."""

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

    async def start(self) -> None:
        self.live.start()

    async def aclose(self) -> None:
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
                         audio_format: AudioFormat = DEFAULT_FORMAT, language_code: str = "") -> Transcription:
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

    async def synthesize(self, text: str, *, voice: str = "", output: AudioFormat = DEFAULT_FORMAT,
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


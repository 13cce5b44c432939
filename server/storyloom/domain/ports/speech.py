"""The speech ports: speech to text, end-of-speech detection, language identification, text to speech and the
audio formats around them.

Audio inside the server is 16-bit little-endian mono PCM ("PCM16"); `AudioCodecs.decode` turns what clients send
(WAV, Ogg/Opus, WebM/Opus, raw PCM16) into it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Callable
from typing import Literal, Protocol

# --- speech to text ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Segment:
    start_seconds: float
    end_seconds: float
    text: str


@dataclasses.dataclass(frozen=True)
class Transcription:
    text: str
    language_code: str
    language_confidence: float
    duration_seconds: float
    segments: tuple[Segment, ...] = ()


class SpeechToText(Protocol):
    async def transcribe(self, pcm16: bytes, sample_rate_hertz: int, *, language_code: str = "") -> Transcription:
        """Transcribes mono PCM16; CPU work runs off the event loop with bounded concurrency, and
        over capacity raises ResourceExhausted rather than queueing without end."""

    async def transcribe_partial(self, pcm16: bytes, sample_rate_hertz: int, *,
                                 language_code: str = "", final: bool = False, context: str = "") -> Transcription:
        """A quick transcript (no segments) of the audio so far, for partial results while a user speaks. Never
        waits for a busy recognizer: raises ResourceExhausted at once when it would have to. With `final`, the
        transcript of an utterance's end: it has a slot of its own that partials never hold, and waits only for
        other finals. `context`: what was said just before in the conversation, which the recognizer may read to
        hear its names and topic better (never as words of this audio)."""

    async def warm_up(self) -> None:
        """Loads the model and runs it once, so the first real call is as fast as the next."""

    async def aclose(self) -> None: ...


# --- end of speech ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VadEvent:
    kind: Literal["speech_started", "speech_stopped"]
    # From the start of the stream's audio. A speech start is where the sound began, to the sample, not where the
    # detector's frame did: the same point of the speech however the frames fall on it.
    offset_seconds: float


class VadStream(Protocol):
    def feed(self, pcm16: bytes) -> list[VadEvent]:
        """Consumes the next audio (any length) and returns the events it completes. Cheap enough
        (~80 us per 32 ms frame) to run on the event loop."""

    def pause_heard(self) -> bool:
        """Whether the latest audio sounds like a pause in speech (perhaps the end of an utterance, which the
        detector announces only once the pause has lasted)."""

    def pause_seconds(self) -> float:
        """How long the pause in speech going on has lasted (0 while speaking or before speech)."""

    @property
    def processed_seconds(self) -> float:
        """Audio judged so far, in seconds (offsets of events are from its start)."""


class VoiceActivityDetector(Protocol):
    def stream(self, sample_rate_hertz: int = 16000) -> VadStream: ...


# --- language identification ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LanguageGuess:
    language_code: str  # ISO 639-1 where one exists
    confidence: float


class LanguageIdentifier(Protocol):
    def detect(self, text: str) -> list[LanguageGuess]:
        """Candidates, most likely first. May block (the first call can load a model): call it off the loop."""


# --- text to speech ---------------------------------------------------------------------------------------------------


class SentenceSynthesizer(Protocol):
    """What voice needs from a text-to-speech engine."""

    @property
    def sample_rate_hertz(self) -> int: ...

    def split_sentences(self, text: str) -> list[str]:
        """The sentences the engine would speak one by one, in order: a caller streaming text queues them so."""

    def synthesize_sentences(self, text: str) -> AsyncGenerator[tuple[str, bytes]]:
        """(sentence, mono PCM16 at sample_rate_hertz) per sentence, as each is ready; closing it early stops the
        synthesis."""

    async def warm_up(self) -> None:
        """Loads the voice and speaks once, so the first real call is as fast as the next."""

    async def aclose(self) -> None: ...


# --- audio formats ----------------------------------------------------------------------------------------------------


class AudioEncoder(Protocol):
    """Streams PCM16 into a compressed container (Ogg/Opus): bytes out as pages fill up."""

    def encode(self, pcm16: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


# Resamples a stream of PCM16 chunks, without edge effects between them.
PcmStreamResampler = Callable[[bytes], bytes]


class AudioCodecs(Protocol):
    """Decoding what clients send, resampling PCM16, and the containers audio goes out in."""

    def decode(self, data: bytes, encoding: str, sample_rate_hertz: int) -> tuple[bytes, int]:
        """Decodes a recording (encoding "" = detect) to mono PCM16 at 16 kHz: (pcm, rate). CPU work: call it off
        the event loop. Bad audio raises InvalidArgument."""

    def resample(self, pcm16: bytes, source_rate: int, target_rate: int) -> bytes:
        """Mono PCM16 at another rate (one-shot)."""

    def stream_resampler(self, source_rate: int, target_rate: int) -> PcmStreamResampler: ...

    def wav_header(self, sample_rate_hertz: int, data_bytes: int | None = None) -> bytes:
        """The header of a mono 16-bit WAV file; without a length (a stream) it says "as long as it goes"."""

    def wav_sample_rate(self, header: bytes) -> int:
        """The sample rate a WAV header states."""

    def true_wav_sizes(self, data: bytes) -> bytes:
        """A WAV file whose header says "as long as it goes" (a saved stream) with its true sizes; other bytes
        unchanged."""

    def opus_encoder(self, sample_rate_hertz: int) -> AudioEncoder | None:
        """An Ogg/Opus encoder at one of 8, 12, 16, 24 or 48 kHz, or None where Opus is not available."""

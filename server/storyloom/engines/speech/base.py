"""Speech engine interfaces: speech to text, end-of-speech detection, language identification.

Audio inside the server is 16-bit little-endian mono PCM ("PCM16"); `decode_audio` turns what
clients send (WAV, Ogg/Opus, WebM/Opus, raw PCM16) into it.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol


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

    async def aclose(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class VadEvent:
    kind: Literal["speech_started", "speech_stopped"]
    offset_seconds: float  # from the start of the stream's audio


class VadStream(Protocol):
    def feed(self, pcm16: bytes) -> list[VadEvent]:
        """Consumes the next audio (any length) and returns the events it completes. Cheap enough
        (~80 us per 32 ms frame) to run on the event loop."""


class VoiceActivityDetector(Protocol):
    def stream(self, sample_rate_hertz: int = 16000) -> VadStream: ...


@dataclasses.dataclass(frozen=True)
class LanguageGuess:
    language_code: str  # ISO 639-1 where one exists
    confidence: float


class LanguageIdentifier(Protocol):
    def detect(self, text: str) -> list[LanguageGuess]:
        """Candidates, most likely first."""

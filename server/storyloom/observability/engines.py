"""Engines as the domain sees them, timed: each call is an `engine ...` span and a latency sample.

Wrapped in app.py around the real engines; they implement the same ports, so the domain does not know.
"""

from __future__ import annotations

import time

from storyloom.domain.ports.speech import SpeechToText, Transcription
from storyloom.domain.ports.story import Illustrator, Narration, Narrator, Picture, SceneText
from storyloom.domain.ports.telemetry import Telemetry
from storyloom.domain.requirements import StoryRequirements


class TimedIllustrator:
    def __init__(self, inner: Illustrator, telemetry: Telemetry):
        self.inner = inner
        self.name = inner.name
        self._telemetry = telemetry

    async def illustrate(self, scene: SceneText, requirements: StoryRequirements, *, width: int,
                         height: int) -> Picture:
        with self._telemetry.engine_call("picture", {"engine": self.name}):
            return await self.inner.illustrate(scene, requirements, width=width, height=height)

    async def aclose(self) -> None:
        await self.inner.aclose()


class TimedNarrator:
    def __init__(self, inner: Narrator, telemetry: Telemetry):
        self.inner = inner
        self.name = inner.name
        self._telemetry = telemetry

    async def narrate(self, text: str, *, voice: str = "", words_per_minute: float = 0.0,
                      priority: int = 0) -> Narration:
        started = time.perf_counter()
        with self._telemetry.engine_call("tts", {"engine": self.name, "characters": len(text)}):
            narration = await self.inner.narrate(text, voice=voice, words_per_minute=words_per_minute,
                                                 priority=priority)
        self._telemetry.tts_real_time_factor(time.perf_counter() - started, narration.duration_seconds)
        return narration

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def aclose(self) -> None:
        await self.inner.aclose()


class TimedSpeechToText:
    def __init__(self, inner: SpeechToText, telemetry: Telemetry):
        self.inner = inner
        self._telemetry = telemetry

    async def transcribe(self, pcm16: bytes, sample_rate_hertz: int, *, language_code: str = "") -> Transcription:
        seconds = len(pcm16) / 2 / max(1, sample_rate_hertz)
        with self._telemetry.engine_call("stt", {"audio_seconds": round(seconds, 3)}):
            return await self.inner.transcribe(pcm16, sample_rate_hertz, language_code=language_code)

    async def transcribe_partial(self, pcm16: bytes, sample_rate_hertz: int, *,
                                 language_code: str = "", final: bool = False, context: str = "") -> Transcription:
        seconds = len(pcm16) / 2 / max(1, sample_rate_hertz)
        with self._telemetry.engine_call("stt.final" if final else "stt.partial", {"audio_seconds": round(seconds, 3)}):
            return await self.inner.transcribe_partial(pcm16, sample_rate_hertz, language_code=language_code,
                                                       final=final, context=context)

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def aclose(self) -> None:
        await self.inner.aclose()

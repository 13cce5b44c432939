"""End-of-speech detection with the Silero VAD ONNX model that ships inside faster-whisper, run with onnxruntime.

The model (faster_whisper/assets/silero_vad_v6.onnx) takes frames of 512 samples at 16 kHz (32 ms), each preceded
by the last 64 samples of the frame before ("context"), as a [frames, 576] batch, with the LSTM state `h`, `c`
([1, 1, 128] each) carried from one call to the next; it returns one speech probability per frame. Feeding a batch
of frames gives the same probabilities as feeding them one by one, so a stream runs every complete frame it has in
one call. The file is found without importing faster-whisper (which would import CTranslate2 and PyAV).

One `InferenceSession` (one intra-op thread: a frame takes ~100 us, and threads would only add latency) is created
once, lazily, and shared; every `stream()` has its own state, so streams are independent (one per conversation).
`VadStream.feed` is cheap enough to run on the event loop.

Events, with hysteresis on the frame probabilities:
- `speech_started` once speech has lasted `min_speech_seconds` (frames at or above `threshold`, and frames above
  `neg_threshold` between them); its offset is where that speech began, so the event itself comes
  `min_speech_seconds` (+ up to a frame, + however long the sound went on before the first speech frame) after the
  offset. The frames fall wherever the stream's audio puts them, so the first speech frame starts 0-100 ms after
  the first sound, by a different amount each time; the offset is therefore refined to the sample where the sound
  that frame hears began (`speech_onset`): the same point of the speech whatever the frames' phase, so an
  utterance cut a fixed time before it is the same audio every time (tiny.en flips "a"/"the" with 4 ms shifts of
  an utterance's start);
- `speech_stopped` once `min_silence_seconds` of non-speech (from the first frame below `neg_threshold`, until a
  frame reaches `threshold` again) follow; its offset is where that silence began.
Offsets are seconds from the start of the stream's audio. Audio at another rate than 16 kHz is resampled on the way
in (`audio.PcmResampler`); offsets stay in the stream's own time.
"""

from __future__ import annotations

import collections
import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from storyloom.domain.ports.speech import VadEvent
from storyloom.engines.speech.audio import TARGET_RATE, PcmResampler, check_sample_rate, pcm16_to_float

if TYPE_CHECKING:
    import numpy.typing as npt
    import onnxruntime

FRAME_SAMPLES = 512  # at 16 kHz: 32 ms
CONTEXT_SAMPLES = 64
FRAME_SECONDS = FRAME_SAMPLES / TARGET_RATE
_STATE_SHAPE = (1, 1, 128)
# The speech onset: the start of the sound the first speech frame hears, found by walking back from that frame's
# loudest point while a 5 ms RMS envelope stays at or above ONSET_LEVEL (or NOISE_FACTOR x the recent non-speech
# level, if higher), over gaps shorter than ONSET_GAP (the closure of a "k" or "t"), at most ONSET_LOOKBACK before
# the frame (the detector's first speech frame comes 0-100 ms after the first sound).
ONSET_WINDOW = 80  # samples: 5 ms
ONSET_LEVEL = 0.002  # about -54 dBFS
NOISE_FACTOR = 3.0
ONSET_GAP = 480  # samples: 30 ms
ONSET_LOOKBACK = 3200  # samples: 0.2 s
_NOISE_FRAMES = 32  # non-speech frames the noise level is the median of


def packaged_model_path() -> Path:
    """The Silero VAD model inside the installed faster-whisper package (the newest, if there are several)."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the faster-whisper package is not installed")
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    models = sorted(assets.glob("silero*vad*.onnx"))
    if not models:
        raise FileNotFoundError(f"no Silero VAD model (silero*vad*.onnx) in {assets}")
    return models[-1]


class SileroVad:
    """A VoiceActivityDetector on Silero VAD. The thresholds and durations are those of every stream it makes."""

    name = "silero-vad"

    def __init__(self, model_path: str | Path | None = None, *, threshold: float = 0.5,
                 neg_threshold: float | None = None, min_speech_seconds: float = 0.15,
                 min_silence_seconds: float = 0.4):
        """`threshold`: a frame at or above it is speech. `neg_threshold` (default `threshold - 0.15`): below it,
        a frame is silence; frames in between continue what was going on. `min_speech_seconds`: speech shorter
        than this (a cough, a click) starts nothing. `min_silence_seconds`: the pause that ends speech.
        """
        if not 0 < threshold < 1:
            raise ValueError("threshold must be between 0 and 1")
        self.threshold = threshold
        self.neg_threshold = neg_threshold if neg_threshold is not None else max(threshold - 0.15, 0.01)
        if self.neg_threshold > threshold:
            raise ValueError("neg_threshold must not exceed threshold")
        if min_speech_seconds < 0 or min_silence_seconds <= 0:
            raise ValueError("min_speech_seconds must be >= 0 and min_silence_seconds > 0")
        self.min_speech_seconds = min_speech_seconds
        self.min_silence_seconds = min_silence_seconds
        self._model_path = Path(model_path) if model_path is not None else None
        self._session: onnxruntime.InferenceSession | None = None
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def model_path(self) -> Path:
        return self._model_path if self._model_path is not None else packaged_model_path()

    def load(self) -> onnxruntime.InferenceSession:
        """Creates the shared session once (about 20 ms); `stream()` calls it."""
        session = self._session
        if session is not None:
            return session
        with self._load_lock:
            if self._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(str(self.model_path), sess_options=options,
                                                       providers=["CPUExecutionProvider"])
                names = {model_input.name for model_input in session.get_inputs()}
                if names != {"input", "h", "c"}:
                    raise RuntimeError(f"{self.model_path} is not the Silero VAD layout faster-whisper ships "
                                       f"(inputs input, h, c); its inputs are {sorted(names)}")
                self._session = session
            return self._session

    def stream(self, sample_rate_hertz: int = TARGET_RATE) -> SileroVadStream:
        """A new, independent stream over mono PCM16 at `sample_rate_hertz` (8000..48000)."""
        check_sample_rate(sample_rate_hertz, "sample_rate_hertz")
        return SileroVadStream(self, self.load(), sample_rate_hertz)

    def speech_probabilities(self, pcm16: bytes, sample_rate_hertz: int = TARGET_RATE) -> npt.NDArray[np.float32]:
        """One probability per 32 ms frame of a whole clip (for inspection and benchmarks)."""
        stream = self.stream(sample_rate_hertz)
        stream.keep_probabilities = True
        stream.feed(pcm16)
        return np.asarray(stream.probabilities, dtype=np.float32)


class SileroVadStream:
    """The VAD state of one audio stream. Not thread-safe: feed it from one task."""

    def __init__(self, vad: SileroVad, session: onnxruntime.InferenceSession, sample_rate_hertz: int):
        self._vad = vad
        self._session = session
        self.sample_rate_hertz = sample_rate_hertz
        self._resampler = PcmResampler(sample_rate_hertz, TARGET_RATE) if sample_rate_hertz != TARGET_RATE else None
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)  # 16 kHz samples not yet in a whole frame
        self._odd_byte = b""
        self._frames = 0  # frames processed
        # The last samples judged (whole frames), enough to find where the speech the detector starts on began.
        self._history = np.zeros(0, dtype=np.float32)
        self._history_end = 0  # stream sample index just past the history (frames are judged after a batch is in)
        self._history_keep = ONSET_LOOKBACK + ONSET_WINDOW + round(vad.min_speech_seconds * TARGET_RATE) \
            + 3 * FRAME_SAMPLES
        self._noise_levels: collections.deque[float] = collections.deque(maxlen=_NOISE_FRAMES)  # RMS, non-speech
        self.in_speech = False
        self._candidate_start: float | None = None  # where possible speech began (not yet long enough)
        self._silence_start: float | None = None  # where the current pause began, while in speech
        self.last_probability = 0.0
        self.keep_probabilities = False
        self.probabilities: list[float] = []

    @property
    def processed_seconds(self) -> float:
        """Audio judged so far (whole frames), in seconds."""
        return self._frames * FRAME_SECONDS

    def feed(self, pcm16: bytes) -> list[VadEvent]:
        data = self._odd_byte + pcm16
        whole = len(data) - len(data) % 2
        self._odd_byte = data[whole:]
        samples = pcm16_to_float(data[:whole])
        if self._resampler is not None:
            samples = self._resampler.process(samples)
        if len(self._pending):
            samples = np.concatenate([self._pending, samples])
        count = len(samples) // FRAME_SAMPLES
        self._pending = samples[count * FRAME_SAMPLES:]
        if not count:
            return []
        frames = samples[:count * FRAME_SAMPLES].reshape(count, FRAME_SAMPLES)
        contexts = np.empty((count, CONTEXT_SAMPLES), dtype=np.float32)
        contexts[0] = self._context
        contexts[1:] = frames[:-1, -CONTEXT_SAMPLES:]
        batch = np.concatenate([contexts, frames], axis=1)
        probabilities, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = frames[-1, -CONTEXT_SAMPLES:].copy()
        self._history = np.concatenate([self._history, samples[:count * FRAME_SAMPLES]])  # trimmed after the steps
        self._history_end += count * FRAME_SAMPLES
        levels = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
        events: list[VadEvent] = []
        for probability, level in zip(np.asarray(probabilities, dtype=np.float32).reshape(-1), levels, strict=True):
            if not self.in_speech and probability < self._vad.neg_threshold:
                self._noise_levels.append(float(level))
            event = self._step(float(probability))
            if event is not None:
                events.append(event)
        self._history = self._history[-self._history_keep:]
        return events

    def pause_heard(self) -> bool:
        """Whether the last frame was below `neg_threshold`: a pause, perhaps the end of speech."""
        return self.last_probability < self._vad.neg_threshold

    def pause_seconds(self) -> float:
        """How long the current pause in speech has lasted (0 while speaking, or when nobody speaks)."""
        if not self.in_speech or self._silence_start is None:
            return 0.0
        return self.processed_seconds - self._silence_start

    def finish(self) -> list[VadEvent]:
        """The end of the audio: closes speech still going on (speech_stopped where the audio ends, or where its
        final pause began)."""
        if not self.in_speech:
            self._candidate_start = None
            return []
        end = self._silence_start if self._silence_start is not None else self.processed_seconds
        self.in_speech = False
        self._silence_start = self._candidate_start = None
        return [VadEvent("speech_stopped", round(end, 3))]

    def speech_onset(self, frame_start: float) -> float:
        """Where the sound heard by the speech frame starting at `frame_start` (seconds) began, to the sample; the
        frame's start when that cannot be told (the frame is quiet, or the sound goes back past the lookback)."""
        first = round(frame_start / FRAME_SECONDS) * FRAME_SAMPLES  # stream sample indices
        history_start = self._history_end - len(self._history)
        low = max(first - ONSET_LOOKBACK, history_start + ONSET_WINDOW - 1)
        high = min(first + FRAME_SAMPLES, self._history_end)
        if high <= first or low >= first:
            return frame_start
        samples = self._history[low - ONSET_WINDOW + 1 - history_start:high - history_start].astype(np.float64)
        energy = np.concatenate([[0.0], np.cumsum(np.square(samples))])
        envelope = np.sqrt(np.maximum(energy[ONSET_WINDOW:] - energy[:-ONSET_WINDOW], 0.0) / ONSET_WINDOW)
        noise = float(np.median(self._noise_levels)) if self._noise_levels else 0.0
        level = max(ONSET_LEVEL, NOISE_FACTOR * noise)
        loudest = first - low + int(np.argmax(envelope[first - low:]))
        if envelope[loudest] < level:
            return frame_start
        sounding = np.flatnonzero(envelope[:loudest + 1] >= level)
        breaks = np.flatnonzero(np.diff(sounding) > ONSET_GAP)
        onset = int(sounding[breaks[-1] + 1]) if len(breaks) else int(sounding[0])
        if not len(breaks) and onset <= ONSET_GAP:
            return frame_start  # sound all the way back: no telling where it began
        return (low + onset - ONSET_WINDOW + 1) / TARGET_RATE

    def _step(self, probability: float) -> VadEvent | None:
        vad = self._vad
        start = self._frames * FRAME_SECONDS
        self._frames += 1
        self.last_probability = probability
        if self.keep_probabilities:
            self.probabilities.append(probability)
        end = self._frames * FRAME_SECONDS
        if not self.in_speech:
            if probability >= vad.threshold:
                if self._candidate_start is None:
                    self._candidate_start = start
            elif probability < vad.neg_threshold:
                self._candidate_start = None
            if self._candidate_start is not None and end - self._candidate_start >= vad.min_speech_seconds - 1e-9:
                self.in_speech = True
                self._silence_start = None
                return VadEvent("speech_started", self.speech_onset(self._candidate_start))
            return None
        if probability >= vad.threshold:
            self._silence_start = None
        elif probability < vad.neg_threshold and self._silence_start is None:
            self._silence_start = start
        if self._silence_start is not None and end - self._silence_start >= vad.min_silence_seconds - 1e-9:
            stopped_at = self._silence_start
            self.in_speech = False
            self._silence_start = self._candidate_start = None
            return VadEvent("speech_stopped", round(stopped_at, 3))
        return None

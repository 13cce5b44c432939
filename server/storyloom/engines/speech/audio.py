"""Audio decoding for the speech engines: whatever a client sends becomes mono PCM16 at 16 kHz.

Accepted (the `AudioEncoding` values of the API, with or without their `AUDIO_ENCODING_` prefix):

- `LINEAR16`: raw 16-bit signed little-endian mono PCM at `sample_rate_hertz` (0 means 16 kHz);
- `WAV`: a RIFF/WAVE file of integer PCM (8, 16, 24 or 32 bit, any channel count) read with the stdlib `wave`
  module; float or WAVE_FORMAT_EXTENSIBLE files, which `wave` refuses on Python 3.11, go through PyAV's WAV demuxer;
- `OGG_OPUS` and `WEBM_OPUS`: Opus (or Vorbis) in an Ogg or WebM/Matroska container, decoded by PyAV (FFmpeg's
  libraries, installed with faster-whisper), which also resamples and downmixes them (libswresample).

With no encoding the container is sniffed from the first bytes (RIFF/WAVE, OggS, the EBML magic of WebM); bytes
that start like none of them are raw LINEAR16, as the API documents, unless they are recognisably some other kind of
file (MP3, FLAC, MP4, a picture...), which is refused. PyAV only ever opens the demuxer the encoding names, so
untrusted bytes are never probed against FFmpeg's whole list of formats.

Raw and WAV audio are resampled here, with numpy: a polyphase windowed-sinc (Kaiser) filter whose cutoff sits below
the lower of the two Nyquist frequencies, so downsampling does not alias. `PcmResampler` does the same on a stream
of chunks (the VAD uses it for microphones that are not at 16 kHz); one-shot and chunked resampling give the same
samples.

Every refusal is an `InvalidArgument` with a field violation and a specific reason: AUDIO_EMPTY, AUDIO_UNDECODABLE,
AUDIO_ENCODING_UNSUPPORTED, SAMPLE_RATE_UNSUPPORTED (outside 8000..48000 Hz) or AUDIO_TOO_LONG (more than
`max_seconds` of audio; decoding stops as soon as the limit is passed, so a small compressed file cannot expand
without bound).
"""

from __future__ import annotations

import io
import math
import wave
from typing import TYPE_CHECKING

import numpy as np

from storyloom.domain.errors import FieldViolation, InvalidArgument

if TYPE_CHECKING:
    import numpy.typing as npt

TARGET_RATE = 16000
MIN_RATE = 8000
MAX_RATE = 48000
MAX_AUDIO_SECONDS = 120.0

ENCODINGS = ("LINEAR16", "WAV", "OGG_OPUS", "WEBM_OPUS")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
# Files that are recognisably not one of the accepted encodings: refused instead of being read as raw PCM noise.
_OTHER_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"fLaC", "FLAC"), (0, b"ID3", "MP3"), (0, b"\xff\xfb", "MP3"), (0, b"\xff\xf3", "MP3"),
    (0, b"\xff\xf2", "MP3"), (4, b"ftyp", "MP4/M4A"), (0, b"FORM", "AIFF"), (0, b"#!AMR", "AMR"),
    (0, b"\x89PNG", "PNG image"), (0, b"\xff\xd8\xff", "JPEG image"), (0, b"GIF8", "GIF image"),
    (0, b"%PDF", "PDF document"), (0, b"PK\x03\x04", "ZIP archive"),
)


def normalize_encoding(encoding: str | None) -> str | None:
    """'LINEAR16', 'WAV', 'OGG_OPUS', 'WEBM_OPUS', or None for "detect it" (None, '', 'UNSPECIFIED')."""
    if encoding is None:
        return None
    name = encoding.strip().upper().replace("-", "_").replace("/", "_")
    name = name.removeprefix("AUDIO_ENCODING_")
    name = {"": "", "UNSPECIFIED": "", "PCM16": "LINEAR16", "PCM": "LINEAR16", "WAVE": "WAV", "OGG": "OGG_OPUS",
            "OPUS": "OGG_OPUS", "WEBM": "WEBM_OPUS"}.get(name, name)
    if name == "":
        return None
    if name not in ENCODINGS:
        raise InvalidArgument(FieldViolation("format.encoding",
                                             f"unsupported encoding {encoding!r}; use one of {', '.join(ENCODINGS)}"),
                              reason="AUDIO_ENCODING_UNSUPPORTED")
    return name


def sniff_encoding(data: bytes) -> str | None:
    """The container the bytes start with ('WAV', 'OGG_OPUS', 'WEBM_OPUS'), or None if none of them."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "WAV"
    if data[:4] == b"OggS":
        return "OGG_OPUS"
    if data[:4] == _EBML_MAGIC:
        return "WEBM_OPUS"
    return None


def check_sample_rate(sample_rate_hertz: int, field: str = "format.sample_rate_hertz") -> None:
    if not MIN_RATE <= sample_rate_hertz <= MAX_RATE:
        raise InvalidArgument(FieldViolation(field, f"sample rate {sample_rate_hertz} Hz is outside "
                                                    f"{MIN_RATE}..{MAX_RATE} Hz"),
                              reason="SAMPLE_RATE_UNSUPPORTED")


def decode_audio(data: bytes, encoding: str | None, sample_rate_hertz: int = 0, *,
                 max_seconds: float = MAX_AUDIO_SECONDS, field: str = "audio_content") -> tuple[bytes, int]:
    """Decodes `data` to mono PCM16 at 16 kHz: returns (pcm16, 16000).

    `encoding` is one of the accepted encodings, or None to detect it. `sample_rate_hertz` is the rate of LINEAR16
    audio (0 = 16000); containers carry their own rate, and a given one is ignored. `field` names the request field
    holding the bytes in errors.

    This is CPU work (about 1 ms per second of resampled audio, 3 ms for Opus): for whole uploads, call it in a
    worker thread (`asyncio.to_thread`) rather than on the event loop.
    """
    if not data:
        raise InvalidArgument(FieldViolation(field, "the audio is empty"), reason="AUDIO_EMPTY")
    if sample_rate_hertz < 0:
        check_sample_rate(sample_rate_hertz)
    name = normalize_encoding(encoding)
    if name is None:
        name = sniff_encoding(data)
        if name is None:
            for offset, magic, kind in _OTHER_MAGIC:
                if data[offset:offset + len(magic)] == magic:
                    raise InvalidArgument(
                        FieldViolation(field, f"this looks like {kind}, which is not accepted; send "
                                              f"{', '.join(ENCODINGS)}"), reason="AUDIO_ENCODING_UNSUPPORTED")
            name = "LINEAR16"
    if name == "LINEAR16":
        rate = sample_rate_hertz or TARGET_RATE
        check_sample_rate(rate)
        if len(data) % 2:
            raise InvalidArgument(FieldViolation(field, "LINEAR16 audio must have an even number of bytes "
                                                        "(2 per sample)"), reason="AUDIO_UNDECODABLE")
        _check_length(len(data) // 2 / rate, max_seconds, field)
        samples = np.frombuffer(data, dtype="<i2")
    elif name == "WAV":
        samples, rate = _read_wav(data, max_seconds, field)
    else:
        return _decode_with_av(data, name, max_seconds, field)
    pcm = to_pcm16(resample(pcm16_to_float(samples), rate, TARGET_RATE))
    if not pcm:
        raise InvalidArgument(FieldViolation(field, "the audio holds no samples"), reason="AUDIO_EMPTY")
    return pcm, TARGET_RATE


def _check_length(seconds: float, max_seconds: float, field: str) -> None:
    if seconds > max_seconds:
        raise InvalidArgument(FieldViolation(field, f"the audio is longer than {max_seconds:g} s"),
                              reason="AUDIO_TOO_LONG")


def _undecodable(field: str, what: str) -> InvalidArgument:
    return InvalidArgument(FieldViolation(field, what), reason="AUDIO_UNDECODABLE")


def _read_wav(data: bytes, max_seconds: float, field: str) -> tuple[npt.NDArray[np.int16], int]:
    """Mono int16 samples and the rate of a WAV file."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate, frames = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(),
                                             wav.getnframes())
            check_sample_rate(rate)
            _check_length(frames / rate, max_seconds, field)
            raw = wav.readframes(frames)
    except InvalidArgument:
        raise
    except wave.Error as error:
        if "unknown format" in str(error):  # float or WAVE_FORMAT_EXTENSIBLE: FFmpeg's WAV demuxer reads those
            pcm, _rate = _decode_with_av(data, "WAV", max_seconds, field)
            return np.frombuffer(pcm, dtype="<i2"), TARGET_RATE
        raise _undecodable(field, f"not a readable WAV file ({error})") from None
    except Exception as error:  # noqa: BLE001 - `wave` raises EOFError, RuntimeError, struct.error... on bad bytes
        raise _undecodable(field, f"not a readable WAV file ({type(error).__name__})") from None
    if channels < 1 or width not in (1, 2, 3, 4):
        raise _undecodable(field, f"WAV with {channels} channel(s) of {width} byte(s) is not supported")
    usable = len(raw) // (width * channels) * width * channels  # a truncated last frame is dropped
    raw = raw[:usable]
    if width == 1:  # unsigned 8-bit
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    elif width == 3:
        triplets = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        samples = (triplets[:, 0] | (triplets[:, 1] << 8) | (triplets[:, 2] << 16)) << 8 >> 16  # sign-extend
    else:
        samples = np.frombuffer(raw, dtype="<i4") >> 16
    samples = samples.reshape(-1, channels)
    mono = samples[:, 0] if channels == 1 else np.round(samples.mean(axis=1))
    return np.clip(mono, -32768, 32767).astype(np.int16), rate


def _decode_with_av(data: bytes, name: str, max_seconds: float, field: str) -> tuple[bytes, int]:
    import av

    container_format = {"WAV": "wav", "OGG_OPUS": "ogg", "WEBM_OPUS": "matroska"}[name]
    limit = int(max_seconds * TARGET_RATE)
    pieces: list[bytes] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r", format=container_format) as container:
            if not container.streams.audio:
                raise _undecodable(field, f"the {name} data holds no audio stream")
            stream = container.streams.audio[0]
            if stream.rate:
                check_sample_rate(stream.rate)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_RATE)
            for frame in container.decode(stream):
                for converted in resampler.resample(frame):
                    piece = converted.to_ndarray().tobytes()
                    total += len(piece) // 2
                    if total > limit:
                        _check_length(total / TARGET_RATE, max_seconds, field)
                    pieces.append(piece)
            for converted in resampler.resample(None):
                piece = converted.to_ndarray().tobytes()
                total += len(piece) // 2
                pieces.append(piece)
            _check_length(total / TARGET_RATE, max_seconds, field)
    except InvalidArgument:
        raise
    except av.error.FFmpegError as error:
        raise _undecodable(field, f"not readable as {name} ({error.strerror or type(error).__name__})") from None
    except Exception as error:  # noqa: BLE001 - untrusted bytes: any failure to decode them is the input's fault
        raise _undecodable(field, f"not readable as {name} ({type(error).__name__})") from None
    pcm = b"".join(pieces)
    if not pcm:
        raise InvalidArgument(FieldViolation(field, f"the {name} data holds no audio samples"),
                              reason="AUDIO_EMPTY")
    return pcm, TARGET_RATE


# --- sample conversion and resampling -----------------------------------------------------------------------------


def pcm16_to_float(samples: bytes | npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """int16 samples (or PCM16 bytes) as float32 in [-1, 1)."""
    array = np.frombuffer(samples, dtype="<i2") if isinstance(samples, (bytes, bytearray, memoryview)) else samples
    return array.astype(np.float32) / 32768.0


def to_pcm16(samples: npt.NDArray[np.floating]) -> bytes:
    """Float samples in [-1, 1] as PCM16 bytes (clipped, rounded)."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()


def resample(samples: npt.NDArray[np.float32], source_rate: int, target_rate: int) -> npt.NDArray[np.float32]:
    """One-shot resampling of float samples; the same filter (and so the same samples) as `PcmResampler`."""
    if source_rate == target_rate:
        return samples.astype(np.float32, copy=False)
    resampler = PcmResampler(source_rate, target_rate)
    return np.concatenate([resampler.process(samples), resampler.flush()])


class PcmResampler:
    """Streaming polyphase windowed-sinc resampler from `source_rate` to `target_rate` (float32 samples).

    `process(chunk)` returns the output samples the chunk completes (the filter needs `half_width` samples of look-
    ahead, so output trails input by about `zero_crossings` samples of the slower rate); `flush()` returns the rest,
    as if the input were followed by silence. Output sample j sits at input time j * source_rate / target_rate, and
    n input samples give ceil(n * target_rate / source_rate) output samples in all.
    """

    # The stream's state (see _reset): input kept from absolute index _start on, inputs and outputs so far.
    _buffer: npt.NDArray[np.float32]
    _start: int
    _received: int
    _next_output: int

    def __init__(self, source_rate: int, target_rate: int, *, zero_crossings: int = 8, kaiser_beta: float = 8.0,
                 rolloff: float = 0.92):
        if source_rate <= 0 or target_rate <= 0:
            raise ValueError("sample rates must be positive")
        gcd = math.gcd(source_rate, target_rate)
        self.up = target_rate // gcd  # phases
        self.down = source_rate // gcd  # input samples per `up` output samples
        cutoff = min(1.0, target_rate / source_rate) * rolloff  # fraction of the input's Nyquist frequency
        self.half_width = math.ceil(zero_crossings / cutoff)
        taps = np.arange(-self.half_width + 1, self.half_width + 1)  # input offsets from floor(position)
        phases = np.arange(self.up)[:, None] / self.up  # fractional part of each phase's position
        distance = phases - taps[None, :]  # position - input index
        window = np.kaiser(2 * self.half_width + 1, kaiser_beta)
        # Kaiser window evaluated at a fractional distance: interpolate the sampled window.
        window_at = np.interp(distance, np.arange(-self.half_width, self.half_width + 1), window, left=0, right=0)
        weights = cutoff * np.sinc(cutoff * distance) * window_at
        weights /= weights.sum(axis=1, keepdims=True)  # unity gain at DC for every phase
        self._weights = np.ascontiguousarray(weights.T, dtype=np.float32)  # (taps, phases)
        self._taps = len(taps)
        self._reset()
        self.passthrough = source_rate == target_rate

    def process(self, samples: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        samples = np.asarray(samples, dtype=np.float32)
        if self.passthrough:
            self._received += len(samples)
            return samples
        self._buffer = np.concatenate([self._buffer, samples])
        self._received += len(samples)
        # Output j needs input up to floor(j * down / up) + half_width.
        last_index = self._received - 1 - self.half_width
        if last_index < 0:
            return np.zeros(0, dtype=np.float32)
        end = (last_index * self.up) // self.down + 1  # outputs j with floor(j*down/up) <= last_index
        return self._emit(end)

    def flush(self) -> npt.NDArray[np.float32]:
        """The remaining output, computed as if the input ended with silence; the resampler then starts over."""
        if self.passthrough:
            return np.zeros(0, dtype=np.float32)
        total = -(-self._received * self.up // self.down)  # ceil(n * up / down)
        self._buffer = np.concatenate([self._buffer, np.zeros(self.half_width + 1, dtype=np.float32)])
        out = self._emit(total)
        self._reset()
        return out

    def _reset(self) -> None:
        # Input is kept from absolute index self._start; the stream is preceded by half_width zeros.
        self._buffer = np.zeros(self.half_width, dtype=np.float32)
        self._start = -self.half_width
        self._received = 0
        self._next_output = 0

    def _emit(self, end: int) -> npt.NDArray[np.float32]:
        if end <= self._next_output:
            return np.zeros(0, dtype=np.float32)
        out = np.empty(end - self._next_output, dtype=np.float32)
        block = 1 << 15  # outputs per pass: keeps the working arrays in cache
        for block_start in range(self._next_output, end, block):
            j = np.arange(block_start, min(end, block_start + block), dtype=np.int64)
            position = j * self.down
            phase = position % self.up
            first = position // self.up - self.half_width + 1 - self._start  # buffer index of the first tap
            acc = np.zeros(len(j), dtype=np.float32)
            for tap in range(self._taps):
                acc += self._weights[tap][phase] * self._buffer[first + tap]
            out[block_start - self._next_output:block_start - self._next_output + len(j)] = acc
        self._next_output = end
        # Drop input no later output needs.
        keep_from = (end * self.down) // self.up - self.half_width + 1
        drop = max(0, keep_from - self._start)
        if drop:
            self._buffer = self._buffer[drop:]
            self._start += drop
        return out


# --- PCM16 in, PCM16 out ------------------------------------------------------------------------------------------


def resample_pcm16(pcm: bytes, source_rate: int, target_rate: int) -> bytes:
    """Mono PCM16 at another rate (one-shot, windowed-sinc)."""
    if source_rate == target_rate:
        return pcm
    return to_pcm16(resample(pcm16_to_float(pcm), source_rate, target_rate))


class StreamResampler:
    """Resamples a stream of PCM16 chunks without edge effects between them."""

    def __init__(self, source_rate: int, target_rate: int):
        self._resampler = PcmResampler(source_rate, target_rate)

    def __call__(self, pcm: bytes) -> bytes:
        return to_pcm16(self._resampler.process(pcm16_to_float(pcm)))

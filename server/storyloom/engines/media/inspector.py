"""Upload inspection: each upload is decoded whole by the library that reads its type, within limits, before it is
stored; what does not fully decode is refused.

- Pictures (PNG, JPEG, WebP): Pillow. The header's size is checked before any pixel is decoded (at most
  `MAX_PIXELS` pixels and `MAX_SIDE` a side: a small file claiming 20000x20000 is a decompression bomb), then every
  pixel is decoded (`load`), so a valid header over broken data is refused rather than stored with its claimed size.
- WAV: the stdlib `wave` reader (integer PCM), PyAV's WAV demuxer for float and WAVE_FORMAT_EXTENSIBLE files; the
  data must hold the frames the header announces.
- Ogg, WebM and MP3: PyAV (FFmpeg's libraries) with the one demuxer the type names, every frame decoded and counted.
- `audio/L16;rate=N[;channels=C]`: raw big-endian 16-bit PCM (RFC 2586): the parameters are checked (ASCII digits
  only) and the length must be whole frames.

Audio must be `MIN_RATE`..`MAX_RATE` Hz, `MAX_CHANNELS` channels at most and `MAX_SECONDS` long at most; decoding
stops as soon as a limit is passed. Refusals are `InvalidArgument`s with a field violation and a reason:
MEDIA_CONTENT_INVALID, MEDIA_TYPE_UNSUPPORTED, IMAGE_TOO_LARGE, SAMPLE_RATE_UNSUPPORTED, CHANNELS_UNSUPPORTED,
AUDIO_TOO_LONG. Nothing of the bytes is echoed, and at most 200 characters of the content type.

This is CPU work: `MediaLibrary` calls it in a worker thread.
"""

from __future__ import annotations

import io
import re
import struct
import wave
import zlib

from storyloom.domain.errors import FieldViolation, InvalidArgument
from storyloom.domain.media import AUDIO_TYPES, DOCUMENT_TYPES, IMAGE_TYPES, Inspection
from storyloom.domain.ports import packaging
from storyloom.domain.text import clip

MAX_PIXELS = 40_000_000  # a 48-megapixel phone photo is refused; a 7000x5000 one is not
MAX_SIDE = 16384
MIN_RATE = 8000
MAX_RATE = 48000
MAX_CHANNELS = 2
MAX_SECONDS = 15 * 60.0

_AV_FORMATS = {"audio/ogg": "ogg", "audio/webm": "matroska", "audio/mpeg": "mp3", "audio/wav": "wav"}
_DIGITS = re.compile(r"[0-9]{1,9}")  # str.isdigit() also takes "²" and other digits int() refuses


_DOCUMENT_MAGIC = {"application/pdf": b"%PDF-", packaging.DOCX: b"PK\x03\x04"}


class MediaInspector:
    """Implements the domain's `MediaInspector`: decodes the bytes whole and says what they are."""

    def inspect(self, data: bytes, content_type: str, field: str = "content") -> Inspection:
        base, _, params = content_type.partition(";")
        base = base.strip().lower()
        if base in IMAGE_TYPES:
            return _picture(data, base, field)
        if base == "audio/l16":
            return _l16(data, params, field)
        if base == "audio/wav":
            return _wav(data, field)
        if base in AUDIO_TYPES:
            return _with_av(data, base, field)
        if base in DOCUMENT_TYPES:  # parsed when illustrated (under its own limits); here only its signature
            if not data.startswith(_DOCUMENT_MAGIC.get(base, b"")):
                raise _invalid(field, f"is not a {base} document")
            return Inspection(base)
        raise InvalidArgument(FieldViolation(f"{field}.content_type",
                                             f"unsupported content type {clip(base)}; accepted: "
                                             + ", ".join(sorted(IMAGE_TYPES | AUDIO_TYPES | DOCUMENT_TYPES))),
                              reason="MEDIA_TYPE_UNSUPPORTED")


def _invalid(field: str, what: str) -> InvalidArgument:
    return InvalidArgument(FieldViolation(f"{field}.data", what), reason="MEDIA_CONTENT_INVALID")


def _picture(data: bytes, base: str, field: str) -> Inspection:
    from PIL import Image

    bad = _invalid(field, f"the bytes are not a valid {base} picture")
    try:
        with Image.open(io.BytesIO(data), formats=[base.removeprefix("image/").upper()]) as image:
            width, height = image.size
            if width < 1 or height < 1:
                raise bad
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise InvalidArgument(
                    FieldViolation(f"{field}.data", f"the picture is {width}x{height}; at most {MAX_SIDE} pixels a "
                                                    f"side and {MAX_PIXELS} pixels in all are accepted"),
                    reason="IMAGE_TOO_LARGE")
            image.load()  # every pixel: a header over broken data fails here
        if base == "image/png" and not _png_rows_complete(data, width, height):
            raise bad  # Pillow fills the rows a short pixel stream lacks: count them
    except InvalidArgument:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard, should ours ever be looser
        raise InvalidArgument(FieldViolation(f"{field}.data", "the picture has too many pixels"),
                              reason="IMAGE_TOO_LARGE") from None
    except Exception:  # noqa: BLE001 -- untrusted bytes: any failure to decode them is the input's fault
        raise bad from None
    return Inspection(base, width=width, height=height)


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _png_rows_complete(data: bytes, width: int, height: int) -> bool:
    """Whether the PNG's pixel stream (its IDAT chunks, inflated) holds every row its header announces."""
    depth, color, interlace = data[24], data[25], data[28]
    bits = depth * _PNG_CHANNELS.get(color, 4)

    def row_bytes(pixels: int) -> int:
        return 1 + (pixels * bits + 7) // 8  # the filter byte, then the pixels

    if interlace:
        expected = sum(((height - y0 + dy - 1) // dy) * row_bytes((width - x0 + dx - 1) // dx)
                       for x0, y0, dx, dy in _ADAM7 if width > x0 and height > y0)
    else:
        expected = height * row_bytes(width)
    inflater, inflated, offset = zlib.decompressobj(), 0, 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            pending = data[offset + 8:offset + 8 + length]
            while pending and inflated <= expected:
                inflated += len(inflater.decompress(pending, 1 << 20))
                pending = inflater.unconsumed_tail
        offset += 12 + length
    return inflated == expected


def _check_audio(rate: int, channels: int, seconds: float, field: str) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidArgument(FieldViolation(f"{field}.data", f"sample rate {rate} Hz is outside "
                                                              f"{MIN_RATE}..{MAX_RATE} Hz"),
                              reason="SAMPLE_RATE_UNSUPPORTED")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidArgument(FieldViolation(f"{field}.data", f"{channels} channels; 1 to {MAX_CHANNELS} are "
                                                              f"accepted"), reason="CHANNELS_UNSUPPORTED")
    if seconds > MAX_SECONDS:
        raise InvalidArgument(FieldViolation(f"{field}.data", f"the audio is longer than {MAX_SECONDS:g} s"),
                              reason="AUDIO_TOO_LONG")


def _l16(data: bytes, params: str, field: str) -> Inspection:
    values: dict[str, str] = {}
    for part in params.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            values[name.strip().lower()] = value.strip()
    rate_text, channels_text = values.get("rate", ""), values.get("channels", "1")
    if not _DIGITS.fullmatch(rate_text) or not _DIGITS.fullmatch(channels_text):
        raise InvalidArgument(FieldViolation(f"{field}.content_type",
                                             f"audio/L16 needs a rate parameter from {MIN_RATE} to {MAX_RATE} (and "
                                             f"optionally channels=1 or 2), e.g. audio/L16;rate=16000"),
                              reason="SAMPLE_RATE_UNSUPPORTED")
    rate, channels = int(rate_text), int(channels_text)
    _check_audio(rate, channels, 0, field)
    if len(data) % (2 * channels):
        raise _invalid(field, f"audio/L16 data must be whole frames of {2 * channels} bytes")
    frames = len(data) // (2 * channels)
    _check_audio(rate, channels, frames / rate, field)
    suffix = f";channels={channels}" if channels != 1 else ""
    return Inspection(f"audio/L16;rate={rate}{suffix}", duration_ms=round(frames * 1000 / rate),
                      sample_rate_hertz=rate, channel_count=channels)


def _wav(data: bytes, field: str) -> Inspection:
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            rate, channels, width, frames = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(),
                                             wav.getnframes())
            _check_audio(rate, channels, 0, field)
            _check_audio(rate, channels, frames / rate, field)
            raw = wav.readframes(frames)
    except InvalidArgument:
        raise
    except wave.Error as error:
        if "unknown format" in str(error):  # float or WAVE_FORMAT_EXTENSIBLE: FFmpeg's WAV demuxer reads those
            return _with_av(data, "audio/wav", field)
        raise _invalid(field, "the bytes are not a readable WAV file") from None
    except Exception:  # noqa: BLE001 -- `wave` raises EOFError, struct.error... on bad bytes
        raise _invalid(field, "the bytes are not a readable WAV file") from None
    if width not in (1, 2, 3, 4):
        raise _invalid(field, f"WAV samples of {width} bytes are not supported")
    if frames < 1 or len(raw) != frames * width * channels:
        raise _invalid(field, "the WAV data does not hold the frames its header announces")
    return Inspection("audio/wav", duration_ms=round(frames * 1000 / rate), sample_rate_hertz=rate,
                      channel_count=channels)


def _with_av(data: bytes, base: str, field: str) -> Inspection:
    import av

    samples, rate, channels = 0, 0, 0
    try:
        with av.open(io.BytesIO(data), mode="r", format=_AV_FORMATS[base]) as container:
            if not container.streams.audio:
                raise _invalid(field, f"the {base} data holds no audio stream")
            stream = container.streams.audio[0]
            rate, channels = stream.rate or 0, stream.codec_context.layout.nb_channels
            _check_audio(rate, channels, 0, field)
            for frame in container.decode(stream):
                samples += frame.samples
                _check_audio(rate, channels, samples / rate, field)
    except InvalidArgument:
        raise
    except Exception:  # noqa: BLE001 -- untrusted bytes: any failure to decode them is the input's fault
        raise _invalid(field, f"the bytes are not readable as {base}") from None
    if samples == 0:
        raise _invalid(field, f"the {base} data holds no audio samples")
    return Inspection(base, duration_ms=round(samples * 1000 / rate), sample_rate_hertz=rate,
                      channel_count=channels)

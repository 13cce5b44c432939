"""Bytes for upload tests: good and broken pictures and audio, built here (nothing downloaded)."""

from __future__ import annotations

import io
import struct
import wave
import zlib

from PIL import Image


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int, rows: int = 4) -> bytes:
    """A well-formed PNG header claiming width x height, with only `rows` rows of pixel data: small on the wire,
    huge once decoded (a decompression bomb when the size is large)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * (rows * (width * 3 + 1)), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def png_with_broken_data() -> bytes:
    """A valid header and a pixel stream that is not zlib data (its CRC is right, so only decoding finds it)."""
    header = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"\x78\x9c" + b"\xff" * 300) + \
        _chunk(b"IEND", b"")


def wav(rate: int = 16000, seconds: float = 0.5, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x01\x00" * int(rate * seconds) * channels)
    return buffer.getvalue()


def wav_header(rate: int, channels: int = 1, frames: int = 100, data: bytes | None = None) -> bytes:
    """A RIFF/WAVE file written by hand, so it can say what `wave` would refuse to write (0 Hz, 0 channels)."""
    body = data if data is not None else b"\x00\x00" * frames * max(channels, 1)
    block = 2 * channels
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", frames * block) + body
    return b"RIFF" + struct.pack("<I", len(riff)) + riff

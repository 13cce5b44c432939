"""The containers audio goes out in: WAV headers (for files and for streams of unknown length) and Ogg/Opus."""

from __future__ import annotations

import io
import struct

import numpy as np


def wav_header(sample_rate_hertz: int, data_bytes: int | None = None) -> bytes:
    """A 44-byte header of a mono 16-bit WAV file. Without a length (a stream), the sizes say "as long as it goes"
    (0xFFFFFFFF), which players and decoders (ffmpeg, browsers, Python's wave) read to the end of the data."""
    data_size = 0xFFFFFFFF - 36 if data_bytes is None else data_bytes
    return (b"RIFF" + struct.pack("<I", min(0xFFFFFFFF, data_size + 36)) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate_hertz, sample_rate_hertz * 2, 2, 16)
            + b"data" + struct.pack("<I", data_size))


def wav_sample_rate(header: bytes) -> int:
    """The sample rate in a header `wav_header` wrote."""
    rate: int = struct.unpack_from("<I", header, 24)[0]
    return rate


def true_wav_sizes(data: bytes) -> bytes:
    """A WAV file whose header says "as long as it goes" (a saved stream) with its true RIFF and data sizes."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return data
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset:offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if chunk_id == b"data":
            actual = len(data) - offset - 8
            if size <= actual:
                return data
            return (data[:4] + struct.pack("<I", len(data) - 8) + data[8:offset + 4] + struct.pack("<I", actual)
                    + data[offset + 8:])
        offset += 8 + size + (size & 1)
    return data


class OggOpusEncoder:
    """Encodes a stream of mono PCM16 to Ogg/Opus (libopus through PyAV), handing out the bytes of each page as
    soon as the muxer writes it. Rates: 8, 12, 16, 24 or 48 kHz."""

    def __init__(self, sample_rate_hertz: int, bit_rate: int = 32000, complexity: int | None = None):
        """`complexity`: libopus's 0-10 (None: its default, 10); 5 costs about a third of the CPU of 10."""
        import av

        self._av = av
        self._out = io.BytesIO()
        self._container = av.open(self._out, "w", format="ogg")
        options = {"compression_level": str(complexity)} if complexity is not None else {}
        self._stream = self._container.add_stream("libopus", rate=sample_rate_hertz, layout="mono", options=options)
        self._stream.bit_rate = bit_rate
        self._rate = sample_rate_hertz
        self._pts = 0
        self._taken = 0

    def encode(self, pcm16: bytes) -> bytes:
        samples = np.frombuffer(pcm16, dtype="<i2").reshape(1, -1)
        frame = self._av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = self._rate, self._pts
        self._pts += samples.shape[1]
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._take()

    def finish(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._take()

    def _take(self) -> bytes:
        data = self._out.getvalue()[self._taken:]
        self._taken += len(data)
        return data

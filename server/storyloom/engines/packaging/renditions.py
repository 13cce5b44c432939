"""The MediaConverter port: smaller pictures (Pillow), a narration's Ogg/Opus preview and its AAC copy (PyAV)."""

from __future__ import annotations

import io
import wave

from storyloom.engines.images.pictures import decode_image, thumbnail
from storyloom.engines.speech.audio import resample_pcm16
from storyloom.engines.speech.containers import OggOpusEncoder

OPUS_RATE = 24000  # libopus takes 8, 12, 16, 24 or 48 kHz; piper speaks at 22 050 Hz
CHUNK_SAMPLES = 24000
# A preview is made for every scene of every story: libopus at complexity 5 takes ~0.05 CPU-s for 30 s of speech
# where its default (10) takes ~0.17 s, ~8 % of a narrated story's CPU, for a file ~10 % larger at the same bit rate.
PREVIEW_COMPLEXITY = 5


def _pcm(wav: bytes) -> tuple[bytes, int]:
    with wave.open(io.BytesIO(wav)) as reader:
        if reader.getsampwidth() != 2 or reader.getnchannels() != 1:
            raise ValueError("expected 16-bit mono WAV")
        return reader.readframes(reader.getnframes()), reader.getframerate()


class MediaRenditions:
    def scaled_png(self, picture: bytes, max_side: int) -> bytes:
        return thumbnail(picture, max_side).png

    def jpeg(self, picture: bytes, quality: int) -> bytes:
        image = decode_image(picture).convert("RGB")
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        return out.getvalue()

    def opus_preview(self, wav: bytes, seconds: float) -> tuple[bytes, int]:
        pcm, rate = _pcm(wav)
        pcm = pcm[: int(seconds * rate) * 2]
        pcm = resample_pcm16(pcm, rate, OPUS_RATE) if rate != OPUS_RATE else pcm
        encoder = OggOpusEncoder(OPUS_RATE, complexity=PREVIEW_COMPLEXITY)
        parts = [encoder.encode(pcm[i:i + CHUNK_SAMPLES * 2]) for i in range(0, len(pcm), CHUNK_SAMPLES * 2)]
        parts.append(encoder.finish())
        return b"".join(parts), round(len(pcm) / 2 * 1000 / OPUS_RATE)

    def narration_for_book(self, wav: bytes) -> bytes:
        import av
        import numpy as np

        pcm, rate = _pcm(wav)
        out = io.BytesIO()
        with av.open(out, "w", format="mp4") as container:
            stream = container.add_stream("aac", rate=rate, layout="mono")
            stream.bit_rate = 48000  # speech, mono
            samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, 0
            for packet in stream.encode(frame):
                container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return out.getvalue()

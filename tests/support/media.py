"""Media for uploads: a PNG that does not compress, a silent WAV."""

from __future__ import annotations

import io
import random
import wave

from PIL import Image


def png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    noise = random.Random(seed).randbytes(width * height * 3)  # noise: PNG cannot compress it away
    image = Image.frombytes("RGB", (width, height), noise)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def wav_bytes(seconds: float, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x01\x00" * int(seconds * rate))
    return out.getvalue()

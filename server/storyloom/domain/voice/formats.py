"""Audio as the voice API sees it: encodings, rates, language codes, and the chunks Synthesize streams."""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from storyloom.domain.errors import FieldViolation, InvalidArgument

Encoding = Literal["", "LINEAR16", "WAV", "OGG_OPUS", "WEBM_OPUS"]

STREAM_RATE = 16000  # what the VAD and the recognizer hear
MIN_RATE, MAX_RATE = 8000, 48000
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@dataclasses.dataclass(frozen=True)
class AudioFormat:
    encoding: Encoding
    sample_rate_hertz: int  # 0: the default (16000 in, the voice's own rate out)


# The format a request leaves unset: the encoding detected (or WAV out), the default rate.
DEFAULT_FORMAT = AudioFormat("", 0)


@dataclasses.dataclass(frozen=True)
class SynthesisChunk:
    data: bytes
    content_type: str
    sequence: int
    sentence: str  # set on the first chunk of a sentence
    start_seconds: float
    duration_seconds: float


def check_language(code: str, field: str) -> str:
    if code and not _LANGUAGE.fullmatch(code):
        raise InvalidArgument(FieldViolation(field, f"must be a BCP-47 language code such as 'en', got {code!r}"),
                              reason="LANGUAGE_CODE_INVALID")
    return code


def check_rate(rate: int, field: str) -> int:
    if rate and not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidArgument(FieldViolation(field, f"must be 0 or from {MIN_RATE} to {MAX_RATE}, got {rate}"),
                              reason="SAMPLE_RATE_UNSUPPORTED")
    return rate


def pcm_seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate

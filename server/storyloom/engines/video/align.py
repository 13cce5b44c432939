"""When each sentence of a narration starts: the pauses the narrator put between its sentences, found in the audio.

The piper narrator speaks sentence by sentence and joins them with pauses of digital silence (exact zeros, at least
0.25 s; twice that between paragraphs), so a run of zeros that long is a sentence boundary. When the runs and the
sentences do not pair up one to one (a narration from another engine, a sentence cut in two), each sentence's start
is estimated from its share of the letters, then moved to the nearest pause end within `SNAP_SECONDS`.
"""

from __future__ import annotations

import io
import re
import wave

import numpy as np

from storyloom.domain.ports.video import Cue
from storyloom.engines.speech.sentences import split_sentences

MIN_PAUSE_SECONDS = 0.18
SNAP_SECONDS = 1.5
QUIET = 2  # |sample| at most this counts as silence (16-bit)
_SPEAKABLE = re.compile(r"\w")


class PauseAligner:
    name = "pauses"

    def sentences(self, text: str, wav: bytes) -> list[Cue]:
        sentences = [s for block in re.split(r"\n\s*\n", text) if _SPEAKABLE.search(block)
                     for s in split_sentences(block)]
        if not sentences:
            return []
        with wave.open(io.BytesIO(wav)) as reader:
            rate = reader.getframerate()
            samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
        spans = speech_spans(samples, rate)
        if not spans:
            return []
        bounds = spans if len(spans) == len(sentences) else _estimate(sentences, spans, rate)
        return [Cue(round(start * 1000 / rate), round(end * 1000 / rate), sentence)
                for sentence, (start, end) in zip(sentences, bounds, strict=True)]


def speech_spans(samples: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """(start, end) sample indices of the sounds between pauses of at least MIN_PAUSE_SECONDS of silence."""
    loud = np.abs(samples.astype(np.int32)) > QUIET
    if not loud.any():
        return []
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))  # the last index before each change
    starts = [0] if loud[0] else []
    ends: list[int] = []
    for edge in edges:
        (ends if loud[edge] else starts).append(int(edge) + 1)
    if loud[-1]:
        ends.append(len(samples))
    spans: list[tuple[int, int]] = []
    min_pause = MIN_PAUSE_SECONDS * rate
    for start, end in zip(starts, ends, strict=True):
        if spans and start - spans[-1][1] < min_pause:
            spans[-1] = (spans[-1][0], end)  # a short quiet inside a sentence
        else:
            spans.append((start, end))
    return spans


def _estimate(sentences: list[str], spans: list[tuple[int, int]], rate: int) -> list[tuple[int, int]]:
    """Sentence bounds from letter counts, each start snapped to the nearest pause end."""
    first, last = spans[0][0], spans[-1][1]
    weights = np.array([max(1, len(s)) for s in sentences], dtype=np.float64)
    edges = first + (last - first) * np.concatenate(([0.0], np.cumsum(weights) / weights.sum()))
    pause_ends = np.array([start for start, _ in spans[1:]])
    starts = [first]
    for guess in edges[1:-1]:
        start = int(guess)
        if len(pause_ends):
            nearest = int(pause_ends[np.argmin(np.abs(pause_ends - guess))])
            if abs(nearest - guess) <= SNAP_SECONDS * rate and nearest > starts[-1]:
                start = nearest
        starts.append(max(start, starts[-1] + 1))
    ends = [_speech_end_before(spans, nxt) for nxt in starts[1:]] + [last]
    return list(zip(starts, ends, strict=True))


def _speech_end_before(spans: list[tuple[int, int]], position: int) -> int:
    ends = [end for _, end in spans if end <= position]
    return ends[-1] if ends else position

"""The story video's plan, without rendering: where each clip starts, the WebVTT file, the sentence timings found
in a narration's pauses."""

from __future__ import annotations

import io
import wave

import numpy as np

from storyloom.domain import videos
from storyloom.domain.ports.video import Cue
from storyloom.engines.video.align import PauseAligner

RATE = 22_050


def test_clips_start_after_the_title_card_each_overlapping_the_one_before_by_a_fade():
    starts = videos.timeline([4000, 6000, 5000])
    fade = videos.FADE_MS
    assert starts == [videos.TITLE_MS - fade, videos.TITLE_MS + 4000 - 2 * fade,
                      videos.TITLE_MS + 10_000 - 3 * fade]


def test_webvtt_has_a_header_numbered_cues_and_millisecond_timestamps_and_keeps_arrows_out_of_the_text():
    data = videos.webvtt([Cue(500, 2250, "Pip woke up."), Cue(3_723_004, 3_724_000, "Then --> home.")])
    assert data.decode() == ("WEBVTT\n\n1\n00:00:00.500 --> 00:00:02.250\nPip woke up.\n\n"
                             "2\n01:02:03.004 --> 01:02:04.000\nThen -> home.\n")


def narration(parts: list[tuple[float, float]]) -> tuple[bytes, list[int]]:
    """A WAV of tones and digital silences ((seconds of sound, seconds of pause) each), as piper's narration joins
    its sentences; returns it and where each sound starts (ms)."""
    samples, starts = [], []
    position = 0
    for sound, pause in parts:
        starts.append(round(position * 1000 / RATE))
        count = int(sound * RATE)
        tone = (np.sin(np.arange(count) * 2 * np.pi * 220 / RATE) * 8000).astype("<i2")
        tone[::50] = 0  # zeros inside speech are not pauses
        samples += [tone, np.zeros(int(pause * RATE), dtype="<i2")]
        position += count + int(pause * RATE)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(np.concatenate(samples).tobytes())
    return out.getvalue(), starts


def test_each_sentence_starts_where_the_sound_after_a_pause_starts():
    wav, starts = narration([(1.2, 0.3), (2.0, 0.6), (0.8, 0.0)])
    cues = PauseAligner().sentences("Pip woke up. The rain had stopped!\n\nShe ran outside.", wav)
    assert [c.text for c in cues] == ["Pip woke up.", "The rain had stopped!", "She ran outside."]
    assert [c.start_ms for c in cues] == starts
    assert all(c.end_ms < n.start_ms for c, n in zip(cues, cues[1:], strict=False))


def test_without_one_pause_per_sentence_starts_are_estimated_from_the_letters_and_snapped_to_pauses():
    # Three sentences, but the narrator left no pause between the last two.
    wav, starts = narration([(1.0, 0.4), (3.0, 0.0)])
    cues = PauseAligner().sentences("One small step. Then two more small steps. And three more.", wav)
    assert len(cues) == 3
    assert cues[0].start_ms == starts[0] and cues[1].start_ms == starts[1]  # snapped to the pause
    assert starts[1] < cues[2].start_ms < 4400  # estimated inside the last sound


def test_silence_or_no_words_give_no_captions():
    silent, _ = narration([(0.0, 1.0)])
    assert PauseAligner().sentences("Some words.", silent) == []
    wav, _ = narration([(1.0, 0.0)])
    assert PauseAligner().sentences("...", wav) == []

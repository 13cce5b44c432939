"""SileroVad with the real Silero model from faster-whisper, on speech synthesized by the piper narrator."""

from __future__ import annotations

import numpy as np
import pytest

from storyloom.domain.errors import InvalidArgument
from storyloom.domain.ports.speech import VadEvent
from storyloom.engines.speech.audio import decode_audio, pcm16_to_float, resample, to_pcm16
from storyloom.engines.speech.piper_tts import PiperNarrator
from storyloom.engines.speech.vad import SileroVad, packaged_model_path

FIRST = "The little fox found a shiny red apple under the old oak tree."
SECOND = "Then she ran home to show her mother."
TOLERANCE = 0.3  # seconds between an event and where the speech really starts or ends


def silence(seconds: float, rate: int = 16000) -> bytes:
    return bytes(2 * int(seconds * rate))


def loud_span(pcm: bytes) -> tuple[float, float]:
    """Where the audible part of a 16 kHz clip starts and ends, in seconds (samples above ~-30 dBFS)."""
    loud = np.nonzero(np.abs(np.frombuffer(pcm, dtype="<i2")) > 1000)[0]
    return loud[0] / 16000, (loud[-1] + 1) / 16000


@pytest.fixture(scope="module")
async def speech() -> dict[str, bytes]:
    """Each sentence as piper speaks it, at 16 kHz, without piper's random variation: the same samples every run (a
    varied 60 ms blip was once too short a vowel for even a zero minimum to call speech)."""
    narrator = PiperNarrator(noise_scale=0.0, noise_w_scale=0.0)
    clips = {}
    for sentence in (FIRST, SECOND):
        pcm = b"".join([pcm async for _sentence, pcm in narrator.synthesize_sentences(sentence)])
        clips[sentence] = decode_audio(pcm, "LINEAR16", 22050)[0]
    await narrator.aclose()
    return clips


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    vad = SileroVad()
    vad.load()
    return vad


def run(vad: SileroVad, pcm: bytes, chunk_bytes: int = 640, rate: int = 16000) -> list[VadEvent]:
    """Feeds the clip in chunks (20 ms by default, as a microphone sends it), then ends the stream."""
    stream = vad.stream(rate)
    events = []
    for start in range(0, len(pcm), chunk_bytes):
        events += stream.feed(pcm[start:start + chunk_bytes])
    return events + stream.finish()


def kinds(events: list[VadEvent]) -> list[str]:
    return [event.kind for event in events]


def test_the_model_is_the_one_inside_faster_whisper() -> None:
    path = packaged_model_path()

    assert path.suffix == ".onnx" and "faster_whisper" in path.parts and path.stat().st_size > 100_000


def test_silence_and_quiet_noise_give_no_events(vad: SileroVad) -> None:
    noise = np.random.default_rng(0).normal(0, 200, 16000 * 3).astype("<i2").tobytes()

    assert run(vad, silence(3.0)) == []
    assert run(vad, noise) == []


def test_speech_between_silences_gives_one_start_and_one_stop_where_the_speech_is(
        vad: SileroVad, speech: dict[str, bytes]) -> None:
    clip = silence(1.0) + speech[FIRST] + silence(1.0)
    start, end = loud_span(clip)

    events = run(vad, clip)

    assert kinds(events) == ["speech_started", "speech_stopped"]
    assert events[0].offset_seconds == pytest.approx(start, abs=TOLERANCE)
    assert events[1].offset_seconds == pytest.approx(end, abs=TOLERANCE)


def test_two_utterances_a_second_apart_give_two_pairs_of_events(vad: SileroVad, speech: dict[str, bytes]) -> None:
    first = silence(0.5) + speech[FIRST]
    clip = first + silence(1.0) + speech[SECOND] + silence(1.0)
    first_span = loud_span(first)
    second_span = loud_span(clip[len(first) + len(silence(0.5)):])  # from inside the pause on
    second_span = tuple(t + (len(first) + len(silence(0.5))) / 2 / 16000 for t in second_span)

    events = run(vad, clip)

    assert kinds(events) == ["speech_started", "speech_stopped"] * 2
    offsets = [event.offset_seconds for event in events]
    assert offsets == pytest.approx([*first_span, *second_span], abs=TOLERANCE)


def test_speech_stopped_comes_as_soon_as_the_pause_is_long_enough(vad: SileroVad, speech: dict[str, bytes]) -> None:
    clip = silence(0.5) + speech[FIRST] + silence(2.0)
    stream = vad.stream()
    heard_at = {}
    for start in range(0, len(clip), 1024):  # 32 ms chunks
        for event in stream.feed(clip[start:start + 1024]):
            heard_at[event.kind] = (event.offset_seconds, stream.processed_seconds)

    offset, when = heard_at["speech_stopped"]
    assert offset + vad.min_silence_seconds <= when + 1e-6
    assert when <= offset + vad.min_silence_seconds + 0.07  # within about two frames of the rule
    offset, when = heard_at["speech_started"]
    # (the offset is where the sound began, which the detector's first speech frame may hear up to ~0.1 s late)
    assert when <= offset + vad.min_speech_seconds + 0.07 + 0.1


def test_a_short_pause_inside_speech_does_not_end_it_unless_configured_shorter(
        vad: SileroVad, speech: dict[str, bytes]) -> None:
    clip = silence(0.5) + speech[FIRST] + speech[SECOND] + silence(1.0)  # piper's own ~0.3 s between them

    default = run(vad, clip)
    eager = run(SileroVad(min_silence_seconds=0.1), clip)

    assert kinds(default) == ["speech_started", "speech_stopped"]
    assert len(eager) >= 4 and kinds(eager)[:2] == ["speech_started", "speech_stopped"]


def test_a_blip_shorter_than_the_minimum_speech_starts_nothing(vad: SileroVad, speech: dict[str, bytes]) -> None:
    signal = np.frombuffer(speech[FIRST], dtype="<i2").astype(np.float64)
    energy = np.convolve(signal ** 2, np.ones(960), mode="valid")
    loudest = int(np.argmax(energy))
    samples = speech[FIRST][2 * loudest:2 * (loudest + 960)]  # the loudest 60 ms: surely a bit of a vowel
    clip = silence(1.0) + samples + silence(1.0)

    assert run(vad, clip) == []
    assert kinds(run(SileroVad(min_speech_seconds=0.0), clip)) == ["speech_started", "speech_stopped"]


def test_events_do_not_depend_on_how_the_audio_is_chunked(vad: SileroVad, speech: dict[str, bytes]) -> None:
    clip = silence(0.7) + speech[SECOND] + silence(0.8)

    whole = run(vad, clip, chunk_bytes=len(clip))

    assert len(whole) == 2
    assert run(vad, clip, chunk_bytes=333) == whole  # odd sizes split samples between chunks
    assert run(vad, clip, chunk_bytes=3200) == whole


def test_speech_starts_at_the_same_sample_of_the_speech_wherever_the_frames_fall(
        vad: SileroVad, speech: dict[str, bytes]) -> None:
    """The frames fall on the speech wherever the audio before it puts them; the start is where the sound began,
    refined to the sample, not the first speech frame's start (which moves with them)."""
    clip = speech[FIRST]
    first_sound = int(np.nonzero(np.abs(np.frombuffer(clip, dtype="<i2")) > 30)[0][0])  # ~-60 dBFS
    onsets = set()
    for shift in range(0, 512, 64):  # samples: 4 ms steps across a whole frame
        lead = silence(0.5) + bytes(2 * shift)
        events = run(vad, lead + clip + silence(1.0), chunk_bytes=3200)
        assert kinds(events) == ["speech_started", "speech_stopped"]
        onsets.add(events[0].offset_seconds * 16000 - len(lead) // 2)  # samples into the clip

    assert len(onsets) == 1, sorted(onsets)
    onset = onsets.pop()
    assert onset == round(onset)  # a sample
    assert abs(onset - first_sound) <= 0.02 * 16000


def test_streams_are_independent(vad: SileroVad, speech: dict[str, bytes]) -> None:
    talk = silence(0.5) + speech[FIRST] + silence(1.0)
    quiet = silence(len(talk) / 2 / 16000)
    talking, silent = vad.stream(), vad.stream()
    talking_events, silent_events = [], []

    for start in range(0, len(talk), 640):  # interleaved, as two conversations would be
        talking_events += talking.feed(talk[start:start + 640])
        silent_events += silent.feed(quiet[start:start + 640])

    assert silent_events == []
    assert talking_events == run(vad, talk)


@pytest.mark.parametrize("rate", [8000, 44100])
def test_a_stream_at_another_rate_gives_the_same_offsets(vad: SileroVad, speech: dict[str, bytes], rate: int) -> None:
    clip = silence(1.0) + speech[FIRST] + silence(1.0)
    converted = to_pcm16(resample(pcm16_to_float(clip), 16000, rate))

    reference = run(vad, clip)
    events = run(vad, converted, chunk_bytes=2 * rate // 50, rate=rate)

    assert kinds(events) == kinds(reference)
    assert [event.offset_seconds for event in events] == pytest.approx(
        [event.offset_seconds for event in reference], abs=0.1)


def test_finishing_a_stream_mid_speech_stops_the_speech(vad: SileroVad, speech: dict[str, bytes]) -> None:
    stream = vad.stream()

    events = stream.feed(silence(0.5) + speech[FIRST])
    assert kinds(events) == ["speech_started"] and stream.in_speech

    final = stream.finish()
    assert kinds(final) == ["speech_stopped"] and not stream.in_speech
    assert final[0].offset_seconds == pytest.approx(0.5 + len(speech[FIRST]) / 2 / 16000, abs=TOLERANCE)


def test_unsupported_rates_and_thresholds_are_refused(vad: SileroVad) -> None:
    with pytest.raises(InvalidArgument):
        vad.stream(4000)
    with pytest.raises(ValueError):
        SileroVad(threshold=0.3, neg_threshold=0.4)

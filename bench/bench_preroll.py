"""Benchmark: how much audio before the speech onset the final transcription should hear (VoiceLimits.pre_roll_seconds).

    .venv/bin/python bench/bench_preroll.py [--renditions 6] [--pre-rolls 0.1,0.2,0.3,0.35,0.4,0.5] [--show]

Each of bench_voice's 12 questions and the 8 test sentences is synthesized `--renditions` times with piper's own
random variation, cycling through three voices (the default; faster and quieter; slower), and streamed as Converse
hears it: digital silence of a random length (so the detector's 32 ms frames fall anywhere on the speech), the clip,
silence; in 100 ms chunks through Silero VAD. The utterance is then cut the way the final pass cuts it: from the
detector's speech start minus the pre-roll to its speech stop plus the 0.2 s post-roll, and transcribed by the final
pass (tiny.en, 10 s window) with the texts before it as context. The start is the refined speech onset (vad.py,
`speech_onset`), the same sample of the speech whatever the frames' phase; the column `frame-0.30` is the start
before that refinement (the first speech frame's start minus 0.3 s, what main did), at this rendition's phase.
Prints, per start: wrong transcripts (any word different, after tests/support/transcripts.py's normalisation) and
word errors over all words; the wrong ones with --show.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_voice import QUESTIONS

from storyloom.engines.speech.piper_tts import PiperNarrator
from storyloom.engines.speech.stt import WhisperSpeechToText
from storyloom.engines.speech.vad import SileroVad
from tests.support.transcripts import SENTENCES, same_words, word_errors
from tests.support.voice import RATE, silence, speech

POST_ROLL_SECONDS = 0.2
FRAME_PRE_ROLL_SECONDS = 0.3  # main's cut: the first speech frame's start minus this
CHUNK_BYTES = 3200  # 100 ms, as the benchmark clients send
VOICES = ((None, 1.0), (0.9, 0.6), (1.15, 1.0))  # (length_scale, volume) of the renditions, in turn
CONTEXT_WORDS = 80


def detect(vad: SileroVad, stream: bytes) -> tuple[float, float, float] | None:
    """(refined speech onset, first speech frame's start, speech stop), seconds into `stream`, of its first
    utterance; None if the detector heard none."""
    frame_starts: list[float] = []
    detector = vad.stream(RATE)
    onset_of = detector.speech_onset

    def noted(frame_start: float) -> float:
        frame_starts.append(frame_start)
        return onset_of(frame_start)

    detector.speech_onset = noted  # type: ignore[method-assign]
    events = []
    for at in range(0, len(stream), CHUNK_BYTES):
        events += detector.feed(stream[at:at + CHUNK_BYTES])
    events += detector.finish()
    starts = [e.offset_seconds for e in events if e.kind == "speech_started"]
    stops = [e.offset_seconds for e in events if e.kind == "speech_stopped"]
    if not starts or not stops:
        return None
    return starts[0], frame_starts[0], stops[0]


def cut(stream: bytes, start: float, end: float) -> bytes:
    first = max(0, round(start * RATE)) * 2
    return stream[first:max(first, round(end * RATE) * 2)]


async def main(renditions: int, pre_rolls: list[float], show: bool, seed: int) -> None:
    stt = WhisperSpeechToText(window_seconds=10.0)
    await stt.warm_up()
    vad = SileroVad(min_silence_seconds=0.4)
    voices = [PiperNarrator(length_scale=length, volume=volume) for length, volume in VOICES]
    texts = [(text, " ".join(QUESTIONS[:i])) for i, text in enumerate(QUESTIONS)]
    texts += [(text, " ".join(SENTENCES[:i])) for i, text in enumerate(SENTENCES)]
    starts = [f"onset-{p:.2f}" for p in pre_rolls] + [f"frame-{FRAME_PRE_ROLL_SECONDS:.2f}"]
    right: dict[str, list[bool]] = {name: [] for name in starts}  # per utterance, in order
    errors = dict.fromkeys(starts, 0)
    words = clips = undetected = 0
    rng = random.Random(seed)
    began = time.perf_counter()
    try:
        for rendition in range(renditions):
            voice = voices[rendition % len(voices)]
            for text, said_before in texts:
                context = " ".join(said_before.split()[-CONTEXT_WORDS:])
                lead = 0.4 + rng.randrange(0, 64) / 1000  # 1 ms steps: every phase of the detector's frames
                stream = silence(lead) + await speech(voice, text) + silence(0.8)
                detected = detect(vad, stream)
                if detected is None:
                    undetected += 1
                    continue
                onset, frame_start, stop = detected
                clips += 1
                words += word_errors([text], [text])[1]
                for name in starts:
                    start = (frame_start - FRAME_PRE_ROLL_SECONDS if name.startswith("frame")
                             else onset - float(name.split("-")[1]))
                    audio = cut(stream, start, stop + POST_ROLL_SECONDS)
                    heard = (await stt.transcribe_partial(audio, RATE, final=True, context=context)).text
                    errors[name] += word_errors([text], [heard])[0]
                    right[name].append(same_words(text, heard))
                    if not right[name][-1] and show:
                        print(f"  {name}: said {text!r}, heard {heard!r} (onset {onset - lead:.3f} s into "
                              f"the clip, frame {frame_start - lead:.3f} s)", flush=True)
            print(f"rendition {rendition + 1} of {renditions} done ({time.perf_counter() - began:.0f} s)", flush=True)
    finally:
        for voice in voices:
            await voice.aclose()
        await stt.aclose()
    print(f"\n{clips} utterances ({words} words; {undetected} the detector missed), final pass with context; "
          f"against {starts[-1]}, the utterances only this start / only that one heard right:")
    reference = right[starts[-1]]
    for name in starts:
        wrong = right[name].count(False)
        gained = sum(this and not that for this, that in zip(right[name], reference, strict=True))
        lost = sum(that and not this for this, that in zip(right[name], reference, strict=True))
        print(f"  start {name:<11} wrong transcripts {wrong:3d} of {clips}   word errors {errors[name]:3d} "
              f"({errors[name] / max(words, 1) * 100:.2f} %)   {gained:3d} / {lost:3d}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renditions", type=int, default=6)
    parser.add_argument("--pre-rolls", default="0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.5",
                        help="seconds before the refined onset, comma-separated")
    parser.add_argument("--show", action="store_true", help="print every wrong transcript")
    parser.add_argument("--seed", type=int, default=16, help="of the leading silences (piper's noise is not seeded)")
    args = parser.parse_args()
    asyncio.run(main(args.renditions, [float(p) for p in args.pre_rolls.split(",")], args.show, args.seed))

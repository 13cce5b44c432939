"""Benchmark of PiperNarrator (not a test): voice load time, real-time factor, first-sentence latency.

    .venv/bin/python bench/bench_narrator.py [--runs 5] [--threads N] [--concurrency N]

Real-time factor = synthesis time / audio duration (0.05 means one second of speech takes 50 ms).
First-sentence latency = from calling synthesize_sentences() on a warm voice to receiving the first sentence's PCM.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from storyloom.engines.speech import PiperNarrator

STORY = (
    "Once upon a time, at the edge of a quiet forest, there lived a little fox named Pip. "
    "Every morning she ran down to the river to say hello to her friend the frog. "
    "One day the river was gone, and only smooth grey stones were left where the water had been. "
    "\"Where did the river go?\" asked Pip. The frog shrugged and pointed up the hill. "
    "So the two friends set off together, hopping and trotting, to find out what had happened. "
    "At the top of the hill they found a beaver's dam, and a very sorry beaver. "
    "\"I only wanted a bigger pond,\" said the beaver. Pip smiled and helped him open a little gate. "
    "By evening the river sang again, and all three friends splashed in it until the stars came out."
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads per synthesis")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()

    narrator = PiperNarrator(max_concurrency=args.concurrency, threads_per_synthesis=args.threads)
    started = time.perf_counter()
    await narrator.warm_up()
    print(f"voice load + warm-up: {time.perf_counter() - started:.2f} s "
          f"(load alone {narrator.load_seconds:.2f} s; {narrator.threads_per_synthesis} thread(s) per synthesis, "
          f"{narrator.max_concurrency} at once)")

    rtfs, firsts, totals = [], [], []
    rate = narrator.sample_rate_hertz
    for _ in range(args.runs):
        started = time.perf_counter()
        first = None
        samples = 0
        sentences = 0
        async for _sentence, pcm in narrator.synthesize_sentences(STORY):
            if first is None:
                first = time.perf_counter() - started
            samples += len(pcm) // 2
            sentences += 1
        elapsed = time.perf_counter() - started
        audio = samples / rate
        rtfs.append(elapsed / audio)
        firsts.append(first or 0.0)
        totals.append(elapsed)
    print(f"story: {len(STORY.split())} words, {sentences} sentences, {audio:.1f} s of audio at {rate} Hz")
    print(f"real-time factor: median {statistics.median(rtfs):.3f} (best {min(rtfs):.3f}, worst {max(rtfs):.3f}) "
          f"over {args.runs} runs; whole story synthesized in {statistics.median(totals):.2f} s")
    print(f"first-sentence latency: median {statistics.median(firsts) * 1000:.0f} ms "
          f"(best {min(firsts) * 1000:.0f} ms, worst {max(firsts) * 1000:.0f} ms)")

    short = "Good night, little fox."
    latencies = []
    for _ in range(args.runs):
        started = time.perf_counter()
        await narrator.narrate(short)
        latencies.append(time.perf_counter() - started)
    print(f"narrate({short!r}): median {statistics.median(latencies) * 1000:.0f} ms")
    await narrator.aclose()


if __name__ == "__main__":
    asyncio.run(main())

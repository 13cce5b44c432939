"""Where a story's CPU goes: one 5-scene illustrated, narrated story on the offline engines (as bench_story.py runs
it), with the CPU-heavy steps that run in worker threads wrapped to add up their calls, wall seconds and the CPU
seconds of the thread that ran them (time.thread_time). The rest of the process's CPU (the event loop, the
database's threads, gRPC, and onnxruntime's own pool threads when a synthesis has more than one) is "elsewhere".

    .venv/bin/python bench/profile_story.py [--concurrency 2] [--scenes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_story

from storyloom import app as app_module
from storyloom.domain import media as media_module
from storyloom.engines.images.procedural import ProceduralIllustrator
from storyloom.engines.media.inspector import MediaInspector
from storyloom.engines.packaging.renditions import MediaRenditions
from storyloom.engines.speech import piper_tts

# step -> [calls, wall seconds, thread CPU seconds]
TOTALS: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
# step -> [(started, ended)] (perf_counter), for the packing figures
SPANS: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
_lock = threading.Lock()


def counted(step: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            with _lock:
                SPANS[step].append((wall, time.perf_counter()))
                total = TOTALS[step]
                total[0] += 1
                total[1] += time.perf_counter() - wall
                total[2] += time.thread_time() - cpu
    return wrapper


def instrument() -> None:
    piper_tts.PiperNarrator._synthesize_blocking = counted(  # type: ignore[method-assign]
        "piper synthesis (calling thread)", piper_tts.PiperNarrator._synthesize_blocking)
    piper_tts.normalize = counted("loudness normalize", piper_tts.normalize)
    piper_tts._trim_silence = counted("trim silence", piper_tts._trim_silence)
    piper_tts.wav_bytes = counted("wav container", piper_tts.wav_bytes)
    ProceduralIllustrator.illustrate_now = counted(  # type: ignore[method-assign]
        "picture painting + PNG", ProceduralIllustrator.illustrate_now)
    MediaInspector.inspect = counted("media inspect (decode)", MediaInspector.inspect)  # type: ignore[method-assign]
    app_module.thumbnail = counted("thumbnail (on store)", app_module.thumbnail)
    MediaRenditions.scaled_png = counted("rendition: medium PNG", MediaRenditions.scaled_png)  # type: ignore[method-assign]
    MediaRenditions.opus_preview = counted("rendition: Opus preview", MediaRenditions.opus_preview)  # type: ignore[method-assign]
    real_sha256 = media_module.hashlib.sha256

    class _Hashlib:
        sha256 = staticmethod(counted("sha256 (media)", real_sha256))
    media_module.hashlib = _Hashlib  # type: ignore[assignment]


def cpu_by_thread() -> dict[int, float]:
    """CPU seconds of each of this process's threads (Python's or not), by native id."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def packing(lanes: int) -> None:
    """How well the sentences fill the lanes (lane-seconds with no sentence, from the first sentence to the last),
    and what runs after the last sentence (to the end of the last normalize or rendition): figures of this
    pipeline's scheduling that other processes' load changes less than wall times."""
    sentences = sorted(SPANS["piper synthesis (calling thread)"])
    if not sentences:
        return
    first, last = sentences[0][0], max(end for _, end in sentences)
    busy = sum(end - start for start, end in sentences)
    after = [end for step, spans in SPANS.items() for _, end in spans if not step.startswith("piper")]
    print(f"  sentences from {0:.2f} to {last - first:.2f} s: lane-seconds idle {lanes * (last - first) - busy:.2f} "
          f"of {lanes * (last - first):.2f}; work after the last sentence: {max(after, default=last) - last:.2f} s")


async def main(scenes: int, concurrency: int) -> None:
    instrument()
    await bench_story.one_story(scenes, concurrency)  # warm: imports, first-call costs
    TOTALS.clear()
    SPANS.clear()
    threads_before = cpu_by_thread()
    cpu = time.process_time()
    loop_cpu = time.thread_time()
    timing = await bench_story.one_story(scenes, concurrency)
    loop_cpu = time.thread_time() - loop_cpu
    cpu = time.process_time() - cpu
    print(f"concurrency {concurrency}: first scene {timing.first_scene:.2f} s, whole {timing.whole:.2f} s, "
          f"process CPU {cpu:.2f} s (bench window {timing.cpu:.2f} s), load {bench_story.load()}")
    print(f"  {'step':36} {'calls':>5} {'wall s':>7} {'thread CPU s':>12}")
    measured = 0.0
    for step, (calls, wall, thread_cpu) in sorted(TOTALS.items(), key=lambda kv: -kv[1][2]):
        measured += thread_cpu
        print(f"  {step:36} {int(calls):5d} {wall:7.2f} {thread_cpu:12.2f}")
    print(f"  {'event loop thread (all of it)':36} {'':5} {'':7} {loop_cpu:12.2f}")
    print(f"  {'elsewhere (ORT pool, DB, gRPC...)':36} {'':5} {'':7} {cpu - measured - loop_cpu:12.2f}")
    packing(concurrency)
    names = {t.native_id: t.name for t in threading.enumerate()}
    spent = sorted(((after - threads_before.get(tid, 0.0), tid) for tid, after in cpu_by_thread().items()),
                   reverse=True)
    print("  threads by CPU seconds (ended threads are missing): " + ", ".join(
        f"{names.get(tid, tid)} {seconds:.2f}" for seconds, tid in spent[:8] if seconds > 0))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=min(4, os.cpu_count() or 1))
    args = parser.parse_args()
    asyncio.run(main(args.scenes, args.concurrency))

"""Benchmark: do the story's CPU engines run in parallel in threads (do they release the GIL)?

Two narrations of one scene (piper/onnxruntime) and two pictures (the procedural Pillow painter), each made one
after the other and then in two threads at once, in the same run; the ratio sequential / threads is about 2 for
work that releases the GIL on 2 free cores, about 1 (or less) for work that holds it. Narration is measured with
one onnxruntime thread per synthesis and with two (one synthesis on both cores: main's setting before issue 17).

    .venv/bin/python bench/bench_gil.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from storyloom.domain.ports.story import SceneText
from storyloom.domain.requirements import StoryRequirements, with_defaults
from storyloom.engines.images.procedural import ProceduralIllustrator
from storyloom.engines.speech.piper_tts import PiperNarrator

SCENE = ("Luna the little fox walked into the enchanted forest. The trees were tall and the moss was soft. "
         "She heard a song far away, and she followed it past the river, over the stones and up the hill. ") * 3


def sequential_and_threaded(work: Callable[[], object]) -> tuple[float, float, float]:
    """Seconds for two runs of `work` one after the other, and in two threads at once; and the CPU seconds this
    process used per second while the two threads ran: work that holds the GIL cannot pass 1 (whatever the load),
    work that releases it can reach the cores it gets."""
    started = time.perf_counter()
    work()
    work()
    sequential = time.perf_counter() - started
    with ThreadPoolExecutor(2) as pool:
        started, cpu = time.perf_counter(), time.process_time()
        list(pool.map(lambda _: work(), range(2)))
        threaded = time.perf_counter() - started
        return sequential, threaded, (time.process_time() - cpu) / threaded


def narration(threads: int) -> Callable[[], object]:
    narrator = PiperNarrator(threads_per_synthesis=threads)
    voice, narrator._syn_config = narrator._load()  # the blocking calls the narrator makes in its worker threads
    sentences = narrator.split_sentences(SCENE)
    return lambda: [narrator._synthesize_blocking(voice, s) for s in sentences]


def picture() -> Callable[[], object]:
    painter, requirements = ProceduralIllustrator(), with_defaults(StoryRequirements())
    scene = SceneText("The forest", SCENE, "cozy", "a fox in a forest")
    return lambda: painter.illustrate_now(scene, requirements, width=768, height=512)


def main(rounds: int) -> None:
    print(f"{os.cpu_count()} cores, load average before {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    works = {"narration, 1 thread per synthesis": narration(1), "narration, 2 threads per synthesis": narration(2),
             "picture": picture()}
    best: dict[str, tuple[float, float, float]] = {}
    for work in works.values():
        work()  # warm
    for _ in range(rounds):  # the kinds alternate, so each sees the same load
        for name, work in works.items():
            sequential, threaded, cores = sequential_and_threaded(work)
            known = best.get(name, (sequential, threaded, cores))
            best[name] = (min(known[0], sequential), min(known[1], threaded), max(known[2], cores))
    for name, (sequential, threaded, cores) in best.items():
        print(f"  {name:<36} two one after the other {sequential:6.2f} s, two in threads {threaded:6.2f} s, "
              f"ratio {sequential / threaded:4.2f}, CPU s per s in threads {cores:4.2f}   (best of {rounds})")
    print(f"load average after {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args().rounds)

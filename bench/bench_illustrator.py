"""Benchmark: the procedural illustrator's time per 768x512 picture, by style (target < 150 ms).

    make bench          (or: .venv/bin/python bench/bench_illustrator.py [--runs 5])
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyloom.domain.ports.story import SceneText
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.images.procedural import ProceduralIllustrator

FRIENDS = (Character("Pip", "a purple dragon"), Character("Lily", "a curious girl"), Character("Rex", "a robot"))
CASES = [
    ("plain, castle, cozy", SceneText("Rex visits", "Rex visits the castle.", "cozy", "Rex at the castle gate"), ""),
    ("watercolor, beach, joyful", SceneText("Beach", "Pip and Lily on the beach.", "joyful", "Pip and Lily on sand"),
     "watercolor"),
    ("paper cut-out, forest, night", SceneText("Night", "Pip, Lily and Rex in the forest at night.", "mysterious",
                                               "three friends among dark trees"), "paper cut-out"),
    ("pixel art, space", SceneText("Stars", "Rex flies to the moon.", "bright", "Rex in a rocket"), "pixel art"),
]


def main(runs: int) -> None:
    illustrator = ProceduralIllustrator()
    print(f"procedural picture 768x512 (PNG encoding included), {runs} runs each; target < 150 ms")
    for label, scene, style in CASES:
        requirements = StoryRequirements(characters=FRIENDS, illustration_style=style)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            illustrator.illustrate_now(scene, requirements, width=768, height=512)
            times.append((time.perf_counter() - started) * 1000)
        print(f"  {label:<30} median {statistics.median(times):6.1f} ms   max {max(times):6.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)

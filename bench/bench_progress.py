"""Benchmark: how honest a story's progress is. The ETA's error after 25 % progress, and percent against time.

    .venv/bin/python bench/bench_progress.py [--stories 3] [--scenes 5]

Writes whole stories (offline writer, procedural pictures, piper narration) one after another through the real
server in this process, in a fresh data directory: the first starts from the default stage costs, the next ones
from what the earlier ones taught it (domain/progress.py). For each story it watches the task and prints:

- the ETA error: for every progress event at 25 % or more before the end, |predicted - actual| seconds left, over
  the actual seconds left; the median of those (the goal: under 20 %), and the worst;
- how percent tracks time: the percent shown when half the time had passed (honest: near 50).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import served

from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2, story_pb2_grpc, task_pb2, task_pb2_grpc

VERBOSE = "-v" in sys.argv
REQUIREMENTS = req.StoryRequirements(
    characters=[req.Character(name="Luna", description="a brave little fox")], setting="an enchanted forest",
    tone=req.STORY_TONE_HEARTWARMING, audience_age_group=req.AUDIENCE_AGE_GROUP_EARLY_READERS)


async def one_story(channel: grpc.aio.Channel, metadata, scenes: int, n: int) -> dict[str, float]:
    requirements = story_pb2.CreateStoryRequest(parent="users/me", requirements=REQUIREMENTS, scene_count=scenes,
                                                regenerate=True)
    requirements.requirements.title = f"Luna's walk number {n}"
    task = await story_pb2_grpc.StoryServiceStub(channel).CreateStory(requirements, metadata=metadata)
    events = [e async for e in task_pb2_grpc.TaskServiceStub(channel).WatchTask(
        task_pb2.WatchTaskRequest(name=task.name), metadata=metadata)]
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED, events[-1]
    end = events[-1].create_time.ToDatetime()
    running = [e for e in events if e.state == task_pb2.TASK_STATE_RUNNING and e.stage]
    start_time = running[0].create_time.ToDatetime()
    errors = []
    for event in running:
        if not 25 <= event.percent < 100 or not event.HasField("estimated_completion_time"):
            continue
        at = event.create_time.ToDatetime()
        actual = (end - at).total_seconds()
        predicted = (event.estimated_completion_time.ToDatetime() - at).total_seconds()
        if actual > 0:
            errors.append(abs(predicted - actual) / actual)
            if VERBOSE:
                print(f"    {event.percent:3d}% {event.stage:<13} predicted {predicted:5.1f} s left, "
                      f"actual {actual:5.1f} s")
    total = (end - start_time).total_seconds()
    half = start_time + (end - start_time) / 2
    at_half = max((e.percent for e in running if e.create_time.ToDatetime() <= half), default=0)
    return {"seconds": total, "median_error": statistics.median(errors) if errors else float("nan"),
            "worst_error": max(errors, default=float("nan")), "samples": len(errors), "percent_at_half": at_half}


async def main(stories: int, scenes: int) -> None:
    results = []
    async with served() as server:
        print(f"{stories} stories of {scenes} scenes, one after another (the first from the default costs)")
        for n in range(stories):
            result = await one_story(server.channel, server.metadata, scenes, n)
            results.append(result)
            print(f"  story {n + 1}: {result['seconds']:5.1f} s   ETA error after 25 %: median "
                  f"{result['median_error']:6.1%}, worst {result['worst_error']:6.1%} "
                  f"({result['samples']} events)   percent at half time: {result['percent_at_half']:.0f} %")
        costs = {stage: round(server.app.stories.clock.seconds_per_unit(stage), 2)
                 for stage in ("premise", "outline", "scenes", "illustrations", "narration")}
        print(f"  learned seconds per unit: {costs}")
    medians = [r["median_error"] for r in results]
    print(f"median absolute ETA error after 25 %, over all stories: {statistics.median(medians):.1%} (goal < 20 %)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=3)
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("-v", action="store_true", help="print every event's prediction")
    args = parser.parse_args()
    asyncio.run(main(args.stories, args.scenes))

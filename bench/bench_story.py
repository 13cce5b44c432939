"""Benchmark: a 5-scene illustrated, narrated story on the offline engines, written scene by scene with scenes at
once (STORYLOOM_STORY_SCENE_CONCURRENCY) beside the sequential pipeline (concurrency 1) in the same run: the time to
the first scene ready (its text, picture and narration stored: its SCENE_READY event) and to the whole story, and
the speed-up. Then GetStory latency. Each run is a real server in-process on 127.0.0.1:0 with SQLite in a temp dir,
its voice loaded before the clock starts.

    make bench          (or: .venv/bin/python bench/bench_story.py [--scenes 5] [--concurrency 2] [--runs 2])

Targets (issue 17, 2 idle cores): first scene <= 1.5 s, whole story <= 4 s, >= 1.8x faster than sequential. Each run
also prints its CPU seconds (all threads) and cores busy: on a shared machine, the CPU per story is the figure the
others' load changes least.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyloom.app import build_app, start
from storyloom.config import Settings
from storyloom.server import start_server
from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2, story_pb2_grpc, task_pb2, task_pb2_grpc

REQUIREMENTS = req.StoryRequirements(characters=[req.Character(name="Luna", description="a brave little fox")],
                                     setting="an enchanted forest", tone=req.STORY_TONE_HEARTWARMING)


@dataclasses.dataclass
class Timing:
    first_scene: float
    whole: float
    stages: dict[str, float]
    cpu: float = 0.0  # this process's CPU seconds (all threads) from CreateStory to the last event
    get_story_latency: str = ""

    @property
    def cores_busy(self) -> float:
        return self.cpu / self.whole


async def one_story(scenes: int, concurrency: int, reads: int = 0) -> Timing:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline", offline_word_delay_seconds=0, story_scene_concurrency=concurrency)
        app = await build_app(settings)
        await start(app)
        await app.engines.narrator.warm_up()  # the piper voice, loaded once
        running = await start_server(app)
        user = await app.accounts.create_user("bench")
        metadata = (("x-api-key", await app.accounts.create_key(user.id)),)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                stories = story_pb2_grpc.StoryServiceStub(channel)
                tasks = task_pb2_grpc.TaskServiceStub(channel)
                started, cpu_started = time.perf_counter(), time.process_time()
                task = await stories.CreateStory(story_pb2.CreateStoryRequest(
                    parent="users/me", requirements=REQUIREMENTS, scene_count=scenes), metadata=metadata)
                first_scene = None
                stages: dict[str, float] = {}
                async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=metadata):
                    now = time.perf_counter() - started
                    if event.stage and event.stage not in stages:
                        stages[event.stage] = now
                    if event.type == task_pb2.TASK_EVENT_TYPE_SCENE_READY and first_scene is None:
                        first_scene = now
                whole, cpu = time.perf_counter() - started, time.process_time() - cpu_started
                if event.state != task_pb2.TASK_STATE_SUCCEEDED or first_scene is None:
                    raise SystemExit(f"story failed: {event}")
                latency = await get_story_latency(stories, task.target, metadata, reads) if reads else ""
                return Timing(first_scene, whole, stages, cpu, latency)
        finally:
            await running.stop(0.5)
            await app.close()


async def get_story_latency(stories: story_pb2_grpc.StoryServiceStub, name: str,
                            metadata: tuple[tuple[str, str], ...], reads: int) -> str:
    latencies = []
    for _ in range(reads):
        t0 = time.perf_counter()
        await stories.GetStory(story_pb2.GetStoryRequest(name=name), metadata=metadata)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    return (f"GetStory over {reads} calls: p50 {statistics.median(latencies):.2f} ms, "
            f"p95 {latencies[int(0.95 * len(latencies)) - 1]:.2f} ms")


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


async def main(scenes: int, concurrency: int, runs: int, reads: int) -> None:
    print(f"story: {scenes} scenes, illustrated and narrated, offline engines, {os.cpu_count()} cores; "
          f"load average before: {load()}")
    results: dict[int, list[Timing]] = {1: [], concurrency: []}
    for run in range(runs):  # the two pipelines alternate, so both see the same load
        for each in results:
            last = run == runs - 1 and each == concurrency
            timing = await one_story(scenes, each, reads if last else 0)
            results[each].append(timing)
            print(f"  run {run + 1}, concurrency {each}: first scene {timing.first_scene:5.2f} s, "
                  f"whole story {timing.whole:5.2f} s, CPU {timing.cpu:5.2f} s ({timing.cores_busy:.2f} cores busy)"
                  f"   (load {load()})")
    first = {c: statistics.median(t.first_scene for t in ts) for c, ts in results.items()}
    whole = {c: statistics.median(t.whole for t in ts) for c, ts in results.items()}
    print(f"median of {runs}:          first scene   whole story")
    print(f"  sequential (1)        {first[1]:7.2f} s     {whole[1]:7.2f} s")
    print(f"  scene units ({concurrency})       {first[concurrency]:7.2f} s     {whole[concurrency]:7.2f} s"
          f"   (targets 1.5 s, 4 s)")
    print(f"  speed-up              {first[1] / first[concurrency]:7.2f}x     {whole[1] / whole[concurrency]:7.2f}x"
          f"   (target 1.8x)")
    cpu = {c: statistics.median(t.cpu for t in ts) for c, ts in results.items()}
    cores = os.cpu_count() or 1
    print(f"  CPU seconds per story: sequential {cpu[1]:.2f}, scene units {cpu[concurrency]:.2f} "
          f"(its lower bound on {cores} idle cores: {cpu[concurrency] / cores:.2f} s)")
    stages = results[concurrency][-1].stages
    print("  last scene-unit run, when each stage first showed: " +
          ", ".join(f"{stage} {at:.2f} s" for stage, at in stages.items()))
    print(results[concurrency][-1].get_story_latency)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=Settings.story_scene_concurrency,
                        help="scenes at once in the scene-unit run (the other run is 1: sequential)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.scenes, args.concurrency, args.runs, args.reads))

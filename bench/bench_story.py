"""Benchmark: a 5-scene illustrated, narrated story on the offline engines, split by stage, and
GetStory latency. Runs the real server in-process on 127.0.0.1:0 with SQLite in a temp dir.

    make bench          (or: .venv/bin/python bench/bench_story.py [--scenes 5] [--reads 200])

Target on a 2-core machine: the whole story under 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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


async def main(scenes: int, reads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline", offline_word_delay_seconds=0)
        app = await build_app(settings)
        await start(app)
        running = await start_server(app)
        user = await app.accounts.create_user("bench")
        metadata = (("x-api-key", await app.accounts.create_key(user.id)),)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                stories = story_pb2_grpc.StoryServiceStub(channel)
                tasks = task_pb2_grpc.TaskServiceStub(channel)
                requirements = req.StoryRequirements(
                    characters=[req.Character(name="Luna", description="a brave little fox")],
                    setting="an enchanted forest", tone=req.STORY_TONE_HEARTWARMING)
                started = time.perf_counter()
                task = await stories.CreateStory(story_pb2.CreateStoryRequest(
                    parent="users/me", requirements=requirements, scene_count=scenes), metadata=metadata)
                stage_start: dict[str, float] = {}
                async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=metadata):
                    if event.stage and event.stage not in stage_start:
                        stage_start[event.stage] = time.perf_counter()
                total = time.perf_counter() - started
                if event.state != task_pb2.TASK_STATE_SUCCEEDED:
                    raise SystemExit(f"story failed: {event}")
                order = list(stage_start) + ["end"]
                stage_start["end"] = started + total
                print(f"story: {scenes} scenes, illustrated and narrated, offline engines")
                for stage, following in itertools.pairwise(order):
                    print(f"  {stage:<14} {stage_start[following] - stage_start[stage]:7.2f} s")
                print(f"  {'total':<14} {total:7.2f} s   (target < 15 s)")

                latencies = []
                for _ in range(reads):
                    t0 = time.perf_counter()
                    await stories.GetStory(story_pb2.GetStoryRequest(name=task.target), metadata=metadata)
                    latencies.append((time.perf_counter() - t0) * 1000)
                latencies.sort()
                print(f"GetStory over {reads} calls: p50 {statistics.median(latencies):.2f} ms, "
                      f"p95 {latencies[int(0.95 * len(latencies)) - 1]:.2f} ms")
        finally:
            await running.stop(0.5)
            await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.scenes, args.reads))

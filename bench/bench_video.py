"""Benchmark of story videos (not a test): render time over running time for a 5-scene story on the offline engines.

    .venv/bin/python bench/bench_video.py [--scenes 5] [--resolution 720p] [--captions] [--burn-in]

Writes a story with the offline storyteller, the procedural illustrator and piper (not timed), then films it through
the StoryVideos task as CreateStoryVideo does, and prints the wall time of the render, its CPU time (all threads),
the video's running time, their ratios (goal: wall / running time under 0.5) and the machine's load average, which
says how much of the two cores the render had.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from storyloom.app import App, build_app, start
from storyloom.config import Settings
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.domain.stories import StoryOptions
from storyloom.domain.tasks import TaskState
from storyloom.domain.videos import VideoOptions


async def finish(app: App, user_id: str, task_id: str) -> None:
    async for event in app.tasks.watch(user_id, task_id):
        if event.state.terminal:
            if event.state is not TaskState.SUCCEEDED:
                raise SystemExit(f"task {task_id} ended {event.state.value}: {event.message}")
            return


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("--resolution", default="720p", choices=("360p", "720p", "1080p"))
    parser.add_argument("--captions", action="store_true")
    parser.add_argument("--burn-in", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-video-") as data:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(data), dev_bootstrap=False, text_engine="offline",
                            log_format="text", offline_word_delay_seconds=0.0)
        app = await build_app(settings)
        await start(app)
        try:
            user = await app.accounts.create_user("bench")
            task = await app.stories.create(user.id, requirements=StoryRequirements(
                title="Pip and the Paper Boat", characters=(Character(name="Pip", description="a small mouse"),),
                setting="a rainy garden"), options=StoryOptions(scene_count=args.scenes))
            started = time.perf_counter()
            await finish(app, user.id, task.id)
            took = time.perf_counter() - started
            print(f"story of {args.scenes} scenes written, painted and narrated in {took:.1f} s (not counted)")
            story_id = task.target.rsplit("/", 1)[-1]
            options = VideoOptions(resolution=args.resolution, captions=args.captions or args.burn_in,
                                   burn_in_captions=args.burn_in)
            load_before = os.getloadavg()[0]
            cpu, wall = time.process_time(), time.perf_counter()
            video_task = await app.videos.create(user.id, story_id, options)
            await finish(app, user.id, video_task.id)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            video = await app.videos.find(video_task.target.rsplit("/", 1)[-1])
            assert video is not None
            running = video.duration_ms / 1000
            size = (await app.media.get(user.id, video.media_id)).size_bytes
            print(f"{args.resolution} {'captions burned in' if args.burn_in else 'captions' if args.captions else ''}"
                  f" video of {len(video.clips)} scenes: running time {running:.1f} s, {size / 1e6:.1f} MB "
                  f"({size * 8 / running / 1e6:.2f} Mbit/s)")
            print(f"render: {wall:.1f} s wall, {cpu:.1f} s CPU (all threads)")
            print(f"render time / running time: {wall / running:.3f} wall (goal < 0.5), {cpu / running:.3f} CPU")
            print(f"load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs")
        finally:
            await app.close()


if __name__ == "__main__":
    asyncio.run(main())

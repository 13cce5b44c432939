"""Benchmark: Storyloom as a cluster on one PostgreSQL database, every part a real process (an API-only replica and
one or two `storyloom worker`s): stories per minute with 1 and 2 workers, the time from kill -9 of a worker to its
task running again on another, and how late a watcher on the API replica sees events written by a worker.

    make bench-cluster      (or: .venv/bin/python bench/bench_cluster.py [--stories 12])

Needs the local PostgreSQL (STORYLOOM_TEST_POSTGRES, as the tests). Stories are offline ones of 2 scenes with
pictures and no narration. The resume time is bounded by the lease (STORYLOOM_TASK_LEASE_SECONDS, 10 s by default)
plus about 2 s: the 1 s period of the check for dead workers' jobs and the workers' 1 s poll for jobs put back.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import grpc  # noqa: E402

from storyloom.domain.accounts import Accounts  # noqa: E402
from storyloom.domain.tasks import Task, TaskState  # noqa: E402
from storyloom.store.accounts import SqlAccountRepository  # noqa: E402
from storyloom.store.db import Database  # noqa: E402
from storyloom.v1 import requirements_pb2 as req  # noqa: E402
from storyloom.v1 import story_pb2, story_pb2_grpc, task_pb2, task_pb2_grpc  # noqa: E402
from tests.support.server_process import ServerProcess  # noqa: E402
from tests.support.task_rows import stored, submit_steps  # noqa: E402

ADMIN = os.environ.get("STORYLOOM_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def new_key(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    db = Database(url)
    try:
        await db.migrate()
        accounts = Accounts(SqlAccountRepository(db))
        user = await accounts.create_user("bench")
        return user.id, (("x-api-key", await accounts.create_key(user.id)),)
    finally:
        await db.close()


async def stories_per_minute(api: ServerProcess, metadata: tuple[tuple[str, str], ...], count: int) -> float:
    started = time.monotonic()
    async with grpc.aio.insecure_channel(api.address) as channel:
        stories, tasks = story_pb2_grpc.StoryServiceStub(channel), task_pb2_grpc.TaskServiceStub(channel)
        made = [await stories.CreateStory(story_pb2.CreateStoryRequest(
            parent="users/me", scene_count=2, skip_narration=True, regenerate=True,
            requirements=req.StoryRequirements(setting=f"island {uuid.uuid4().hex[:6]}")), metadata=metadata)
            for _ in range(count)]
        for task in made:
            async for _ in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=metadata):
                pass
    return count / ((time.monotonic() - started) / 60)


async def until(url: str, task_id: str, check: Callable[[Task], bool]) -> Task:
    """Reads the task every 50 ms until `check` holds (the stored task is what is measured, not a notice)."""
    while True:
        task = await stored(url, task_id)
        if check(task):
            return task
        await asyncio.sleep(0.05)


async def resume_seconds(url: str, user_id: str, workers: list[ServerProcess]) -> float:
    task_id = await submit_steps(url, user_id, steps=400, delay=0.05)
    task = await until(url, task_id, lambda t: t.state is TaskState.RUNNING)
    victim = next(w for w in workers if w.proc and task.owner and task.owner.split("-")[-2] == str(w.proc.pid))
    victim.kill()
    killed = time.monotonic()
    await until(url, task_id, lambda t: t.attempt >= 2 and t.state is TaskState.RUNNING)
    return time.monotonic() - killed


async def watch_delays(api: ServerProcess, url: str, user_id: str, metadata: tuple[tuple[str, str], ...],
                       events: int) -> list[float]:
    task_id = await submit_steps(url, user_id, steps=events + 5, delay=0.05)
    delays: list[float] = []
    async with grpc.aio.insecure_channel(api.address) as channel:
        stub = task_pb2_grpc.TaskServiceStub(channel)
        async for event in stub.WatchTask(task_pb2.WatchTaskRequest(name=f"tasks/{task_id}"), metadata=metadata):
            if event.state == task_pb2.TASK_STATE_RUNNING and event.stage.startswith("step-"):
                delays.append(time.time() - event.create_time.ToDatetime(tzinfo=dt.UTC).timestamp())
    return delays


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=12)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    name = f"storyloom_bench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    env = {"STORYLOOM_DATABASE_URL": url, "STORYLOOM_SECRET": uuid.uuid4().hex, "STORYLOOM_TEXT_ENGINE": "offline",
           "STORYLOOM_VOICE_WARM_UP": "0", "STORYLOOM_LOG_LEVEL": "WARNING"}
    started: list[ServerProcess] = []
    with tempfile.TemporaryDirectory() as tmp:
        def process(label: str, command: str = "serve", **more: str) -> ServerProcess:
            proc = ServerProcess(Path(tmp) / label, Path(tmp) / f"{label}.log", env={**env, **more}, command=command)
            proc.start()
            started.append(proc)
            return proc

        try:
            user_id, metadata = await new_key(url)
            api = process("api", STORYLOOM_RUN_TASKS="0")
            workers = [process("worker-1", "worker")]
            one = await stories_per_minute(api, metadata, args.stories)
            workers.append(process("worker-2", "worker"))
            two = await stories_per_minute(api, metadata, args.stories)
            delays = await watch_delays(api, url, user_id, metadata, args.events)
            resumed = await resume_seconds(url, user_id, workers)
        finally:
            for proc in started:
                proc.kill()
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    cores = os.cpu_count() or 1
    print(f"cluster on {cores} cores, PostgreSQL, {args.stories} stories of 2 scenes (pictures, no narration)")
    print(f"  stories per minute, 1 worker   {one:8.1f}")
    print(f"  stories per minute, 2 workers  {two:8.1f}   ({two / one:.2f}x)")
    print(f"  kill -9 of a worker -> its task running on another: {resumed:.1f} s (lease 10 s)")
    print(f"  watch on the API replica, events written by a worker ({len(delays)} events): "
          f"p50 {statistics.median(delays) * 1000:.0f} ms, p95 {statistics.quantiles(delays, n=20)[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())

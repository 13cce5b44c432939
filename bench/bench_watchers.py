"""Benchmark: idle WatchTask streams on the real server beside a bare grpc.aio server holding as many idle streams.

    make bench-watchers      (or: .venv/bin/python bench/bench_watchers.py [--streams 1000] [--seconds 10] [--postgres])

--postgres runs the server on a new database of the local PostgreSQL (dropped after): watchers then sleep on the
PostgreSQL notifier's LISTEN connection and tasks run on procrastinate, whose own statements (psycopg, outside
SQLAlchemy) are not counted.

Each side's server runs in a process of its own (so neither reuses memory the other freed), and its load client in
another: N streams over 10 channels that get nothing to send (WatchTask on a task that waits; the bare server's
handler awaits forever). Once every stream has its first message, the server settles for a second and is
garbage-collected, then measured over an idle window: the server process's CPU, the SQL statements it ran per second,
and the resident memory it grew by per stream open (what an idle watcher costs the server; the client's own growth
per stream is printed beside it, measured the same way in its process). The watched task is running, so its
worker's heartbeat writes a few statements a second whoever watches: those are measured first, with no stream open,
and printed beside. The load average is printed: the machine may be shared, and other work slows everything alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyloom.app import build_app, start
from storyloom.config import Settings
from storyloom.domain.tasks import TaskContext
from storyloom.server import start_server
from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.support.sql_counter import counting_statements

CHANNELS = 10  # streams are spread over this many connections, as many clients would be
IDLE_METHOD = "/bench.Idle/Watch"


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclasses.dataclass
class Figures:
    label: str
    streams: int
    cpu: float  # % of one core, the server process's
    sql: float | None  # statements/s
    rss: float  # KiB the server process grew by per stream
    client_rss: float  # KiB the load client's process grew by per stream

    def __str__(self) -> str:
        sql = f"{self.sql:7.1f}" if self.sql is not None else "      -"
        return (f"{self.label:24} {self.streams:6} open  server: CPU {self.cpu:5.1f} %  SQL/s {sql}  "
                f"RSS {self.rss:6.1f} KiB/stream   (load client: RSS {self.client_rss:6.1f} KiB/stream)")


class LoadClient:
    """The streams, opened by a process of their own (`client_side`): the server's RSS is then its own alone."""

    def __init__(self, process: asyncio.subprocess.Process, rss: float):
        self.process = process
        self.rss = rss  # KiB the client grew by per stream

    @classmethod
    async def open(cls, port: int, count: int, watched: str, key: str) -> LoadClient:
        """Returns once every stream has had its first message."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--side", "client", "--streams", str(count), "--port", str(port),
            "--watched", watched, "--key", key, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"the load client ended (code {await process.wait()}) before its streams were open")
        return cls(process, json.loads(line)["rss"])

    async def close(self) -> None:
        """Tells the client to cancel its streams and waits for it to end."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        await self.process.wait()


async def idle_window(open_client: Callable[[], Awaitable[LoadClient]], seconds: float,
                      statements: Callable[[], int], count: int) -> tuple[float, float, float, float]:
    """Has the client open the streams, lets them settle, then measures the server process's CPU %, statements/s
    and RSS KiB per stream while idle; and the client's RSS KiB per stream."""
    gc.collect()
    before_rss = rss_kib()
    client = await open_client()
    try:
        await asyncio.sleep(1.0)  # the opening work (and its statements) is over
        gc.collect()
        rss = (rss_kib() - before_rss) / max(1, count)
        cpu_start, wall_start, sql_start = time.process_time(), time.perf_counter(), statements()
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - wall_start
        return 100 * (time.process_time() - cpu_start) / wall, (statements() - sql_start) / wall, rss, client.rss
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def channels(port: int) -> AsyncIterator[list[grpc.aio.Channel]]:
    opened = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
              for _ in range(CHANNELS)]
    try:
        yield opened
    finally:
        for channel in opened:
            await channel.close()


async def client_side(port: int, count: int, watched: str, key: str) -> None:
    """The load client's process: opens `count` streams (WatchTask of the task `watched`, or the bare server's idle
    method if it is empty), prints its RSS growth per stream once each has its first message, and holds them until
    its stdin closes."""
    gc.collect()
    before_rss = rss_kib()
    loop = asyncio.get_running_loop()
    async with channels(port) as opened:
        if watched:
            stubs = [task_pb2_grpc.TaskServiceStub(c) for c in opened]
            metadata = (("x-api-key", key),)

            def call(i: int) -> AsyncIterable[Any]:
                request = task_pb2.WatchTaskRequest(name=watched)
                return stubs[i % CHANNELS].WatchTask(request, metadata=metadata)
        else:
            methods = [c.unary_stream(IDLE_METHOD) for c in opened]

            def call(i: int) -> AsyncIterable[Any]:
                return methods[i % CHANNELS](b"")

        async def watch(i: int, first: asyncio.Future[None]) -> None:
            try:
                async for _message in call(i):  # the events so far, then nothing while the task waits
                    if not first.done():
                        first.set_result(None)
            finally:
                if not first.done():
                    first.set_exception(RuntimeError(f"stream {i} ended before its first message"))

        firsts = [loop.create_future() for _ in range(count)]
        streams = [asyncio.create_task(watch(i, firsts[i])) for i in range(count)]
        try:
            await asyncio.gather(*firsts)
            await asyncio.sleep(1.0)  # as the server settles
            gc.collect()
            print(json.dumps({"rss": (rss_kib() - before_rss) / max(1, count)}), flush=True)
            await loop.run_in_executor(None, sys.stdin.read)  # until the server's side closes it
        finally:
            for stream in streams:
                stream.cancel()
            await asyncio.gather(*streams, return_exceptions=True)


async def storyloom_side(count: int, seconds: float, database_url: str) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline", max_streams_per_user=0, database_url=database_url,
                            secret="bench-watchers" if database_url else "")
        app = await build_app(settings)
        release = asyncio.Event()

        async def wait_idle(ctx: TaskContext) -> None:
            await release.wait()

        app.tasks.register("bench.idle", wait_idle)
        await start(app)
        running = await start_server(app)
        try:
            with counting_statements(app.db.engine) as statements:
                user = await app.accounts.create_user("bench-watchers")
                key = await app.accounts.create_key(user.id)
                task = await app.tasks.submit(user.id, "bench.idle")
                await asyncio.sleep(1.0)  # claimed and running
                before, started_at, cpu_at = len(statements), time.perf_counter(), time.process_time()
                await asyncio.sleep(seconds)
                unwatched = (len(statements) - before) / (time.perf_counter() - started_at)
                unwatched_cpu = 100 * (time.process_time() - cpu_at) / (time.perf_counter() - started_at)
                cpu, sql, rss, client_rss = await idle_window(
                    lambda: LoadClient.open(running.port, count, f"tasks/{task.id}", key), seconds,
                    lambda: len(statements), count)
                release.set()
                print(f"the running task alone, no stream open: CPU {unwatched_cpu:.1f} %, {unwatched:.1f} SQL "
                      f"statements/s (its heartbeat)")
                return Figures("Storyloom WatchTask" + (" (PG)" if database_url else ""), count, cpu, sql, rss,
                               client_rss)
        finally:
            await running.stop(0.5)
            await app.close()


async def bare_side(count: int, seconds: float, database_url: str = "") -> Figures:
    forever = asyncio.Event()
    opened_on_server: asyncio.Queue[None] = asyncio.Queue()

    async def idle(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> AsyncIterator[bytes]:
        yield b"started"
        opened_on_server.put_nowait(None)
        await forever.wait()

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "bench.Idle", {"Watch": grpc.unary_stream_rpc_method_handler(idle)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()

    async def open_client() -> LoadClient:
        client = await LoadClient.open(port, count, "", "")
        for _ in range(count):
            await opened_on_server.get()
        return client

    try:
        cpu, _sql, rss, client_rss = await idle_window(open_client, seconds, lambda: 0, count)
        return Figures("bare grpc.aio stream", count, cpu, None, rss, client_rss)
    finally:
        forever.set()
        await server.stop(0)


def side(name: str, count: int, seconds: float, database_url: str = "") -> Figures:
    """Runs one side in a child process; its figures come back as its last line of output (JSON)."""
    child = subprocess.run([sys.executable, __file__, "--side", name, "--streams", str(count),
                            "--seconds", str(seconds), "--database-url", database_url],
                           check=True, capture_output=True, text=True)
    lines = child.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line)
    return Figures(**json.loads(lines[-1]))


def main(count: int, seconds: float, database_url: str) -> None:
    print(f"{count} idle server streams each side, {seconds:g} s idle window; load average {load()} "
          f"(the machine may be shared: other work counts in the load, not in these CPU figures)")
    ours = side("storyloom", count, seconds, database_url)
    bare = side("bare", count, seconds)
    print(ours)
    print(bare)
    print(f"CPU beyond the bare server: {ours.cpu - bare.cpu:+.1f} points; server memory per stream "
          f"{ours.rss - bare.rss:+.1f} KiB ({ours.rss / max(0.1, bare.rss):.1f}x the bare server's); "
          f"load average after {load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="idle streams on each side")
    parser.add_argument("--seconds", type=float, default=10.0, help="the idle window measured")
    parser.add_argument("--postgres", nargs="?", const="postgresql://postgres@127.0.0.1:5432/postgres", default="",
                        help="serve from a new database on this PostgreSQL server (admin URL)")
    parser.add_argument("--side", choices=("storyloom", "bare", "client"), help=argparse.SUPPRESS)  # a child's part
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)  # the server child's database
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)  # the client child's server
    parser.add_argument("--watched", default="", help=argparse.SUPPRESS)  # the client child's task ("": bare)
    parser.add_argument("--key", default="", help=argparse.SUPPRESS)  # the client child's API key
    args = parser.parse_args()
    if args.side == "client":
        asyncio.run(client_side(args.port, args.streams, args.watched, args.key))
    elif args.side:
        run_side = storyloom_side if args.side == "storyloom" else bare_side
        figures = asyncio.run(run_side(args.streams, args.seconds, args.database_url))
        print(json.dumps(dataclasses.asdict(figures)), flush=True)
    elif args.postgres:
        from bench_reads import postgres_database

        async def on_postgres() -> None:
            async with postgres_database(args.postgres) as url:
                await asyncio.to_thread(main, args.streams, args.seconds, url)

        asyncio.run(on_postgres())
    else:
        main(args.streams, args.seconds, "")

"""Benchmark: idle WatchTask streams on the real server beside a bare grpc.aio server holding as many idle streams.

    make bench-watchers      (or: .venv/bin/python bench/bench_watchers.py [--streams 1000] [--seconds 10])

Each side opens N server streams that get nothing to send (WatchTask on a task that waits; the bare server's
handler awaits forever), then measures, over an idle window: the process's CPU (server and its load client share
the process, on both sides alike), the SQL statements the server ran per second, and the resident memory each stream
added (the client's share of a stream included, on both sides). The load average is printed: the machine may be
shared, and other work slows everything alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from storyloom.app import build_app, start
from storyloom.config import Settings
from storyloom.domain.tasks import TaskContext
from storyloom.server import start_server
from storyloom.v1 import task_pb2, task_pb2_grpc

CHANNELS = 10  # streams are spread over this many connections, as many clients would be
IDLE_METHOD = "/bench.Idle/Watch"


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Figures:
    def __init__(self, label: str, streams: int, cpu_percent: float, statements_per_second: float | None,
                 rss_per_stream_kib: float):
        self.label, self.streams, self.cpu = label, streams, cpu_percent
        self.sql, self.rss = statements_per_second, rss_per_stream_kib

    def __str__(self) -> str:
        sql = f"{self.sql:7.1f}" if self.sql is not None else "      -"
        return (f"{self.label:24} {self.streams:6} open  CPU {self.cpu:5.1f} %  SQL/s {sql}  "
                f"RSS {self.rss:6.1f} KiB/stream")


async def idle_window(open_streams: Callable[[], Awaitable[list[asyncio.Task[Any]]]], seconds: float,
                      statements: Callable[[], int]) -> tuple[list[asyncio.Task[Any]], float, float, float]:
    """Opens the streams, lets them settle, then measures CPU %, statements/s and RSS KiB per stream while idle."""
    gc.collect()
    before_rss = rss_kib()
    streams = await open_streams()
    await asyncio.sleep(1.0)  # the opening work (and its statements) is over
    gc.collect()
    rss = (rss_kib() - before_rss) / max(1, len(streams))
    cpu_start, wall_start, sql_start = time.process_time(), time.perf_counter(), statements()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - wall_start
    return streams, 100 * (time.process_time() - cpu_start) / wall, (statements() - sql_start) / wall, rss


async def close(streams: list[asyncio.Task[Any]]) -> None:
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)


@contextlib.asynccontextmanager
async def channels(port: int) -> AsyncIterator[list[grpc.aio.Channel]]:
    opened = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
              for _ in range(CHANNELS)]
    try:
        yield opened
    finally:
        for channel in opened:
            await channel.close()


async def storyloom_side(count: int, seconds: float) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline", max_streams_per_user=0)
        app = await build_app(settings)
        release = asyncio.Event()

        async def wait_idle(ctx: TaskContext) -> None:
            await release.wait()

        app.tasks.register("bench.idle", wait_idle)
        await start(app)
        running = await start_server(app)
        statements = 0

        def counted(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(app.db.engine.sync_engine, "before_cursor_execute", counted)
        try:
            user = await app.accounts.create_user("bench-watchers")
            metadata = (("x-api-key", await app.accounts.create_key(user.id)),)
            task = await app.tasks.submit(user.id, "bench.idle")
            async with channels(running.port) as opened:
                stubs = [task_pb2_grpc.TaskServiceStub(c) for c in opened]
                started: asyncio.Queue[None] = asyncio.Queue()

                async def watch(stub: task_pb2_grpc.TaskServiceStub) -> None:
                    call = stub.WatchTask(task_pb2.WatchTaskRequest(name=f"tasks/{task.id}"), metadata=metadata)
                    first = True
                    async for _event in call:  # the events so far, then nothing while the task waits
                        if first:
                            first = False
                            started.put_nowait(None)

                async def open_streams() -> list[asyncio.Task[Any]]:
                    streams = [asyncio.create_task(watch(stubs[i % CHANNELS])) for i in range(count)]
                    for _ in range(count):
                        await started.get()
                    return streams

                streams, cpu, sql, rss = await idle_window(open_streams, seconds, lambda: statements)
                await close(streams)
            release.set()
            return Figures("Storyloom WatchTask", count, cpu, sql, rss)
        finally:
            event.remove(app.db.engine.sync_engine, "before_cursor_execute", counted)
            await running.stop(0.5)
            await app.close()


async def bare_side(count: int, seconds: float) -> Figures:
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
    try:
        async with channels(port) as opened:
            methods = [c.unary_stream(IDLE_METHOD) for c in opened]

            async def watch(i: int) -> None:
                async for _message in methods[i % CHANNELS](b""):
                    pass

            async def open_streams() -> list[asyncio.Task[Any]]:
                streams = [asyncio.create_task(watch(i)) for i in range(count)]
                for _ in range(count):
                    await opened_on_server.get()
                return streams

            streams, cpu, _sql, rss = await idle_window(open_streams, seconds, lambda: 0)
            await close(streams)
        return Figures("bare grpc.aio stream", count, cpu, None, rss)
    finally:
        forever.set()
        await server.stop(0)


async def main(count: int, seconds: float) -> None:
    print(f"{count} idle server streams each side, {seconds:g} s idle window; load average {load()} "
          f"(the machine may be shared: other work counts in the load, not in these CPU figures)")
    ours = await storyloom_side(count, seconds)
    bare = await bare_side(count, seconds)
    print(ours)
    print(bare)
    print(f"CPU beyond the bare server: {ours.cpu - bare.cpu:+.1f} points; memory per stream "
          f"{ours.rss / max(0.1, bare.rss):.1f}x the bare server's; load average after {load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="idle streams on each side")
    parser.add_argument("--seconds", type=float, default=10.0, help="the idle window measured")
    args = parser.parse_args()
    asyncio.run(main(args.streams, args.seconds))

"""Benchmark: unary reads (GetStory, GetTask, ListTasks, GetMediaInfo) against a bare grpc.aio echo, same run.

    make bench-reads
    .venv/bin/python bench/bench_reads.py [--seconds 5] [--rounds 3] [--postgres]

Two servers run in their own processes: Storyloom (SQLite in a temporary directory, or a new PostgreSQL database,
with one finished, illustrated 5-scene story seeded through the real services, and one of another user put back to
GENERATING before the server starts, as one still being written) and a bare grpc.aio server whose one
method returns its request bytes. The load comes from h2load (Debian's nghttp2-client: -c 8 -m 16 = 128 calls in flight,
one thread) when it is installed, else from a grpc.aio client in this process (which caps both figures lower).
Rounds interleave echo and each read, so a busy machine slows both sides alike; the ratio of each read to the echo
of its own round is what to compare. p50/p99 come from h2load's per-request log. Last, the garbage collections the
server made during the runs, by generation, with the longest pause (each stops every call in flight).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

ECHO_METHOD = "/bench.Echo/Echo"


# --- the servers (each runs in a child process of this script) ----------------------------------------------------

async def serve_echo() -> None:
    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return request

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"port": port}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await server.stop(0)


async def serve_storyloom(database_url: str) -> None:
    from sqlalchemy import text

    from storyloom.app import build_app, start
    from storyloom.config import Settings
    from storyloom.domain.requirements import Character, StoryRequirements
    from storyloom.domain.stories import StoryOptions
    from storyloom.logs import configure
    from storyloom.server import freeze_startup_heap, start_server

    configure("INFO", "json")  # the access log on, as in production (to /dev/null: the parent does not read it)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), database_url=database_url,
                            dev_bootstrap=False, text_engine="offline", log_level="INFO",
                            secret="bench-reads" if database_url else "")
        app = await build_app(settings)
        await start(app)
        user = await app.accounts.create_user("bench-reads")
        key = await app.accounts.create_key(user.id)
        requirements = StoryRequirements(characters=(Character(name="Luna", description="a brave fox"),),
                                         setting="an enchanted forest", tone="FUNNY", length="SHORT")
        task = await app.stories.create(user.id, requirements=requirements,
                                        options=StoryOptions(scene_count=5, skip_narration=True))
        async for _event in app.tasks.watch(user.id, task.id, 0):
            pass
        story_id = str(task.params["story_id"])
        story = await app.stories.get(user.id, story_id)
        picture = next(s.picture_id for s in story.scenes if s.picture_id)
        # An unfinished story of another user: written like the first, then put back to GENERATING (its task to
        # RUNNING) in the database before the server starts, so that it is read as one still being written is.
        other = await app.accounts.create_user("bench-reads-unfinished")
        other_key = await app.accounts.create_key(other.id)
        unfinished = await app.stories.create(other.id, requirements=requirements,
                                              options=StoryOptions(scene_count=5, skip_narration=True))
        async for _event in app.tasks.watch(other.id, unfinished.id, 0):
            pass
        async with app.db.engine.begin() as conn:
            await conn.execute(text("UPDATE stories SET state = 'GENERATING' WHERE id = :id"),
                               {"id": str(unfinished.params["story_id"])})
            await conn.execute(text("UPDATE tasks SET state = 'RUNNING', end_time = NULL WHERE id = :id"),
                               {"id": unfinished.id})
        running = await start_server(app)
        freeze_startup_heap()  # as `storyloom serve` does
        collections = GcPauses()
        print(json.dumps({"port": running.port, "key": key, "story": story.name, "task": f"tasks/{task.id}",
                          "user": user.id, "media": f"media/{picture}", "state": story.state,
                          "other_key": other_key, "unfinished_story": unfinished.target,
                          "unfinished_task": f"tasks/{unfinished.id}"}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        print(json.dumps({"gc": collections.stop()}), flush=True)
        await running.stop(0)
        await app.close()


class GcPauses:
    """The collections made from now on: by generation, how many, their time in all and the longest (ms)."""

    def __init__(self) -> None:
        self._began = 0.0
        self._seen = {generation: [0, 0.0, 0.0] for generation in range(3)}
        gc.callbacks.append(self._timed)

    def _timed(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        ms = (time.perf_counter() - self._began) * 1000
        seen = self._seen[info["generation"]]
        seen[0], seen[1], seen[2] = seen[0] + 1, seen[1] + ms, max(seen[2], ms)

    def stop(self) -> dict[int, list[float]]:
        gc.callbacks.remove(self._timed)
        return self._seen


# --- the load ------------------------------------------------------------------------------------------------------

class Target:
    def __init__(self, label: str, port: int, method: str, body: bytes, metadata: tuple[tuple[str, str], ...]):
        self.label, self.port, self.method, self.body, self.metadata = label, port, method, body, metadata
        self.response_bytes = 0


class Result:
    def __init__(self, rps: float, latencies_ms: list[float], failed: int):
        self.rps, self.failed = rps, failed
        ordered = sorted(latencies_ms) or [0.0]
        self.p50 = statistics.median(ordered)
        self.p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def framed(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def run_h2load(target: Target, seconds: float, connections: int, streams: int, tmp: Path) -> Result:
    body, log_file = tmp / "body.bin", tmp / "h2load.log"
    body.write_bytes(framed(target.body))
    log_file.unlink(missing_ok=True)
    headers = ["-H", "content-type: application/grpc", "-H", "te: trailers"]
    for key, value in target.metadata:
        headers += ["-H", f"{key}: {value}"]
    command = ["h2load", "-t", "1", "-c", str(connections), "-m", str(streams), "-D", str(max(1, round(seconds))),
               "--warm-up-time", "1", "-d", str(body), f"--log-file={log_file}", *headers,
               f"http://127.0.0.1:{target.port}{target.method}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(_field(output, "finished in", "req/s").split(",")[1].split()[0])
    data = _traffic_data(output)
    lines = [line.split("\t") for line in log_file.read_text().splitlines() if line]
    latencies = [int(f[2]) / 1000 for f in lines]
    # h2load only sees HTTP 200: a gRPC error would show as a body shorter than the verified response.
    expected = len(lines) * (target.response_bytes + 5)
    failed = 0 if data >= expected * 0.99 else len(lines)
    return Result(rps, latencies, failed)


def _field(output: str, start: str, contains: str) -> str:
    for line in output.splitlines():
        if line.strip().startswith(start) and contains in line:
            return line
    raise RuntimeError(f"h2load output without {start!r}:\n{output}")


def _traffic_data(output: str) -> int:
    line = _field(output, "traffic:", "data")
    # "traffic: 1.23MB (1290000) total, 12.3KB (12345) headers (space savings 90%), 1.2MB (1200000) data"
    part = line.split(",")[-1]
    return int(part[part.index("(") + 1:part.index(")")])


async def run_client(target: Target, seconds: float, connections: int, streams: int) -> Result:
    latencies: list[float] = []
    failed = 0
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{target.port}", options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(connections)]
    calls = [c.unary_unary(target.method) for c in channels]
    deadline = time.perf_counter() + seconds

    async def worker(call: Callable[..., Awaitable[bytes]]) -> None:
        nonlocal failed
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await call(target.body, metadata=target.metadata, timeout=30)
            except grpc.aio.AioRpcError:
                failed += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(calls[i % connections]) for i in range(connections * streams)))
    elapsed = time.perf_counter() - started
    for channel in channels:
        await channel.close()
    return Result(len(latencies) / elapsed, latencies, failed)


async def verify(target: Target) -> None:
    """One call, so an error is not benchmarked as a fast answer; remembers the response size."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{target.port}") as channel:
        reply: bytes = await channel.unary_unary(target.method)(target.body, metadata=target.metadata, timeout=30)
    target.response_bytes = len(reply)


@contextlib.contextmanager
def child(mode: str, database_url: str, log: Path):  # type: ignore[no-untyped-def]
    """The server of `mode` in a child process, its stderr (the JSON logs) to `log`."""
    command = [sys.executable, __file__, "--serve", mode, "--database-url", database_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server")}
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"),
                               env=env, text=True)
    assert process.stdout is not None
    started: dict[str, Any] = {}
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {mode} server did not start")
        started.update(json.loads(line))
        yield started
    finally:
        assert process.stdin is not None
        process.stdin.close()
        last = process.stdout.readline()  # what the server says as it stops (the storyloom server: its GC)
        if last.strip():
            started.update(json.loads(last))
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str):  # type: ignore[no-untyped-def]
    """A new PostgreSQL database for the run (dropped after it); its SQLAlchemy URL."""
    import uuid

    import asyncpg

    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"storyloom_bench_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://{dsn.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def main(args: argparse.Namespace) -> None:
    if args.postgres:
        async with postgres_database(args.postgres) as url:
            args.database_url = url
            await measure(args)
    else:
        await measure(args)


async def measure(args: argparse.Namespace) -> None:
    from storyloom.v1 import media_pb2, story_pb2, task_pb2

    use_h2load = shutil.which("h2load") is not None and not args.client
    with tempfile.TemporaryDirectory() as tmp, \
            child("storyloom", args.database_url, Path(tmp) / "server.log") as loom, \
            child("echo", "", Path(tmp) / "echo.log") as echo:
        auth = (("x-api-key", loom["key"]),)
        reads = [
            Target("GetStory (finished)", loom["port"], "/storyloom.v1.StoryService/GetStory",
                   story_pb2.GetStoryRequest(name=loom["story"]).SerializeToString(), auth),
            Target("GetTask (finished story task)", loom["port"], "/storyloom.v1.TaskService/GetTask",
                   task_pb2.GetTaskRequest(name=loom["task"]).SerializeToString(), auth),
            Target("ListTasks (1 finished)", loom["port"], "/storyloom.v1.TaskService/ListTasks",
                   task_pb2.ListTasksRequest(page_size=10).SerializeToString(), auth),
            Target("GetMediaInfo (picture)", loom["port"], "/storyloom.v1.MediaService/GetMediaInfo",
                   media_pb2.GetMediaInfoRequest(name=loom["media"]).SerializeToString(), auth),
            Target("GetStory (unfinished)", loom["port"], "/storyloom.v1.StoryService/GetStory",
                   story_pb2.GetStoryRequest(name=loom["unfinished_story"]).SerializeToString(),
                   (("x-api-key", loom["other_key"]),)),
            Target("GetTask (unfinished)", loom["port"], "/storyloom.v1.TaskService/GetTask",
                   task_pb2.GetTaskRequest(name=loom["unfinished_task"]).SerializeToString(),
                   (("x-api-key", loom["other_key"]),)),
        ]
        bare = Target("bare grpc.aio echo", echo["port"], ECHO_METHOD, reads[0].body, ())
        for target in (bare, *reads):
            try:
                await verify(target)
            except grpc.aio.AioRpcError:
                print(f"{target.label} failed; the server's log:", (Path(tmp) / "server.log").read_text()[-3000:])
                raise
        tool = (f"h2load -t1 -c{args.connections} -m{args.streams}" if use_h2load
                else f"grpc.aio client, {args.connections} channels x {args.streams}")
        print(f"reads vs bare echo: {tool}, {args.seconds:g} s a run, {args.rounds} rounds; "
              f"database {'PostgreSQL' if args.database_url else 'SQLite'}; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        rows: dict[str, list[tuple[Result, Result]]] = {t.label: [] for t in reads}
        for _ in range(args.rounds):
            for target in reads:
                if use_h2load:
                    base = run_h2load(bare, args.seconds, args.connections, args.streams, Path(tmp))
                    ours = run_h2load(target, args.seconds, args.connections, args.streams, Path(tmp))
                else:
                    base = await run_client(bare, args.seconds, args.connections, args.streams)
                    ours = await run_client(target, args.seconds, args.connections, args.streams)
                rows[target.label].append((ours, base))
        print(f"{'read':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} | {'echo req/s':>10} {'p50 ms':>7} "
              f"{'p99 ms':>7} | {'ratio':>6} (median of rounds)  failed")
        for label, pairs in rows.items():
            ours = [p[0] for p in pairs]
            base = [p[1] for p in pairs]
            ratio = statistics.median(o.rps / b.rps for o, b in pairs)
            print(f"{label:32} {_m(o.rps for o in ours):8.0f} {_m(o.p50 for o in ours):8.1f} "
                  f"{_m(o.p99 for o in ours):8.1f} | {_m(b.rps for b in base):10.0f} {_m(b.p50 for b in base):7.1f} "
                  f"{_m(b.p99 for b in base):7.1f} | {ratio:6.3f}x {'':18} {sum(o.failed for o in ours)}")
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    collections = loom.get("gc", {}).items()
    print("garbage collections in the server during the runs: " + ", ".join(
        f"gen{g} {int(n)} ({total:.0f} ms, longest {longest:.1f} ms)" for g, (n, total, longest) in collections))


def _m(values: object) -> float:
    return statistics.median(list(values))  # type: ignore[call-overload]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each run after a 1 s warm-up")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--streams", type=int, default=16, help="calls in flight per connection")
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--postgres", nargs="?", const="postgresql://postgres@127.0.0.1:5432/postgres", default="",
                        metavar="ADMIN_URL", help="on a new PostgreSQL database made through ADMIN_URL (default: "
                        "the local server, trust auth) instead of SQLite")
    parser.add_argument("--client", action="store_true", help="use the grpc.aio client even if h2load is there")
    parser.add_argument("--serve", choices=("storyloom", "echo"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "echo":
        asyncio.run(serve_echo())
    elif args.serve == "storyloom":
        asyncio.run(serve_storyloom(args.database_url))
    else:
        asyncio.run(main(args))

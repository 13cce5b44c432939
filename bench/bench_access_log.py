"""Benchmark: what the access log and the call metrics cost per call, side by side.

    .venv/bin/python bench/bench_access_log.py [--calls 3000] [--rounds 3]

A real server in this process answers cheap unary calls (GetTask of a missing task: sign-in, one query, an error
status) from concurrent clients, in rounds that alternate: access log off (WARNING), on as JSON, on as text, both
to /dev/null. It prints the process's CPU time per call (client and server together: the call's cost is less than
that, so the log's share of the server's work is more than the share shown) and the log's cost as microseconds of
CPU per call and as a share of the call.
Metrics are on in every round (they are not optional); the interceptor's own cost is measured separately, per
log line, by formatting records alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import served

from storyloom import logs
from storyloom.v1 import task_pb2, task_pb2_grpc

CONCURRENCY = 8


async def calls(stub: task_pb2_grpc.TaskServiceStub, metadata, count: int) -> float:
    async def worker(n: int) -> None:
        for _ in range(n):
            with contextlib.suppress(grpc.aio.AioRpcError):
                await stub.GetTask(task_pb2.GetTaskRequest(name="tasks/missing"), metadata=metadata)

    started = time.process_time()  # CPU time of this process: steadier than wall time on a shared machine
    await asyncio.gather(*(worker(count // CONCURRENCY) for _ in range(CONCURRENCY)))
    return time.process_time() - started


def log_to_devnull(fmt: str, level: str) -> None:
    logs.configure(level, fmt)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open("/dev/null", "w"))  # noqa: SIM115 - for the whole benchmark


def format_cost(fmt: str, lines: int = 20_000) -> float:
    """Microseconds to make and format one access-log record, without the call around it."""
    formatter = logs.JsonFormatter() if fmt == "json" else logs.TextFormatter()
    extra = {"method": "/storyloom.v1.TaskService/GetTask", "code": "NOT_FOUND", "duration_ms": 1.2,
             "user": "0123456789abcdef", "request_id": "7c4b9f1e-1111-2222-3333-444455556666",
             "peer": "ipv4:127.0.0.1:50000", "bytes_in": 20, "bytes_out": 0}
    logger = logging.getLogger("storyloom.access")
    started = time.perf_counter()
    for _ in range(lines):
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "rpc", (), None, extra=extra)
        formatter.format(record)
    return (time.perf_counter() - started) / lines * 1e6


async def main(count: int, rounds: int) -> None:
    async with served(log_level="INFO") as server:
        stub = task_pb2_grpc.TaskServiceStub(server.channel)
        await calls(stub, server.metadata, 400)  # warm up
        results: dict[str, list[float]] = {"off": [], "json": [], "text": []}
        try:
            for _ in range(rounds):
                for mode in results:
                    log_to_devnull("json" if mode == "off" else mode, "WARNING" if mode == "off" else "INFO")
                    results[mode].append(await calls(stub, server.metadata, count))
        finally:
            logs.configure("WARNING", "text")
    base = statistics.median(results["off"]) / count * 1e6
    print(f"{count} GetTask calls x {rounds} rounds, {CONCURRENCY} concurrent clients, client and server in one "
          "process")
    print(f"  access log off   {base:6.1f} us CPU/call")
    for mode in ("json", "text"):
        per_call = statistics.median(results[mode]) / count * 1e6
        print(f"  access log {mode:<5} {per_call:6.1f} us CPU/call   log +{per_call - base:5.1f} us/call "
              f"({(per_call - base) / per_call:5.1%} of a call)   formatting alone {format_cost(mode):4.1f} us/line")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))

"""Benchmark: chat replies on the offline storyteller through the real server: time to the
accepted event, to the first text, to the whole reply; alone and with concurrent users.

    make bench          (or: .venv/bin/python bench/bench_chat.py [--users 10] [--turns 5])

The seed plan asked for a first chunk under 3 s; the offline engine streams at its production
word pace (15 ms a word), so the whole-reply time is mostly that pace, by design.
"""

from __future__ import annotations

import argparse
import asyncio
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
from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc

MESSAGES = ("Hi! I want a story about a brave fox named Luna", "In an enchanted forest", "Make it funny",
            "It's for my 5 year old", "A short one please")


async def one_user(stub: conversation_pb2_grpc.ConversationServiceStub, metadata,
                   turns: int) -> list[tuple[float, float, float]]:
    conversation = await stub.CreateConversation(pb.CreateConversationRequest(parent="users/me"), metadata=metadata)
    timings = []
    for text in MESSAGES[:turns]:
        started = time.perf_counter()
        accepted = first = 0.0
        async for event in stub.SendMessage(pb.SendMessageRequest(conversation=conversation.name, text=text),
                                            metadata=metadata):
            kind = event.WhichOneof("event")
            if kind == "accepted":
                accepted = time.perf_counter() - started
            elif kind == "delta" and not first:
                first = time.perf_counter() - started
        timings.append((accepted, first, time.perf_counter() - started))
    return timings


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(0.95 * len(ordered)) - 1)]
    return f"{label} p50 {statistics.median(ordered) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"


async def main(users: int, turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline", messages_per_minute=1000)
        app = await build_app(settings)
        await start(app)
        running = await start_server(app)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                stub = conversation_pb2_grpc.ConversationServiceStub(channel)
                for concurrency in (1, users):
                    keys = []
                    for i in range(concurrency):
                        user = await app.accounts.create_user(f"bench-{concurrency}-{i}")
                        keys.append((("x-api-key", await app.accounts.create_key(user.id)),))
                    started = time.perf_counter()
                    results = await asyncio.gather(*(one_user(stub, k, turns) for k in keys))
                    elapsed = time.perf_counter() - started
                    rows = [r for user_rows in results for r in user_rows]
                    print(f"{concurrency} concurrent user(s), {turns} turns each, {len(rows)} replies "
                          f"in {elapsed:.1f} s")
                    print("  " + summary("accepted   ", [r[0] for r in rows]))
                    print("  " + summary("first text ", [r[1] for r in rows]))
                    print("  " + summary("whole reply", [r[2] for r in rows]))
        finally:
            await running.stop(0.5)
            await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--turns", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.turns))

"""Benchmark: chat replies on the offline storyteller through the real server, alone and with many streams at once:
time to the accepted event, to the first text, to the whole reply; errors, replies/s, SQL statements per reply.

    make bench          (or: .venv/bin/python bench/bench_chat.py [--levels 1,50,200,500] [--word-delay 0.015])
    .venv/bin/python bench/bench_chat.py --sqlite-synchronous FULL,NORMAL --levels 50 --word-delay 0 --rounds 3
    .venv/bin/python bench/bench_chat.py --postgres      (a new database on the local PostgreSQL, dropped after)

With several `--sqlite-synchronous` levels, each round runs every level in turn on a fresh server (rounds interleave
them, so a busy machine slows both alike); the data directory is on the disk the script is on (not a tmpfs), so
fsync costs what it costs.

Each level sends one message from each of N users at once (N concurrent SendMessage streams) and reads each reply to
its end; the N conversations are created before the clock starts (created in the same gather, as before 2026-12-05,
their writes spread the sends over seconds, so "500 at once" was about 80 at once and looked far better); level 1
sends `--one-stream-replies` messages one after another (one sample says little on a busy machine).
The offline engine streams at its production word pace (15 ms a word), so the whole-reply time is mostly that pace,
by design; "server-added" first text is the first-text time minus what the engine alone takes to its first word
(measured beside, in the same process). The statements are counted on the server's database engine. With many
streams, "handler began" says when each SendMessage handler started after the first one: the server's accepting
the calls, before any of our work (grpc.aio accepts one call of a method per pass of the event loop).
The load client shares the server's process and CPU, as in the issue's figures; with `--client-process` it runs in
a process of its own (as callers do), so the server's event loop does only the server's work; both ways the machine's
load average is printed, since other work on it slows everything alike.
Each level then runs again, with the same client, on a bare grpc.aio server streaming the same engine's reply with
nothing signed in, stored or announced (`BareChat`): what the machine does without Storyloom, and our p95 first text
as a multiple of it (`--no-bare` skips it).
With `--postgres --replicas N`, N-1 more server processes serve the same database beside the measured one (each warms
its engine first), and the load client spreads the streams over the N addresses in turn, as a balancer in front of
them would (the conversations are created through the replica that gets their send): what a 2-core machine gives
when it runs a replica a core. Statements, CPU and handler times are then this process's, one replica of N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_reads import postgres_database

from storyloom.api.conversations import ConversationServicer
from storyloom.app import build_app, start
from storyloom.config import Settings
from storyloom.domain.ports.text import ChatRequest, ChatTurn, TextDelta
from storyloom.server import server_options, start_server
from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc
from tests.support.sql_counter import counting_statements

TEXT = "Hi! I want a story about a brave fox named {name}"
SYLLABLES = ["lu", "mi", "ko", "ra", "ti", "no", "sa", "be", "do", "fa", "gi", "ha", "jo", "ka", "le", "ma"]
SAME_TEXT = False  # --same-text
ENGINE_SAMPLES = itertools.count()


def first_message(sender: str) -> str:
    """The message `sender` sends: each its own made-up name, as families' messages differ. With the same text from
    every user (what this bench sent before 2026-12-06: `--same-text`), the engine's memory of past readings answers
    all but the first, and a burst never pays for reading a new message (~0.6 ms of the event loop each, 3.5 ms
    before that reading stopped compiling a pattern per name)."""
    if SAME_TEXT:
        return TEXT.format(name="Luna")
    n = zlib.crc32(sender.encode())
    return TEXT.format(name="".join(SYLLABLES[(n >> shift) % 16] for shift in (0, 4, 8, 12, 16)).capitalize())


async def new_conversation(stub: conversation_pb2_grpc.ConversationServiceStub, metadata: Any) -> str:
    conversation = await stub.CreateConversation(pb.CreateConversationRequest(parent="users/me"), metadata=metadata)
    return conversation.name


async def one_reply(stub: conversation_pb2_grpc.ConversationServiceStub, metadata: Any, conversation: str,
                    text: str, deadline: float) -> tuple[float, float, float, int] | str:
    """(accepted, first text, whole reply, words) in seconds, or the error's code name."""
    started = time.perf_counter()
    accepted = first = 0.0
    deltas = 0
    try:
        async for reply_event in stub.SendMessage(pb.SendMessageRequest(conversation=conversation, text=text),
                                                  metadata=metadata, timeout=deadline):
            kind = reply_event.WhichOneof("event")
            if kind == "accepted":
                accepted = time.perf_counter() - started
            elif kind == "delta":
                deltas += 1
                first = first or time.perf_counter() - started
            elif kind == "error":
                return f"in-band {reply_event.error.code}"
    except grpc.aio.AioRpcError as exc:
        return refusal(exc, time.perf_counter() - started)
    return accepted, first, time.perf_counter() - started, deltas


REFUSAL_TIMES: list[float] = []  # seconds from SendMessage to each RESOURCE_EXHAUSTED


def refusal(error: grpc.aio.AioRpcError, after: float) -> str:
    """The error's code, with its ErrorInfo reason and whether it says when to retry (RetryInfo)."""
    name = error.code().name
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return f"{name} (no details)"
    reasons = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    info = error_details_pb2.ErrorInfo()
    if reasons:
        reasons[0].Unpack(info)
    retry = any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)
    if error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
        REFUSAL_TIMES.append(after)
    return f"{name} {info.reason or '-'}{' +RetryInfo' if retry else ''}"


def percentiles(values: list[float]) -> str:
    if not values:
        return "        -"
    return f"p50 {statistics.median(values) * 1000:8.1f} ms  p95 {p95(values) * 1000:8.1f} ms"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0


Results = list[tuple[float, float, float, int] | str]


async def send_all(addresses: list[str], sends: list[Any], conversations: list[str], texts: list[str],
                   deadline: float, one_after_another: bool) -> tuple[Results, list[float]]:
    """Each conversation's message, at once (or one after another), the i-th to the i-th address in turn, each reply
    read to its end; the refusal times."""
    REFUSAL_TIMES.clear()
    async with contextlib.AsyncExitStack() as channels:
        stubs = []
        for address in addresses:
            channel = await channels.enter_async_context(grpc.aio.insecure_channel(address))
            await channel.channel_ready()  # connected before the clock starts
            stubs.append(conversation_pb2_grpc.ConversationServiceStub(channel))
        calls = [(stubs[i % len(stubs)], key, name, text)
                 for i, (key, name, text) in enumerate(zip(sends, conversations, texts, strict=True))]
        if one_after_another:
            results: Results = [await one_reply(stub, key, name, text, deadline) for stub, key, name, text in calls]
        else:
            results = list(await asyncio.gather(*(one_reply(stub, key, name, text, deadline)
                                                  for stub, key, name, text in calls)))
    return results, list(REFUSAL_TIMES)


def send_all_in_this_process(*args: Any) -> tuple[Results, list[float]]:
    """`send_all` in the load client's own process (its own event loop)."""
    return asyncio.run(send_all(*args))


async def run_load(addresses: list[str], sends: list[Any], conversations: list[str], deadline: float,
                   one_after_another: bool, client: Executor | None) -> tuple[Results, list[float], float]:
    """`send_all`, in the client process if there is one; its results, refusal times and seconds."""
    # Each server its own names: the bare server shares our engine, and its memory, and gets the same conversations.
    texts = [first_message(f"{addresses[0]} {name}") for name in conversations]
    started = time.perf_counter()
    if client is None:
        results, refusal_times = await send_all(addresses, sends, conversations, texts, deadline, one_after_another)
    else:
        results, refusal_times = await asyncio.get_running_loop().run_in_executor(
            client, send_all_in_this_process, addresses, sends, conversations, texts, deadline, one_after_another)
    return results, refusal_times, time.perf_counter() - started


@contextlib.contextmanager
def time_handlers() -> Iterator[list[float]]:
    """When each SendMessage handler of a server started in the block begins (the server accepted the call and
    signed its caller in): under a burst, what separates the first from the last is the server's accepting them."""
    began: list[float] = []
    send = ConversationServicer.SendMessage

    async def timed(self: ConversationServicer, request: Any, context: Any) -> Any:
        began.append(time.perf_counter())
        async for event in send(self, request, context):
            yield event

    ConversationServicer.SendMessage = timed  # type: ignore[method-assign]
    try:
        yield began
    finally:
        ConversationServicer.SendMessage = send  # type: ignore[method-assign]


async def engine_first_word(app: Any) -> float:
    """What the engine alone takes to its first word (median of 5), the part of first text the server does not add."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        text = first_message(f"engine {next(ENGINE_SAMPLES)}")
        async for item in app.text_engine.chat(ChatRequest(system_instruction="", turns=[ChatTurn("user", text)])):
            if isinstance(item, TextDelta) and item.text:
                times.append(time.perf_counter() - started)
                break
    return statistics.median(times)


class BareChat(conversation_pb2_grpc.ConversationServiceServicer):
    """The baseline: SendMessage on a bare grpc.aio server streaming the same engine's reply, as our events do (the
    accepted event, a delta per engine delta, the finished message), with nothing signed in, stored or announced."""

    def __init__(self, engine: Any):
        self._engine = engine

    async def SendMessage(self, request: pb.SendMessageRequest, context: Any) -> Any:
        reply = f"{request.conversation}/messages/reply"
        sequence = 1
        yield pb.ReplyEvent(sequence=sequence, reply=reply, accepted=pb.ReplyAccepted(
            user_message=pb.Message(name=f"{request.conversation}/messages/user", text=request.text), task="tasks/t"))
        text = []
        async for item in self._engine.chat(ChatRequest(system_instruction="", turns=[ChatTurn("user", request.text)])):
            if isinstance(item, TextDelta) and item.text:
                sequence += 1
                text.append(item.text)
                yield pb.ReplyEvent(sequence=sequence, reply=reply, delta=pb.ReplyDelta(text=item.text))
        yield pb.ReplyEvent(sequence=sequence + 1, reply=reply, finished=pb.ReplyFinished(
            message=pb.Message(name=reply, text="".join(text))))


@contextlib.asynccontextmanager
async def bare_server(app: Any) -> Any:
    """A bare grpc.aio server (the same options as ours, no interceptors) serving `BareChat`; its address."""
    server = grpc.aio.server(options=server_options(app.settings))
    conversation_pb2_grpc.add_ConversationServiceServicer_to_server(BareChat(app.text_engine), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0.5)


class Replicas:
    """More server processes on the measured server's database (`--replicas`), each serving until stopped."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._ports, self._stop = context.Queue(), context.Event()
        self._context = context
        self._processes: list[Any] = []

    async def start(self, settings: Settings, count: int) -> list[str]:
        """Starts `count` of them; their addresses once each serves."""
        self._processes = [self._context.Process(target=serve_replica, args=(settings, self._ports, self._stop))
                           for _ in range(count)]
        for process in self._processes:
            process.start()
        loop = asyncio.get_running_loop()
        return [f"127.0.0.1:{await loop.run_in_executor(None, self._ports.get, True, 300)}" for _ in self._processes]

    async def stop(self) -> None:
        self._stop.set()
        for process in self._processes:
            await asyncio.get_running_loop().run_in_executor(None, process.join, 60)


def serve_replica(settings: Settings, ports: Any, stop: Any) -> None:
    """A replica's process: the app on `settings` (the same database), its engine warmed as the measured server's
    is, its port put in `ports`, served until `stop` is set."""
    async def serve() -> None:
        app = await build_app(settings)
        await start(app)
        await engine_first_word(app)
        running = await start_server(app)
        ports.put(running.port)
        try:
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        finally:
            await running.stop(0.5)
            await app.close()

    asyncio.run(serve())


async def main(levels: list[int], word_delay: float, deadline: float, concurrent_replies: int,
               synchronous: str, postgres: str, one_stream_replies: int, client_process: bool, bare: bool,
               replicas: int) -> None:
    client = (ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) if client_process else None)
    try:
        if client is not None:  # the process started and its imports done before anything is measured
            await asyncio.get_running_loop().run_in_executor(client, percentiles, [])
        if postgres:
            async with postgres_database(postgres) as url:
                await measure(levels, word_delay, deadline, concurrent_replies, synchronous, url, one_stream_replies,
                              client, bare, replicas)
        else:
            await measure(levels, word_delay, deadline, concurrent_replies, synchronous, "", one_stream_replies,
                          client, bare, replicas)
    finally:
        if client is not None:
            client.shutdown()


async def measure(levels: list[int], word_delay: float, deadline: float, concurrent_replies: int,
                  synchronous: str, database_url: str, one_stream_replies: int, client: Executor | None,
                  bare: bool, replicas: int) -> None:
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline", messages_per_minute=100_000, offline_word_delay_seconds=word_delay,
                            concurrent_replies=concurrent_replies, sqlite_synchronous=synchronous,
                            database_url=database_url, secret="bench-chat" if database_url else "")
        app = await build_app(settings)
        await start(app)
        with time_handlers() as handlers_began:
            running = await start_server(app)
        more = Replicas()
        try:
            addresses = [f"127.0.0.1:{running.port}", *await more.start(settings, replicas - 1)]
            with counting_statements(app.db.engine) as statements:
                engine_first = await engine_first_word(app)
                database = "PostgreSQL" if database_url else f"SQLite synchronous={synchronous}"
                print(f"chat replies, {database}, {concurrent_replies} written at once, offline "
                      f"engine at {word_delay * 1000:g} ms a word; load client in "
                      f"{'a process of its own' if client else 'the server process'}; engine alone to its first word "
                      f"{engine_first * 1000:.1f} ms; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
                if replicas > 1:
                    print(f"   {replicas} replicas, the streams spread over them in turn: statements, CPU and handler "
                          "times below are this process's, one replica's")
                async with contextlib.AsyncExitStack() as channels:
                    stubs = [conversation_pb2_grpc.ConversationServiceStub(
                        await channels.enter_async_context(grpc.aio.insecure_channel(address)))
                        for address in addresses]
                    for concurrency in levels:
                        keys = []
                        for i in range(concurrency):
                            user = await app.accounts.create_user(f"bench-{concurrency}-{i}")
                            keys.append((("x-api-key", await app.accounts.create_key(user.id)),))
                        for key in keys:  # warm the key cache: the keys' first lookups are not what is measured
                            await app.accounts.authenticate(key[0][1])
                        statements_before = len(statements)
                        # The conversations first, so that every stream's SendMessage goes out at once (created in
                        # the same gather, their writes spread the sends over seconds).
                        sends = ([keys[0]] * one_stream_replies if concurrency == 1 else keys)
                        conversations = await asyncio.gather(*(new_conversation(stubs[i % len(stubs)], key)
                                                               for i, key in enumerate(sends)))
                        # One stream: replies one after another (percentiles of several).
                        load = (sends, conversations, deadline, concurrency == 1)
                        handlers_began.clear()
                        # This thread runs the server's event loop; the process, its other threads too (and the
                        # load client, unless it has a process of its own).
                        loop_cpu, process_cpu = time.thread_time(), time.process_time()
                        results, refusal_times, elapsed = await run_load(addresses, *load, client=client)
                        loop_cpu, process_cpu = time.thread_time() - loop_cpu, time.process_time() - process_cpu
                        rows = [r for r in results if not isinstance(r, str)]
                        errors: dict[str, int] = {}
                        for r in results:
                            if isinstance(r, str):
                                errors[r] = errors.get(r, 0) + 1
                        words = statistics.median([r[3] for r in rows]) if rows else 0
                        print(f"{concurrency:4} concurrent streams: {len(rows)} replies ({words:.0f} chunks each) in "
                              f"{elapsed:.1f} s = {len(rows) / elapsed:.1f} replies/s; errors {errors or 0}; "
                              f"{(len(statements) - statements_before) / max(1, len(results)):.0f} SQL statements "
                              f"per reply (CreateConversation included)")
                        print(f"       CPU per reply     event loop {loop_cpu / max(1, len(rows)) * 1000:.2f} ms, "
                              f"process {process_cpu / max(1, len(rows)) * 1000:.2f} ms"
                              f"{'' if client else ' (the load client included)'}")
                        print("       accepted          " + percentiles([r[0] for r in rows]))
                        print("       first text        " + percentiles([r[1] for r in rows]))
                        print("       first text, server-added " + percentiles([max(0.0, r[1] - engine_first)
                                                                              for r in rows]))
                        print("       whole reply       " + percentiles([r[2] for r in rows]))
                        if refusal_times:
                            print("       refused after     " + percentiles(refusal_times))
                        if concurrency > 1 and handlers_began:
                            print("       handler began     " + percentiles(
                                [t - min(handlers_began) for t in handlers_began]) + "  after the first: grpc.aio "
                                "accepts one call of a method per pass of the event loop")
                        if bare:
                            async with bare_server(app) as bare_address:
                                base, _refused, base_elapsed = await run_load([bare_address], *load, client=client)
                            base_rows = [r for r in base if not isinstance(r, str)]
                            print(f"       bare grpc.aio, the same engine and client, nothing stored: "
                                  f"{len(base_rows)} replies, {len(base) - len(base_rows)} errors, "
                                  f"{len(base_rows) / base_elapsed:.1f} replies/s")
                            first_texts, base_firsts = [r[1] for r in rows], [r[1] for r in base_rows]
                            print("         first text      " + percentiles(base_firsts)
                                  + f"  (ours at p95: {p95(first_texts) / max(1e-9, p95(base_firsts)):.2f}x)")
                            print("         whole reply     " + percentiles([r[2] for r in base_rows]))
                print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        finally:
            await more.stop()
            await running.stop(0.5)
            await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,50,200,500", help="concurrent streams per level, comma-separated")
    parser.add_argument("--word-delay", type=float, default=0.015, help="the offline engine's seconds per word")
    parser.add_argument("--deadline", type=float, default=180.0, help="each SendMessage's deadline, seconds")
    parser.add_argument("--concurrent-replies", type=int, default=Settings.concurrent_replies)
    parser.add_argument("--sqlite-synchronous", default=Settings.sqlite_synchronous,
                        help="SQLite synchronous level(s), comma-separated: NORMAL, FULL")
    parser.add_argument("--rounds", type=int, default=1, help="times each synchronous level runs, interleaved")
    parser.add_argument("--one-stream-replies", type=int, default=20,
                        help="replies sent one after another at level 1 (its percentiles are over these)")
    parser.add_argument("--postgres", nargs="?", const="postgresql://postgres@127.0.0.1:5432/postgres", default="",
                        help="run on a new database of this PostgreSQL server instead of SQLite")
    parser.add_argument("--client-process", action="store_true",
                        help="run the load client in a process of its own instead of the server's event loop")
    parser.add_argument("--no-bare", action="store_true",
                        help="skip the baseline: each level again on a bare grpc.aio server streaming the same engine")
    parser.add_argument("--replicas", type=int, default=1,
                        help="with --postgres: this many server processes on the database, streams spread over them")
    parser.add_argument("--same-text", action="store_true",
                        help="every user sends the same message (the engine reads it once), as before 2026-12-06")
    args = parser.parse_args()
    if args.replicas > 1 and not args.postgres:
        parser.error("--replicas needs --postgres: SQLite is one process's")
    SAME_TEXT = args.same_text
    for _round in range(args.rounds):
        for level in args.sqlite_synchronous.upper().split(","):
            asyncio.run(main([int(x) for x in args.levels.split(",")], args.word_delay, args.deadline,
                             args.concurrent_replies, level, args.postgres, args.one_stream_replies,
                             args.client_process, not args.no_bare, args.replicas))

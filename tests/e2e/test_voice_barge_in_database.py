"""A voice session that is barged in on again and again never locks the database for anyone else.

The attack that found it: a Converse stream speaks ~2.5 s, pauses ~0.8 s and speaks again, so every reply is cut
while it is being written. Each cut cancelled the reply's store calls mid-statement; SQLAlchemy threw those
connections away, and on SQLite one closed with a statement open kept the write lock, so every other user's writes
failed after the busy timeout until the stream ended. Here another user writes all along, on SQLite and PostgreSQL,
and none of it may fail; no pooled connection may be thrown away; PostgreSQL keeps no session idle in a transaction
after the stream is cancelled mid-reply.

STORYLOOM_BARGE_IN_SECONDS sets how long the speaker keeps barging in (60 by default).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest_asyncio

from storyloom.app import App, build_app, start
from storyloom.domain.tasks import LIVE_STATES
from storyloom.server import start_server
from storyloom.v1 import conversation_pb2, conversation_pb2_grpc
from tests.support.databases import discarded_connections, idle_in_transaction
from tests.support.server import Caller, StoryloomServer, settings_for_tests
from tests.support.voice import CHUNK_SECONDS, ConverseClient, kind, silence, speech

SECONDS = float(os.environ.get("STORYLOOM_BARGE_IN_SECONDS", "60"))
# About 2.5 s of speech in the piper voice.
UTTERANCE = "Tell me a story about a dragon who flies."


@pytest_asyncio.fixture
async def server(tmp_path: Path, database_url: str) -> AsyncIterator[StoryloomServer]:
    app = await build_app(settings_for_tests(tmp_path / "data", database_url=database_url,
                                             messages_per_minute=100_000))
    await start(app)
    await app.voice.engines.warm_up()
    running = await start_server(app)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield StoryloomServer(app, running, channel)
    finally:
        await channel.close()
        await running.stop(0.5)
        await app.close()


async def keep_writing(server: StoryloomServer, writer: Caller, until: float) -> tuple[int, list[str]]:
    """Creates conversations as `writer` until `until`; returns how many succeeded and each failure."""
    stub = conversation_pb2_grpc.ConversationServiceStub(server.channel)
    done, failures = 0, []
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            await stub.CreateConversation(conversation_pb2.CreateConversationRequest(parent=writer.parent),
                                          metadata=writer.metadata, timeout=60)
            done += 1
        except grpc.aio.AioRpcError as error:
            failures.append(f"after {time.monotonic() - started:.1f} s: {error.code().name} {error.details()}")
        await asyncio.sleep(0.1)
    return done, failures


async def barge_in_until(client: ConverseClient, pcm: bytes, until: float) -> None:
    """Speaks, pauses (the end of the turn), and as soon as the reply starts coming speaks over it.

    The pause lasts until the reply's first words, however soon they come: a reply may start within the pause that
    ends the turn (a finished-sounding sentence ends it after 0.2 s, and its reply was drafted meanwhile), so the
    reply is looked for from the end of the speech on, not from a fixed pause's end."""
    while time.monotonic() < until:
        await client.speak(pcm)
        asked = len(client.events)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(kind(e) == "reply_text" for e in client.events[asked:]):
            await client.speak(silence(CHUNK_SECONDS))


async def live_tasks(app: App, user_id: str) -> int:
    return len(await app.tasks.list(user_id, states=LIVE_STATES, limit=100))


async def test_barge_ins_never_fail_another_users_writes(server: StoryloomServer, database_url: str) -> None:
    speaker, writer = await server.new_caller("speaker"), await server.new_caller("writer")
    discarded = discarded_connections(server.app.db)
    pcm = await speech(server.app.voice.engines.tts, UTTERANCE)
    client = ConverseClient(server.channel, speaker.metadata)
    client.configure()
    await client.wait_for(lambda e: kind(e) == "session_started")

    until = time.monotonic() + SECONDS
    writes = asyncio.create_task(keep_writing(server, writer, until))
    await barge_in_until(client, pcm, until)
    done, failures = await writes

    assert failures == []
    assert done >= SECONDS  # it kept writing all along (about 8 a second when nothing waits)
    interruptions = len(client.of_kind("interrupted"))
    assert interruptions >= 3, f"only {interruptions} barge-ins: the test did not do what it is for"
    # Each utterance starts once the reply to the one before has begun: every reply but the last is cut.
    answered = {e.turn for e in client.of_kind("reply_text")}
    assert interruptions >= len(answered) - 1, f"{interruptions} barge-ins for {len(answered)} replies"
    assert [e.error for e in client.of_kind("error")] == []
    assert discarded == [], "a cancelled store call cut a statement short and its connection was thrown away"

    # A stream cancelled while a reply is written: its work ends and leaves no transaction open.
    asked = len(client.events)
    await client.speak(pcm)
    await client.speak(silence(0.8))
    await client.wait_for(lambda e: kind(e) == "reply_text", after=asked, timeout=30)
    await client.cancel()
    deadline = time.monotonic() + 30
    while await live_tasks(server.app, speaker.user_id):
        assert time.monotonic() < deadline, "the cancelled stream's reply never finished"
        await asyncio.sleep(0.05)
    assert discarded == []
    if not server.app.db.is_sqlite:
        assert await idle_in_transaction(database_url) == []
    started = time.monotonic()
    await server.app.conversations.create(writer.user_id, "after the stream")
    assert time.monotonic() - started < 5

"""Replies and a server process that dies or is stopped mid-reply: `python -m storyloom serve` on the offline
storyteller, slowed down so that there is a "mid-reply" to kill.

Whatever happens, nothing accepted is lost: the user's message stays stored, and the reply keeps the text written
before the end, which StreamReply replays gap-free, ending with an in-band error when the reply was interrupted.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2

from storyloom.domain.conversations import SYSTEM_INSTRUCTION, Message
from storyloom.domain.ports.text import ChatRequest, ChatTurn
from storyloom.engines.text.offline import OfflineStoryteller
from storyloom.store.conversations import SqlConversationRepository
from storyloom.store.db import Database
from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc, task_pb2, task_pb2_grpc
from tests.support.errors import in_band_reason
from tests.support.server import Caller, caller_in_data_dir, caller_in_database, settings_for_tests
from tests.support.server_process import ServerProcess

TEXT = "I want a story about a brave little fox named Luna"


def server(tmp_path: Path, *, word_delay: float, grace: float = 2.0,
           env: dict[str, str] | None = None) -> ServerProcess:
    """`env`: more variables (a PostgreSQL database's, say)."""
    return ServerProcess(tmp_path / "data", tmp_path / "server.log", env={
        "STORYLOOM_TEXT_ENGINE": "offline", "STORYLOOM_OFFLINE_WORD_DELAY_SECONDS": str(word_delay),
        "STORYLOOM_SHUTDOWN_GRACE_SECONDS": str(grace), **(env or {})})


@pytest.fixture
def processes():
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.kill()


async def stored_message(database_url: str, name: str) -> Message:
    """The message as it is stored, read while no server runs."""
    db = Database(database_url)
    try:
        message = await SqlConversationRepository(db).get_message(name.rsplit("/", 1)[1])
    finally:
        await db.close()
    assert message is not None
    return message


def full_reply() -> str:
    """What the offline storyteller writes in reply to TEXT when nothing stops it."""
    return OfflineStoryteller(word_delay=0).reply_text(ChatRequest(SYSTEM_INSTRUCTION, [ChatTurn("user", TEXT)]))


def kinds(events: list[pb.ReplyEvent]) -> list[str]:
    return [e.WhichOneof("event") for e in events]


def text_of(events: list[pb.ReplyEvent]) -> str:
    return "".join(e.delta.text for e in events if e.WhichOneof("event") == "delta")


async def send_until(stub, caller: Caller, events: int, then) -> tuple[str, list[pb.ReplyEvent]]:
    """Creates a conversation, sends TEXT and reads the reply; after `events` events calls `then()` and reads on
    until the stream ends. Returns the conversation and the events seen."""
    conversation = (await stub.CreateConversation(pb.CreateConversationRequest(parent="users/me"),
                                                  metadata=caller.metadata)).name
    seen: list[pb.ReplyEvent] = []
    try:
        async for event in stub.SendMessage(pb.SendMessageRequest(conversation=conversation, text=TEXT),
                                            metadata=caller.metadata):
            seen.append(event)
            if len(seen) == events:
                then()
    except grpc.aio.AioRpcError:
        pass  # the server went away under the stream
    return conversation, seen


async def after_restart(process: ServerProcess, caller: Caller, conversation: str, reply: str,
                        after_sequence: int) -> tuple[list[pb.Message], list[pb.ReplyEvent], list[pb.ReplyEvent],
                                                      task_pb2.Task]:
    """Restarts the server and reads back: the messages, StreamReply after `after_sequence` and from the start,
    and the reply's task."""
    process.start()
    async with grpc.aio.insecure_channel(process.address) as channel:
        stub = conversation_pb2_grpc.ConversationServiceStub(channel)
        rest = [e async for e in stub.StreamReply(pb.StreamReplyRequest(name=reply, after_sequence=after_sequence),
                                                  metadata=caller.metadata)]
        replay = [e async for e in stub.StreamReply(pb.StreamReplyRequest(name=reply), metadata=caller.metadata)]
        messages = (await stub.ListMessages(pb.ListMessagesRequest(parent=conversation),
                                            metadata=caller.metadata)).messages
        task = await task_pb2_grpc.TaskServiceStub(channel).GetTask(
            task_pb2.GetTaskRequest(name=replay[0].accepted.task), metadata=caller.metadata)
    return list(messages), rest, replay, task


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server's variables for its database: none (SQLite in its data directory), or a new PostgreSQL database's
    (one replica, its task lease short)."""
    return {} if request.param == "sqlite" else request.getfixturevalue("cluster_env")


async def test_a_reply_killed_mid_stream_is_failed_as_interrupted_after_restart_keeping_its_text(
        tmp_path, processes, database_env):
    process = server(tmp_path, word_delay=0.1, env=database_env)
    if "STORYLOOM_DATABASE_URL" in database_env:  # the restarted process resumes the dead one's task after its lease
        database_url = database_env["STORYLOOM_DATABASE_URL"]
        caller = await caller_in_database(database_url)
    else:
        database_url = settings_for_tests(process.data_dir).resolved_database_url
        caller = await caller_in_data_dir(process.data_dir)
    processes.append(process)
    process.start()
    async with grpc.aio.insecure_channel(process.address) as channel:
        stub = conversation_pb2_grpc.ConversationServiceStub(channel)
        conversation, seen = await send_until(stub, caller, 4, process.kill)  # SIGKILL: no clean-up at all
    assert kinds(seen) == ["accepted", "delta", "delta", "delta"]
    reply = seen[0].reply
    on_disk = await stored_message(database_url, reply)  # what the killed server left
    assert on_disk.state == "GENERATING"
    assert on_disk.text.startswith(text_of(seen))  # every chunk shown had been stored first
    assert full_reply().startswith(on_disk.text) and on_disk.text != full_reply()  # cut mid-reply

    messages, rest, replay, task = await after_restart(process, caller, conversation, reply, seen[-1].sequence)

    stored_reply, user_message = messages
    assert user_message.role == pb.MESSAGE_ROLE_USER and user_message.text == TEXT
    assert user_message.state == pb.MESSAGE_STATE_COMPLETE
    assert stored_reply.name == reply and stored_reply.state == pb.MESSAGE_STATE_FAILED
    assert stored_reply.text == on_disk.text  # kept as it was, not rewritten nor continued
    # Re-attaching after the last event seen gives the rest, ending with the in-band error.
    assert [e.sequence for e in seen + rest] == list(range(1, len(seen) + len(rest) + 1))
    assert rest[-1].WhichOneof("event") == "error"
    assert rest[-1].error.code == code_pb2.ABORTED and in_band_reason(rest[-1].error) == "REPLY_INTERRUPTED"
    assert text_of(seen + rest) == stored_reply.text
    # A full replay is gap-free and starts with exactly what the first connection saw.
    assert [e.sequence for e in replay] == list(range(1, len(replay) + 1))
    assert [e.SerializeToString() for e in replay[:len(seen)]] == [e.SerializeToString() for e in seen]
    assert replay[len(seen):] == rest
    # The task says the same as the reply.
    assert task.state == task_pb2.TASK_STATE_FAILED and task.attempt == 2
    assert task.error.code == code_pb2.ABORTED and in_band_reason(task.error) == "REPLY_INTERRUPTED"


async def sigterm_mid_reply(tmp_path: Path, processes: list[ServerProcess], *, word_delay: float,
                           grace: float) -> tuple[ServerProcess, Caller, str, list[pb.ReplyEvent]]:
    """A server stopped by SIGTERM after the third event of a reply; it must exit cleanly."""
    process = server(tmp_path, word_delay=word_delay, grace=grace)
    processes.append(process)
    caller = await caller_in_data_dir(process.data_dir)
    process.start()
    assert process.proc is not None
    async with grpc.aio.insecure_channel(process.address) as channel:
        stub = conversation_pb2_grpc.ConversationServiceStub(channel)
        conversation, seen = await send_until(stub, caller, 3, lambda: process.proc.send_signal(signal.SIGTERM))
    assert await asyncio.to_thread(process.proc.wait, 20) == 0
    return process, caller, conversation, seen


async def test_a_reply_in_progress_at_sigterm_is_finished_before_the_server_exits(tmp_path, processes):
    process, caller, conversation, seen = await sigterm_mid_reply(tmp_path, processes, word_delay=0.02, grace=10.0)

    assert kinds(seen)[-1] == "finished"  # the draining server let the reply end
    assert [e.sequence for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].finished.message.text == text_of(seen) == full_reply()
    on_disk = await stored_message(settings_for_tests(process.data_dir).resolved_database_url, seen[0].reply)
    assert on_disk.state == "COMPLETE" and on_disk.text == full_reply()

    messages, _, replay, task = await after_restart(process, caller, conversation, seen[0].reply, 0)

    assert [m.text for m in messages] == [full_reply(), TEXT]
    assert replay[1:] == seen[1:]
    assert task.state == task_pb2.TASK_STATE_SUCCEEDED and task.attempt == 1


async def test_a_reply_longer_than_the_sigterm_grace_is_failed_as_interrupted_after_restart(tmp_path, processes):
    process, caller, conversation, seen = await sigterm_mid_reply(tmp_path, processes, word_delay=0.1, grace=0.5)

    assert "finished" not in kinds(seen) and "error" not in kinds(seen)  # cut off when the grace ran out
    on_disk = await stored_message(settings_for_tests(process.data_dir).resolved_database_url, seen[0].reply)
    assert on_disk.state == "GENERATING" and on_disk.text.startswith(text_of(seen))
    assert on_disk.text != full_reply()

    messages, rest, replay, task = await after_restart(process, caller, conversation, seen[0].reply,
                                                       seen[-1].sequence)

    assert messages[1].text == TEXT
    assert messages[0].state == pb.MESSAGE_STATE_FAILED and messages[0].text == on_disk.text
    assert [e.sequence for e in seen + rest] == list(range(1, len(seen) + len(rest) + 1))
    assert in_band_reason(rest[-1].error) == "REPLY_INTERRUPTED"
    assert text_of(replay) == on_disk.text
    assert task.state == task_pb2.TASK_STATE_FAILED

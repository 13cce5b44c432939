"""Reply chunks on a real server and database: group-committed, append-only, the text assembled at the end."""

from __future__ import annotations

import pytest

from storyloom.v1 import conversation_pb2 as pb
from storyloom.v1 import conversation_pb2_grpc
from tests.conftest import serving, settings_for_tests
from tests.support.sql_counter import counting_statements, hearing


@pytest.fixture
async def server(tmp_path, database_url):
    # Word delay 0: the engine writes faster than one transaction a word, so chunks must share transactions.
    settings = settings_for_tests(tmp_path / "data", database_url=database_url, offline_word_delay_seconds=0.0)
    async with serving(settings) as running:
        yield running


# What the task runner runs now and then whatever the reply does: its look for work and its clean-ups (the tasks'
# retention, the sweep of media tasks left unattached).
PERIODIC_STATEMENTS = ("tasks.owner IS NULL AND tasks.kind IN", "WHERE tasks.end_time <",
                       "media.made_by_task IS NOT NULL")


async def first_exchange_counted(server):
    """A new caller's first message in a new conversation, sent to the end of its reply, with the statements it ran
    counted: (caller, stub, conversation, events, counter)."""
    caller = await server.new_caller()
    stub = conversation_pb2_grpc.ConversationServiceStub(server.channel)
    conversation = await stub.CreateConversation(pb.CreateConversationRequest(parent="users/me"),
                                                 metadata=caller.metadata)
    with counting_statements(server.app.db.engine) as sql:
        events = [e async for e in stub.SendMessage(
            pb.SendMessageRequest(conversation=conversation.name, text="A story about a brave fox named Luna"),
            metadata=caller.metadata)]
    return caller, stub, conversation, events, sql


async def test_a_reply_s_words_are_stored_and_streamed_as_fewer_chunks_and_its_text_stored_once(server):
    caller, stub, conversation, events, sql = await first_exchange_counted(server)
    deltas = [e.delta.text for e in events if e.WhichOneof("event") == "delta"]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].WhichOneof("event") == "finished" and events[-1].finished.message.text == "".join(deltas)
    words = "".join(deltas).split()  # (the offline engine writes a word at a time)
    chunk_inserts = [s for s in sql.statements if "INSERT INTO REPLY_CHUNKS" in s.upper()]
    # A transaction stores one chunk of the reply, the words written meanwhile; each chunk is one delta.
    assert len(words) > 10 and 1 <= len(chunk_inserts) == len(deltas) < len(words), (
        len(words), len(chunk_inserts), len(deltas))
    # Append-only: no statement changes the message per chunk.
    message_updates = [s for s in sql.statements if s.lstrip().upper().startswith("UPDATE MESSAGES")]
    assert len(message_updates) <= 2, message_updates

    replay = [e async for e in stub.StreamReply(pb.StreamReplyRequest(name=events[0].reply), metadata=caller.metadata)]
    assert [e.SerializeToString() for e in replay[1:]] == [e.SerializeToString() for e in events[1:]]
    listed = await stub.ListMessages(pb.ListMessagesRequest(parent=conversation.name), metadata=caller.metadata)
    assert listed.messages[0].text == "".join(deltas)


async def test_a_reply_from_send_to_its_last_event_costs_a_bounded_number_of_statements(server):
    _caller, _stub, _conversation, events, sql = await first_exchange_counted(server)
    assert events[-1].WhichOneof("event") == "finished"
    deltas = [e for e in events if e.WhichOneof("event") == "delta"]
    # Every statement the reply runs is counted, its announcements included, but for the task runner's periodic
    # work (a look for tasks, the clean-ups: not the reply's, they may land here just after the start). A chunk is
    # one statement (grouped: see above), and announced by it on PostgreSQL (a NOTIFY in the same statement).
    counted = [s for s in sql.statements if not any(periodic in s for periodic in PERIODIC_STATEMENTS)]
    chunk_writes = [s for s in counted if "INSERT INTO REPLY_CHUNKS" in s.upper()]
    others = [s for s in counted if s not in chunk_writes]
    assert len(chunk_writes) == len(deltas)
    # Besides the chunks, on SQLite 7: the exchange stored in 4 (the conversation claimed, read and the sender's
    # recent messages counted in one UPDATE; the messages; the task; its first two events, stored already claimed),
    # the reply's end and the task's (3). On PostgreSQL 2, each write with its inserts and its notices in one
    # statement (CTEs): the exchange (with the sender's turn and the quota's count: migration 0018; its task stored
    # claimed, with its job; procrastinate's own statements not counted), and the reply's end with the task's and
    # its event. It was 4 with the sender's advisory lock a statement of its own and the two ends one each, 7 / 15
    # with a pg_notify of its own after each write (and one per chunk), 9 / 13 without the notices with the
    # conversation read and the quota count on their own, 12 / 15 before the claim was folded into the exchange,
    # and 7 / 11 before the statements were combined on PostgreSQL.
    assert len(others) <= (7 if server.app.db.is_sqlite else 2), "\n".join(s.split("\n")[0][:100] for s in others)
    assert not [s for s in others if "pg_notify" in s and not s.lstrip().upper().startswith("WITH")], others


async def test_a_reply_s_task_ends_in_the_transaction_of_its_last_chunk(server, monkeypatch):
    # The reply's end rides in its last chunk's transaction, and its task's end with it: one transaction a reply
    # less, and under a burst the tasks' ends share the chunk writer's transactions. On PostgreSQL that transaction
    # is one statement in autocommit (no BEGIN, no COMMIT): the last chunk's insert is part of the end's statement.
    db = server.app.db
    windows: list[tuple[int, int]] = []  # each transaction's statements, as indexes into the count
    begun_in: dict[tuple[int, int], int] = {}  # the BEGINs on the main pool during each
    transaction = db.transaction

    async def counted(work, **options):
        start, began = len(sql.statements), len(begun)
        try:
            return await transaction(work, **options)
        finally:
            windows.append((start, len(sql.statements)))
            begun_in[windows[-1]] = len(begun) - began

    monkeypatch.setattr(db, "transaction", counted)
    with counting_statements(db.engine) as sql, hearing(db.engine, "begin") as begun:
        _caller, _stub, _conversation, events, _sql = await first_exchange_counted(server)
    assert events[-1].WhichOneof("event") == "finished"

    def writes(window: tuple[int, int], table: str) -> bool:
        return any(s.lstrip().upper().startswith(f"UPDATE {table}") or f"UPDATE {table} SET" in s.upper()
                   for s in sql.statements[window[0]:window[1]])

    [reply_end] = [w for w in windows if writes(w, "MESSAGES")]
    assert writes(reply_end, "TASKS")
    if not db.is_sqlite:
        [statement] = [s for s in sql.statements[reply_end[0]:reply_end[1]] if "UPDATE messages" in s]
        assert "INSERT INTO reply_chunks" in statement and "UPDATE tasks" in statement, statement
        assert begun_in[reply_end] == 0
    task = await server.app.tasks.find(events[0].accepted.task.removeprefix("tasks/"))
    assert task is not None and task.state.value == "SUCCEEDED"

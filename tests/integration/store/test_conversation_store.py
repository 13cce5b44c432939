"""A chat send in SQL, on every backend: what a retried send (same request id) finds, and what a refused one leaves
(nothing: on PostgreSQL its messages and task are written in the claim's statement, only if the claim is made); the
quota held by sends at once from two replicas; a reply's end with its task's, refused alone by the task's fence; and
migration 0018 (the quota's count on PostgreSQL) down and up."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, make_url, text

from storyloom.domain.conversations import REPLY, Conversation, MessageQuota, QuotaExceeded, Sendable
from storyloom.domain.errors import FailedPrecondition, NotFound
from storyloom.domain.reply_chunks import ReplyEnding
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.domain.tasks import (
    Task,
    TaskEnding,
    TaskError,
    TaskFence,
    TaskState,
    TaskUpdate,
)
from storyloom.store.conversations import SqlConversationRepository
from storyloom.store.db import MIGRATIONS, Database
from storyloom.store.models import UserRow
from storyloom.store.pg_notifier import CHANNEL, payload_prefix
from storyloom.store.tasks import SqlTaskRepository
from tests.support.conversations import T0, conversation_of, reply_task
from tests.support.sql_counter import counting_statements, hearing
from tests.support.waiting import read_until


def alembic(connection: Connection, verb: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    getattr(command, verb)(config, revision)


async def test_a_send_is_found_by_its_request_id_with_its_reply_and_no_other(db):
    repo = await conversation_of(db, "alice")
    await repo.add_exchange("alice-chat", "first", reply_task(db, "alice"), "reply-1", "", T0)
    _conversation, user, reply = await repo.add_exchange("alice-chat", "second", reply_task(db, "alice"), "reply-2",
                                                         "req-2", T0, title="second")

    found = await repo.find_by_request("alice", "req-2")

    assert found == (user, reply)
    assert (user.position, reply.position, reply.task_id) == (3, 4, reply.task_id)
    assert await repo.find_by_request("alice", "req-3") is None
    assert await repo.find_by_request("bob", "req-2") is None
    stored = await repo.get("alice-chat")
    assert stored is not None and (stored.message_count, stored.title) == (4, "second")


async def test_a_send_over_the_quota_stores_nothing(db):
    repo = await conversation_of(db, "carol")
    quota = MessageQuota("carol", 1, T0 - dt.timedelta(minutes=1))
    await repo.add_exchange("carol-chat", "one", reply_task(db, "carol"), "reply-1", "req-1", T0, quota=quota)

    with pytest.raises(QuotaExceeded):
        await repo.add_exchange("carol-chat", "two", reply_task(db, "carol"), "reply-2", "req-2", T0, quota=quota)

    assert await repo.find_by_request("carol", "req-2") is None
    assert [m.text for m in reversed(await repo.messages("carol-chat", limit=10, before_position=None))] == [
        "one", ""]
    stored = await repo.get("carol-chat")
    assert stored is not None and stored.message_count == 2
    assert await SqlTaskRepository(db).count_live("carol") == 1  # the refused send's task went with it


async def test_a_send_to_a_conversation_that_does_not_take_it_stores_nothing_and_says_why(db):
    repo = await conversation_of(db, "erin")
    await repo.update("erin-chat", status="ARCHIVED")
    quota = MessageQuota("erin", 10, T0 - dt.timedelta(minutes=1))

    with pytest.raises(FailedPrecondition):
        await repo.add_exchange("erin-chat", "one", reply_task(db, "erin"), "reply-1", "req-1", T0, quota=quota,
                                accept=Sendable("erin"))
    with pytest.raises(NotFound):  # another's conversation is not told apart from a missing one
        await repo.add_exchange("erin-chat", "two", reply_task(db, "mallory"), "reply-2", "req-2", T0,
                                accept=Sendable("mallory"))
    with pytest.raises(LookupError):
        await repo.add_exchange("no-such-chat", "three", reply_task(db, "erin"), "reply-3", "req-3", T0, quota=quota,
                                accept=Sendable("erin"))

    stored = await repo.get("erin-chat")
    assert stored is not None and stored.message_count == 0
    assert await repo.messages("erin-chat", limit=10, before_position=None) == []
    assert await SqlTaskRepository(db).count_live("erin") == 0
    assert await SqlTaskRepository(db).count_live("mallory") == 0


async def test_sends_at_once_from_two_replicas_never_pass_the_quota(db, database_url):
    """On PostgreSQL each send counts the user's recent messages after the sends before it committed, whichever
    replica stored them (on SQLite, one writer at a time)."""
    await conversation_of(db, "frank")
    for index in range(1, 4):
        await SqlConversationRepository(db).create(Conversation(
            id=f"frank-chat-{index}", user_id="frank", title="", status="ACTIVE", message_count=0, create_time=T0,
            update_time=T0), "")
    other = Database(database_url)  # another replica of the same database
    try:
        replicas = [SqlConversationRepository(db), SqlConversationRepository(other)]
        quota = MessageQuota("frank", 10, T0 - dt.timedelta(minutes=1))
        chats = ["frank-chat", "frank-chat-1", "frank-chat-2", "frank-chat-3"]

        async def send(index: int) -> str:
            try:
                await replicas[index % 2].add_exchange(chats[index % 4], f"message {index}", reply_task(db, "frank"),
                                                       f"reply-{index}", f"req-{index}", T0, quota=quota,
                                                       accept=Sendable("frank"))
            except QuotaExceeded:
                return "refused"
            return "stored"

        answers = await asyncio.gather(*(send(index) for index in range(20)))
    finally:
        await other.close()

    assert sorted(answers) == ["refused"] * 10 + ["stored"] * 10
    stored = [m for chat in chats for m in await replicas[0].messages(chat, limit=100, before_position=None)]
    assert sum(1 for m in stored if m.role == "user") == 10
    assert await SqlTaskRepository(db).count_live("frank") == 10


async def test_a_send_on_postgresql_is_one_statement_outside_a_transaction(db):
    """The sender's turn, the quota's count, the claim, the messages and the task in one statement in autocommit:
    one round trip where BEGIN, the sender's advisory lock, the exchange and COMMIT were four."""
    if db.is_sqlite:
        pytest.skip("SQLite's send is a transaction of its own statements, inline")
    repo = await conversation_of(db, "grace")
    quota = MessageQuota("grace", 10, T0 - dt.timedelta(minutes=1))
    with hearing(db.engine, "commit") as commits, counting_statements(db.engine) as sql:
        await repo.add_exchange("grace-chat", "one", reply_task(db, "grace"), "reply-1", "req-1", T0, quota=quota,
                                accept=Sendable("grace"))

    assert len(sql.statements) == 1, sql.statements
    assert commits == []
    assert await repo.find_by_request("grace", "req-1") is not None


async def test_on_postgresql_a_new_conversation_is_one_statement_in_autocommit(db):
    """CreateConversation's insert is one statement, its own transaction: one round trip where BEGIN, the INSERT
    and COMMIT were three; a retry with its request id still finds the first one."""
    if db.is_sqlite:
        pytest.skip("SQLite's inserts run inline, in a transaction of their own connection")
    await db.insert_once([UserRow(id="nina", display_name="nina", create_time=T0)], None)
    repo = SqlConversationRepository(db)
    conversation = Conversation(id="nina-chat", user_id="nina", title="", status="ACTIVE", message_count=0,
                                create_time=T0, update_time=T0)

    with hearing(db.engine, "begin") as begun, counting_statements(db.engine) as sql:
        created = await repo.create(conversation, "req-1")

    assert (created, len(sql.statements), begun) == (conversation, 1, [])
    assert await repo.create(dataclasses.replace(conversation, id="nina-chat-2"), "req-1") == conversation
    assert await repo.get("nina-chat-2") is None


async def test_a_conversation_s_update_is_one_statement_that_returns_it(db):
    """What a reply restates (its requirements, its summary) is written in one statement before that turn's first
    text: on PostgreSQL its own transaction, one round trip, where a session's BEGIN, read, UPDATE and COMMIT were
    four."""
    repo = await conversation_of(db, "heidi")
    wanted = StoryRequirements(title="The Otter", characters=(Character(name="Pip", description="an otter"),))
    later = T0 + dt.timedelta(minutes=5)
    with hearing(db.engine, "commit") as commits, counting_statements(db.engine) as sql:
        updated = await repo.update("heidi-chat", requirements=wanted, summary="Pip swims.", summary_covers=2,
                                    update_time=later)

    assert len(sql.statements) == 1, sql.statements
    if not db.is_sqlite:
        assert commits == []
    assert (updated.requirements, updated.summary, updated.summary_covers, updated.update_time) == (
        wanted, "Pip swims.", 2, later)
    assert await repo.get("heidi-chat") == updated
    with pytest.raises(LookupError):
        await repo.update("nobody-chat", summary="none")


async def test_a_conversation_s_messages_are_read_without_a_transaction(db):
    """A reply's history (and ListMessages) is one read, and the chunks of a reply still being written one more: on
    PostgreSQL each a round trip, where a session's BEGIN, read and ROLLBACK were three before a reply's first text."""
    repo = await conversation_of(db, "ivan")
    await repo.add_exchange("ivan-chat", "one", reply_task(db, "ivan"), "reply-1", "", T0)
    await repo.append_chunks([("reply-1", 1, "Hello"), ("reply-1", 2, " there")])
    with hearing(db.engine, "begin") as begun, counting_statements(db.engine) as sql:
        newest = await repo.messages("ivan-chat", limit=10, before_position=None)
        before = await repo.messages("ivan-chat", limit=10, before_position=2)
        reply = await repo.get_message("reply-1")

    assert [(m.position, m.text, m.chunk_count) for m in newest] == [(2, "Hello there", 2), (1, "one", 0)]
    assert [m.text for m in before] == ["one"]
    assert reply is not None and (reply.text, reply.state) == ("Hello there", "GENERATING")
    assert (begun, len(sql.statements)) == ([], 5)


async def test_0018_downgrades_to_0017_and_upgrades_again(db):
    async def functions() -> list[str]:
        if db.is_sqlite:
            return []
        async with db.engine.connect() as connection:
            return list(await connection.scalars(text(
                "SELECT proname FROM pg_proc WHERE proname = 'storyloom_messages_sent'")))

    assert await functions() == ([] if db.is_sqlite else ["storyloom_messages_sent"])
    async with db.engine.begin() as connection:
        await connection.run_sync(alembic, "downgrade", "0017_unattached_media")
    assert await functions() == []
    await db.migrate()
    assert await functions() == ([] if db.is_sqlite else ["storyloom_messages_sent"])
    repo = await conversation_of(db, "heidi")
    await repo.add_exchange("heidi-chat", "one", reply_task(db, "heidi"), "reply-1", "req-1", T0,
                            quota=MessageQuota("heidi", 1, T0 - dt.timedelta(minutes=1)), accept=Sendable("heidi"))


async def sent_and_claimed(db: Database, user_id: str) -> tuple[SqlConversationRepository, SqlTaskRepository, str,
                                                                 Task]:
    """A send whose reply task is claimed by worker `w1`: the repositories, the reply's id and the claimed task."""
    repo, tasks = await conversation_of(db, user_id), SqlTaskRepository(db)
    new = reply_task(db, user_id)
    _conversation, _user, reply = await repo.add_exchange(f"{user_id}-chat", "hello", new, f"{user_id}-reply", "",
                                                          T0)
    [(claimed, _event)] = await tasks.claim([(new.task.id, None)], "w1", T0, ("Started.", "Resumed."))
    return repo, tasks, reply.id, claimed


def succeeded_under_claim(task: Task) -> TaskEnding:
    fence = TaskFence(states=(TaskState.RUNNING,), owner="w1", attempt=task.attempt)
    return TaskEnding(task.id, TaskUpdate(state=TaskState.SUCCEEDED, percent=100, end_time=T0, clear_eta=True,
                                          message="Done."), fence, T0)


async def test_a_reply_s_last_chunk_stores_its_end_and_its_task_s_end_together(db):
    repo, tasks, reply_id, claimed = await sent_and_claimed(db, "dora")
    task_end = succeeded_under_claim(claimed)

    [final] = await repo.append_chunks([(reply_id, 1, "Once upon a time.")], [ReplyEnding(
        reply_id, "COMPLETE", "STOP", 3, 4, chunks=("Once upon a time.",), task=task_end)])

    assert (final.state, final.text) == ("COMPLETE", "Once upon a time.")
    assert task_end.stored and task_end.outcome is not None
    ended, event = task_end.outcome
    stored = await tasks.get(claimed.id)
    assert stored == ended and stored.state is TaskState.SUCCEEDED
    assert stored.last_sequence == claimed.last_sequence + 1
    assert await tasks.events_after(claimed.id, claimed.last_sequence, 10) == [event]
    assert event.state is TaskState.SUCCEEDED and event.sequence == stored.last_sequence


async def test_on_postgresql_chunks_alone_commit_without_waiting_for_the_flush_and_an_end_waits(db):
    """A reply's chunks stored alone (a statement in autocommit) commit without waiting for the WAL's flush: their
    statement turns `synchronous_commit` off for its own transaction. Its end, with the last chunks, waits for it, as
    every other write does. Each statement as it ran is run again in a transaction of ours (the reply's chunks
    removed first, all of it rolled back), which then says what its commit would wait for."""
    if db.is_sqlite:
        pytest.skip("SQLite's commits are as `synchronous` says, for every write alike")
    repo, _tasks, reply_id, claimed = await sent_and_claimed(db, "ines")
    with counting_statements(db.engine) as alone:
        await repo.append_chunks([(reply_id, 1, "Once upon a time.")])
    # (its own transaction only: the next statement on its connection, a send say, waits for the flush)
    assert (await db.direct(text("SELECT current_setting('synchronous_commit') AS waits"), {}))[0].waits == "on"
    with counting_statements(db.engine) as ended:
        await repo.append_chunks([(reply_id, 2, "The end.")], [ReplyEnding(
            reply_id, "COMPLETE", "STOP", 3, 4, chunks=("Once upon a time.", "The end."),
            task=succeeded_under_claim(claimed))])

    async def commit_waits(statement: str, parameters: Any) -> str:
        async with db.engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(text("DELETE FROM reply_chunks WHERE message_id = :id"), {"id": reply_id})
            await connection.exec_driver_sql(statement, tuple(parameters))
            setting = await connection.scalar(text("SELECT current_setting('synchronous_commit')"))
            await transaction.rollback()
            return str(setting)

    assert [await commit_waits(*ran) for ran in zip(alone.statements, alone.parameters, strict=True)] == ["off"]
    assert [await commit_waits(*ran) for ran in zip(ended.statements, ended.parameters, strict=True)] == ["on"]
    assert (await repo.get_message(reply_id)).text == "Once upon a time.The end."


@contextlib.asynccontextmanager
async def listening(database_url: str) -> AsyncIterator[list[str]]:
    """The payloads of the notices on CHANNEL, as another replica hears them, while the block runs."""
    heard: list[str] = []
    listener = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
    await listener.add_listener(CHANNEL, lambda *args: heard.append(args[3]))
    try:
        yield heard
    finally:
        await listener.close()


async def test_on_postgresql_a_reply_s_end_and_its_task_s_end_are_one_statement_announcing_both(db, database_url):
    if db.is_sqlite:
        pytest.skip("SQLite announces in-process, after the commit")
    repo, tasks, reply_id, claimed = await sent_and_claimed(db, "judy")
    task_end = succeeded_under_claim(claimed)
    async with listening(database_url) as heard:
        with counting_statements(db.engine) as sql:
            await repo.append_chunks([], [ReplyEnding(reply_id, "COMPLETE", "STOP", 3, 4, chunks=("Hi.",),
                                                      task=task_end)])
        await read_until(lambda: asyncio.sleep(0, heard), lambda notices: len(notices) >= 2, timeout=10,
                         what="both notices")

    assert len(sql.statements) == 1, sql.statements
    assert sorted(heard) == sorted([payload_prefix(REPLY) + reply_id, payload_prefix("task") + claimed.id])
    assert task_end.outcome is not None and (await tasks.get(claimed.id)) == task_end.outcome[0]


async def test_on_postgresql_a_reply_s_end_with_the_chunks_due_is_one_statement_all_or_nothing(db, database_url):
    """The chunk writer's batch that ends a reply (its last chunk, other replies' chunks, its end and its task's)
    is one statement in autocommit: one round trip where BEGIN, the chunks, the ends and COMMIT were four. As in a
    transaction, a reply gone meanwhile stores nothing of it; and the notices come in a transaction's order."""
    if db.is_sqlite:
        pytest.skip("SQLite's batch is a transaction of its own statements, inline")
    repo, tasks, reply_id, claimed = await sent_and_claimed(db, "kim")
    _repo, _tasks, other_id, other_claimed = await sent_and_claimed(db, "lou")
    task_end = succeeded_under_claim(claimed)
    async with listening(database_url) as heard:
        with hearing(db.engine, "commit") as commits, counting_statements(db.engine) as sql:
            [final] = await repo.append_chunks([(other_id, 1, "Far away,"), (reply_id, 1, "The end.")], [ReplyEnding(
                reply_id, "COMPLETE", "STOP", 3, 2, chunks=("The end.",), task=task_end)])
        await read_until(lambda: asyncio.sleep(0, heard), lambda notices: len(notices) >= 3, timeout=10,
                         what="the notices")

        assert (len(sql.statements), commits) == (1, []), sql.statements
        assert heard == [payload_prefix(REPLY) + other_id, payload_prefix(REPLY) + reply_id,
                         payload_prefix("task") + claimed.id]
        assert (final.state, final.text, final.chunk_count) == ("COMPLETE", "The end.", 1)
        assert task_end.outcome is not None and (await tasks.get(claimed.id)) == task_end.outcome[0]
        assert await repo.chunks(other_id, 0) == ["Far away,"]

        # A reply gone: neither the chunks due with its end nor its task's end are stored.
        other_end = succeeded_under_claim(other_claimed)
        with pytest.raises(LookupError), counting_statements(db.engine) as sql:
            await repo.append_chunks([(other_id, 2, " a fox.")], [ReplyEnding(
                "no-such-reply", "COMPLETE", "STOP", 3, 2, chunks=("Gone.",), task=other_end)])
        assert len(sql.statements) == 1, sql.statements
        assert await repo.chunks(other_id, 0) == ["Far away,"]
        assert not other_end.stored and await tasks.get(other_claimed.id) == other_claimed


async def test_a_task_end_its_claim_no_longer_allows_is_refused_alone(db):
    # The task was cancelled elsewhere while its reply was written: the reply's text and end are kept, the task
    # stays as the cancel left it, and the writer hears that its end was refused.
    repo, tasks, reply_id, claimed = await sent_and_claimed(db, "erin")
    cancelled, _event = await tasks.append_event(claimed.id, TaskUpdate(state=TaskState.CANCELLED, end_time=T0),
                                                 T0, TaskFence(attempt=claimed.attempt))
    task_end = succeeded_under_claim(claimed)

    [final] = await repo.append_chunks([(reply_id, 1, "The end.")], [ReplyEnding(
        reply_id, "COMPLETE", "STOP", 3, 2, chunks=("The end.",), task=task_end)])

    assert (final.state, final.text) == ("COMPLETE", "The end.")
    assert task_end.stored and task_end.outcome is None
    assert await tasks.get(claimed.id) == cancelled
    assert await tasks.events_after(claimed.id, cancelled.last_sequence, 10) == []


async def test_a_batch_ending_several_replies_finds_each_task_by_its_id_not_among_all_in_its_state(db):
    """The batch's tasks' ends join its endings' rows to their tasks: read by the index of their state, both
    databases compared every task in the fence's state (under a burst, hundreds RUNNING) with every ending."""
    sent = [await sent_and_claimed(db, user) for user in ("lea", "max")]

    with counting_statements(db.engine) as sql:
        await sent[0][0].append_chunks([], [
            ReplyEnding(reply_id, "COMPLETE", "STOP", 3, 2, chunks=(), task=succeeded_under_claim(claimed))
            for _repo, _tasks, reply_id, claimed in sent])
    [(ends, parameters)] = [(s, p) for s, p in zip(sql.statements, sql.parameters, strict=True)
                            if "UPDATE TASKS" in s.upper()]

    async with db.engine.connect() as connection:
        plan = "\n".join(str(row[-1]) for row in await connection.exec_driver_sql(
            f"EXPLAIN {'QUERY PLAN ' if db.is_sqlite else ''}{ends}", tuple(parameters)))

    assert "tasks" in plan and "ix_tasks_state" not in plan, plan


async def test_a_batch_ending_several_replies_ends_them_in_a_statement_not_one_each(db):
    """Under a burst one transaction of the chunk writer ends tens of replies: their messages are ended by one
    UPDATE (not one each); on SQLite their tasks' events are inserted by one INSERT, on PostgreSQL the tasks' ends
    with their events are one statement too; a task end its claim no longer allows is still refused alone, and the
    messages come back in the order of the endings."""
    sent = [await sent_and_claimed(db, user) for user in ("fay", "gus", "hal")]
    repo, tasks = sent[0][0], sent[0][1]
    cancelled, _event = await tasks.append_event(sent[1][3].id, TaskUpdate(state=TaskState.CANCELLED, end_time=T0),
                                                 T0, TaskFence(attempt=sent[1][3].attempt))
    task_ends = [succeeded_under_claim(claimed) for _repo, _tasks, _reply, claimed in sent]

    failed = TaskError("UNAVAILABLE", "REPLY_FAILED", "The reply could not be written.", {"why": "test"})
    states = [("COMPLETE", None), ("FAILED", failed), ("COMPLETE", None)]

    with counting_statements(db.engine) as sql:
        finals = await repo.append_chunks([(reply_id, 1, f"{reply_id} ends.") for _r, _t, reply_id, _c in sent], [
            ReplyEnding(reply_id, state, "STOP", 3, 2, error=error, chunks=(f"{reply_id} ends.",), task=task_end)
            for (_r, _t, reply_id, _c), task_end, (state, error) in zip(sent, task_ends, states, strict=True)])

    def starting(prefix: str) -> list[str]:
        return [s for s in sql.statements if s.lstrip().upper().startswith(prefix)]

    if db.is_sqlite:  # the chunks, the replies' ends and their read back, the tasks' ends, their events
        assert [len(starting(p)) for p in ("UPDATE MESSAGES", "UPDATE TASKS", "INSERT INTO TASK_EVENTS")] == [1, 1, 1]
        assert len(sql.statements) == 5, sql.statements
    else:  # the chunks, the replies' ends, the tasks' ends with their events
        assert (len(sql.statements), len(starting("UPDATE MESSAGES"))) == (3, 1), sql.statements
    assert [(f.id, f.state, f.error, f.text) for f in finals] == [
        (reply_id, state, error, f"{reply_id} ends.") for (_r, _t, reply_id, _c), (state, error)
        in zip(sent, states, strict=True)]
    assert [await repo.get_message(reply_id) for _r, _t, reply_id, _c in sent] == finals
    assert [end.stored for end in task_ends] == [True, True, True]
    assert task_ends[1].outcome is None and await tasks.get(sent[1][3].id) == cancelled
    for task_end, (_r, _t, _reply, claimed) in zip(task_ends[::2], sent[::2], strict=True):
        assert task_end.outcome is not None
        ended, event = task_end.outcome
        assert await tasks.get(claimed.id) == ended and ended.state is TaskState.SUCCEEDED
        assert await tasks.events_after(claimed.id, claimed.last_sequence, 10) == [event]

    # What the batch stored is what an end of its own stores (SQLite: the values go in through JSON).
    alone_repo, _tasks, alone_reply, alone_claimed = await sent_and_claimed(db, "kit")
    await alone_repo.append_chunks([], [ReplyEnding(alone_reply, "COMPLETE", "STOP", 3, 2, chunks=("k.",),
                                                    task=succeeded_under_claim(alone_claimed))])
    async with db.engine.connect() as connection:
        stored = {row[0]: row[1:] for row in await connection.execute(text(
            "SELECT id, state, percent, message, eta, end_time, update_time, last_sequence, owner, attempt"
            " FROM tasks WHERE id IN (:a, :b)"), {"a": sent[0][3].id, "b": alone_claimed.id})}
    assert stored[sent[0][3].id] == stored[alone_claimed.id]

    # A reply gone meanwhile fails the batch whole, as with one ending (the chunk writer then stores each reply
    # on its own): the others' chunks, ends and tasks stay as they were.
    later = [await sent_and_claimed(db, user) for user in ("ike", "jan")]
    later_ends = [succeeded_under_claim(claimed) for _repo, _tasks, _reply, claimed in later]
    with pytest.raises(LookupError):
        await repo.append_chunks([(later[0][2], 1, "Kept?")], [
            ReplyEnding(later[0][2], "COMPLETE", "STOP", 3, 2, chunks=("Kept?",), task=later_ends[0]),
            ReplyEnding("no-such-reply", "COMPLETE", "STOP", 3, 2, chunks=("Gone.",), task=later_ends[1])])
    assert await repo.chunks(later[0][2], 0) == []
    message = await repo.get_message(later[0][2])
    assert message is not None and message.state == "GENERATING"
    assert not any(end.stored for end in later_ends)
    assert [await tasks.get(claimed.id) for *_, claimed in later] == [claimed for *_, claimed in later]

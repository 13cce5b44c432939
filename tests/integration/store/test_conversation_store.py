"""A chat send in SQL, on every backend: what a retried send (same request id) finds, and what a refused one leaves
(nothing: on PostgreSQL its messages and task are written in the claim's statement, and rolled back with it); a
reply's end with its task's, refused alone by the task's fence."""

from __future__ import annotations

import datetime as dt

import pytest

from storyloom.domain.conversations import Conversation, MessageQuota, QuotaExceeded
from storyloom.domain.reply_chunks import ReplyEnding
from storyloom.domain.tasks import NewTask, Task, TaskEnding, TaskFence, TaskRunner, TaskState, TaskUpdate
from storyloom.store.conversations import SqlConversationRepository
from storyloom.store.db import Database
from storyloom.store.models import UserRow
from storyloom.store.tasks import SqlTaskRepository

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


async def conversation_of(db: Database, user_id: str) -> SqlConversationRepository:
    await db.insert_once([UserRow(id=user_id, display_name=user_id, create_time=T0)], None)
    repo = SqlConversationRepository(db)
    await repo.create(Conversation(id=f"{user_id}-chat", user_id=user_id, title="", status="ACTIVE",
                                   message_count=0, create_time=T0, update_time=T0), "")
    return repo


def reply_task(db: Database, user_id: str) -> NewTask:
    runner = TaskRunner(SqlTaskRepository(db), run_tasks=False)
    runner.register("chat.reply", lambda ctx: None)
    return runner.new_task(user_id, "chat.reply", {"message_id": "m"})


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

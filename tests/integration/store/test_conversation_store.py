"""A chat send in SQL, on every backend: what a retried send (same request id) finds, and what a refused one leaves
(nothing: on PostgreSQL its messages and task are written in the claim's statement, and rolled back with it)."""

from __future__ import annotations

import datetime as dt

import pytest

from storyloom.domain.conversations import Conversation, MessageQuota, QuotaExceeded
from storyloom.domain.tasks import NewTask, TaskRunner
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

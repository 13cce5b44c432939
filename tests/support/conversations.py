"""A user with an empty conversation and a chat reply's task, straight in the store: what the conversation store's
tests start from."""

from __future__ import annotations

import datetime as dt

from storyloom.domain.conversations import Conversation
from storyloom.domain.tasks import NewTask, TaskRunner
from storyloom.store.conversations import SqlConversationRepository
from storyloom.store.db import Database
from storyloom.store.models import UserRow
from storyloom.store.tasks import SqlTaskRepository

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


async def conversation_of(db: Database, user_id: str) -> SqlConversationRepository:
    """A repository over `db` holding the conversation `<user_id>-chat` of a new user `user_id`, created at `T0`."""
    await db.insert_once([UserRow(id=user_id, display_name=user_id, create_time=T0)], None)
    repo = SqlConversationRepository(db)
    await repo.create(Conversation(id=f"{user_id}-chat", user_id=user_id, title="", status="ACTIVE",
                                   message_count=0, create_time=T0, update_time=T0), "")
    return repo


def reply_task(db: Database, user_id: str) -> NewTask:
    """A new chat reply's task of `user_id`, as a send stores it (no worker runs it)."""
    runner = TaskRunner(SqlTaskRepository(db), run_tasks=False)
    runner.register("chat.reply", lambda ctx: None)
    return runner.new_task(user_id, "chat.reply", {"message_id": "m"})

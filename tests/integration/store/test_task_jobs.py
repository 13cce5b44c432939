"""A task and its procrastinate job (PostgreSQL) are one write: the trigger of migration 0015 defers the job in the
statement that inserts the task. So a process killed between storing the task and queueing its job cannot exist:
the job is there before the task's transaction commits, and a transaction that never commits (a kill rolls it back)
leaves neither."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from storyloom.domain.task_types import NewTask
from storyloom.domain.tasks import Task, TaskEvent, TaskState
from storyloom.store.db import Database
from storyloom.store.procrastinate_dispatch import RUN_TASK
from storyloom.store.tasks import SqlTaskRepository, task_rows

JOBS_OF = text("SELECT queue_name, args->>'task_id' AS task_id, status FROM procrastinate_jobs "
               "WHERE lock = :task_id AND task_name = :name")


@pytest.fixture(autouse=True)
def postgres_only(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")


def new_task(kind: str = "test.steps") -> NewTask:
    now = dt.datetime.now(dt.UTC)
    task = Task(id=uuid.uuid4().hex, user_id="u1", kind=kind, state=TaskState.PENDING, create_time=now,
                update_time=now, last_sequence=1)
    return NewTask(task, TaskEvent(task.id, 1, now, TaskState.PENDING, "", 0, "Waiting."))


async def jobs_of(db: Database, task_id: str) -> list[tuple[str, str, str]]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(JOBS_OF, {"task_id": task_id, "name": RUN_TASK})
        return [(row.queue_name, row.task_id, row.status) for row in rows]


async def test_storing_a_task_queues_its_job_in_the_same_transaction_and_a_rollback_leaves_neither(db):
    kept, lost = new_task(), new_task("story.create")
    for new, commit in ((kept, True), (lost, False)):
        async with db.begin() as session, session.begin() as transaction:
            for row in task_rows(new):
                session.add(row)
                await session.flush()
            # Inside the transaction that stores the task, before it commits: the job is already there.
            inside = await session.execute(JOBS_OF, {"task_id": new.task.id, "name": RUN_TASK})
            assert [(r.queue_name, r.task_id, r.status) for r in inside] == [(new.task.kind, new.task.id, "todo")]
            if not commit:
                await transaction.rollback()  # what a kill before the commit amounts to

    assert await jobs_of(db, kept.task.id) == [("test.steps", kept.task.id, "todo")]
    assert await jobs_of(db, lost.task.id) == []
    repo = SqlTaskRepository(db)
    assert await repo.get(kept.task.id) is not None and await repo.get(lost.task.id) is None


async def test_a_retried_create_with_the_same_request_id_queues_no_second_job(db):
    repo = SqlTaskRepository(db)
    first = new_task()
    first = NewTask(Task(**{**first.task.__dict__, "request_id": "r-1"}), first.first_event)
    second = new_task()
    second = NewTask(Task(**{**second.task.__dict__, "request_id": "r-1"}), second.first_event)

    stored, created = await repo.create(first.task, first.first_event)
    again, created_again = await repo.create(second.task, second.first_event)

    assert (created, created_again, again.id) == (True, False, stored.id)
    assert await jobs_of(db, first.task.id) == [("test.steps", first.task.id, "todo")]
    assert await jobs_of(db, second.task.id) == []

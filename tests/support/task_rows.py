"""Task rows written and read straight in a database, as another replica would: for tests and benchmarks that run
servers as processes and need a task no API call made (or to look at the stored task, not at a notice)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from storyloom.domain.tasks import Task, TaskClaim, TaskContext, TaskEvent, TaskFence, TaskState, TaskUpdate
from storyloom.store.db import Database
from storyloom.store.tasks import SqlTaskRepository
from tests.support import task_kinds


async def submit_steps(url: str, user_id: str, **params: Any) -> str:
    """Stores a PENDING test.steps task (tests.support.task_kinds) for `user_id`: some worker claims it."""
    now = dt.datetime.now(dt.UTC)
    task = Task(id=uuid.uuid4().hex, user_id=user_id, kind=task_kinds.STEPS, state=TaskState.PENDING,
                create_time=now, update_time=now, params=params, last_sequence=1)
    db = Database(url)
    try:
        await SqlTaskRepository(db).create(task, TaskEvent(task.id, 1, now, TaskState.PENDING, "", 0, "Waiting."))
    finally:
        await db.close()
    return task.id


async def stored(url: str, task_id: str) -> Task:
    """The task as stored now."""
    db = Database(url)
    try:
        task = await SqlTaskRepository(db).get(task_id)
    finally:
        await db.close()
    assert task is not None, f"no task {task_id}"
    return task


async def take_over(tasks: SqlTaskRepository, running: Task, worker_id: str) -> tuple[Task, TaskFence]:
    """The task's worker is presumed dead: another takes the task over at the next attempt (the end state of a
    recovery and the new worker's claim, in one write so that no dispatcher hands the task out in between). Returns
    the task as taken and the new worker's claim fence."""
    fence = TaskFence(states=(TaskState.RUNNING,), owner=worker_id, attempt=running.attempt + 1)
    taken, _ = await tasks.append_event(running.id, TaskUpdate(
        attempt=fence.attempt, owner=fence.owner, interruptions=1, message="Resumed."), running.update_time,
        TaskFence(states=(TaskState.RUNNING,), owner=running.owner, attempt=running.attempt))
    return taken, fence


async def taken_over(tasks: SqlTaskRepository, running: Task, worker_id: str) -> TaskContext:
    """`take_over`, then the context the new worker's runner would hand the task's handler: its reports and writes
    under the new attempt's claim (`ctx.claim.fence`)."""
    taken, fence = await take_over(tasks, running, worker_id)

    async def record(update: TaskUpdate) -> None:
        await tasks.append_event(running.id, update, taken.update_time, fence)

    return TaskContext(taken, record=record, cancel_requested=lambda: False, claim=TaskClaim(running.id, fence))


async def claim_next(tasks: SqlTaskRepository, task_id: str, owner: str, now: dt.datetime) -> Task:
    """Claims the PENDING task for `owner` (the next attempt), as a worker's claim does."""
    task = await tasks.get(task_id)
    assert task is not None
    [(claimed, _event)] = await tasks.claim([(task.id, task.attempt)], owner, now, ("Started.", "Resumed."))
    return claimed


async def resume_elsewhere(tasks: SqlTaskRepository, task: Task, owner: str, now: dt.datetime) -> Task:
    """The worker of `task` is presumed dead: the task is taken back (PENDING) and claimed by `owner`."""
    await tasks.append_event(task.id, TaskUpdate(state=TaskState.PENDING, clear_owner=True, interruptions=1), now,
                             TaskFence(states=(TaskState.RUNNING,), owner=task.owner, attempt=task.attempt))
    return await claim_next(tasks, task.id, owner, now)

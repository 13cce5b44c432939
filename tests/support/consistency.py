"""A consistency check over a whole Storyloom database, for tests that kill processes: what a crash at any moment
must never leave behind."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, text

from storyloom.store.db import Database
from storyloom.store.models import MessageRow, StoryRow, TaskEventRow, TaskRow
from storyloom.store.procrastinate_dispatch import RUN_TASK

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
STORY_OF_TASK = {"SUCCEEDED": "READY", "FAILED": "FAILED", "CANCELLED": "CANCELLED"}


async def problems(database_url: str) -> list[str]:
    """Everything wrong in the database, in words; an empty list when it is consistent:

    - every story and every reply being made has a task, and it is live (the story follows its task to its end);
    - an ended story's task ended the same way;
    - each task's event log is gap-free (1..last_sequence), ends with its state, and nothing follows the end;
    - a RUNNING task names its worker, a PENDING one none;
    - on PostgreSQL, every live task has its procrastinate job waiting or running, and every such job has its task.
    """
    db = Database(database_url)
    found: list[str] = []
    try:
        async with db.begin() as session:
            tasks = {t.id: t for t in await session.scalars(select(TaskRow))}
            events: dict[str, list[TaskEventRow]] = defaultdict(list)
            for event in await session.scalars(select(TaskEventRow).order_by(TaskEventRow.sequence)):
                events[event.task_id].append(event)
            stories = list(await session.scalars(select(StoryRow)))
            replies = list(await session.scalars(select(MessageRow).where(MessageRow.role == "assistant")))
            jobs = [] if db.is_sqlite else [row.lock for row in await session.execute(text(
                "SELECT lock FROM procrastinate_jobs WHERE task_name = :name AND status IN ('todo', 'doing')"),
                {"name": RUN_TASK})]
    finally:
        await db.close()
    for story in stories:
        task = tasks.get(story.task_id)
        if story.state == "GENERATING" and (task is None or task.state in TERMINAL):
            found.append(f"story {story.id} is GENERATING but its task is {task.state if task else 'missing'}")
        if task is not None and task.state in TERMINAL and story.state != STORY_OF_TASK[task.state]:
            found.append(f"story {story.id} is {story.state} but its task ended {task.state}")
        if story.state in ("FAILED", "CANCELLED") and not story.error:
            found.append(f"story {story.id} is {story.state} without a reason")
    for reply in replies:
        task = tasks.get(reply.task_id)
        if reply.state == "GENERATING" and (task is None or task.state in TERMINAL):
            found.append(f"reply {reply.id} is GENERATING but its task is {task.state if task else 'missing'}")
    for task in tasks.values():
        log = events.get(task.id, [])
        if [e.sequence for e in log] != list(range(1, task.last_sequence + 1)):
            found.append(f"task {task.id}: events {[e.sequence for e in log]} for last_sequence {task.last_sequence}")
        ends = [e.sequence for e in log if e.state in TERMINAL]
        if task.state in TERMINAL and ends != [task.last_sequence]:
            found.append(f"task {task.id} ended {task.state} with terminal events at {ends} of {task.last_sequence}")
        if task.state not in TERMINAL and ends:
            found.append(f"task {task.id} is {task.state} after a terminal event")
        if log and log[-1].state != task.state:
            found.append(f"task {task.id} is {task.state} but its last event says {log[-1].state}")
        if task.state == "RUNNING" and not task.owner:
            found.append(f"task {task.id} is RUNNING without a worker")
        if task.state == "PENDING" and task.owner:
            found.append(f"task {task.id} is PENDING but held by {task.owner}")
        if not db.is_sqlite and task.state not in TERMINAL and task.id not in jobs:
            found.append(f"task {task.id} is {task.state} without a job to run it")
    found += [f"job of task {task_id} has no task" for task_id in jobs if task_id not in tasks]
    return found

"""A task waiting in the queue tells its watchers where it stands: at least every 5 s, a stored PENDING event with
its place in the queue (and an estimated start once tasks of its kind have finished lately)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from storyloom.domain.tasks import QUEUE_REPORT_SECONDS, TaskRunner, TaskState
from storyloom.store.db import Database
from storyloom.store.tasks import SqlTaskRepository
from tests.support import task_kinds

USER = "u1"


@pytest_asyncio.fixture
async def runner(tmp_path: Path) -> AsyncIterator[TaskRunner]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}")
    await db.migrate()
    runner = TaskRunner(SqlTaskRepository(db), concurrency=1)
    runner.register(task_kinds.STEPS, task_kinds.run_steps)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()
        await db.close()


async def test_a_watched_task_waiting_in_the_queue_reports_its_place_and_an_estimated_start(runner):
    quick = await runner.submit(USER, task_kinds.STEPS, {"steps": 2, "delay": 0.01})
    async for _ in runner.watch(USER, quick.id):  # one finished task of the kind: the estimate's measure
        pass
    busy = await runner.submit(USER, task_kinds.STEPS, {"steps": 400, "delay": 0.05})  # holds the only slot
    waiting = await runner.submit(USER, task_kinds.STEPS, {"steps": 1})
    last = waiting.create_time.timestamp()
    gaps: list[float] = []
    reports = []
    async for event in runner.watch(USER, waiting.id):
        if event.sequence == 1:
            continue
        assert event.state is TaskState.PENDING
        gaps.append(time.time() - last)
        last = time.time()
        reports.append(event)
        if len(reports) == 2:
            break
    stored = await runner.get(USER, waiting.id)  # read before the slot is freed: then it starts
    await runner.cancel(USER, busy.id)

    assert [r.message for r in reports] == ["Waiting: next in line."] * 2
    assert all(r.eta is not None and r.eta > r.create_time for r in reports)
    assert all(gap < QUEUE_REPORT_SECONDS + 2 for gap in gaps), gaps
    assert stored.state is TaskState.PENDING and stored.last_sequence >= 3

"""TaskRunner on the real SqlTaskRepository, without gRPC: the task contract, with each dispatcher. On SQLite the
in-process one; on PostgreSQL procrastinate's job queue (the same tests, `database_url` is parametrized).

A "crash" is `await runner.stop()`: it cancels running handlers without recording anything, so
their tasks stay RUNNING in the db, as after a kill. A new runner on the same repository
then plays the restarted server. On PostgreSQL the stopped worker's jobs go back to the queue, where the next
worker finds the task RUNNING under a worker that is gone: a crash, as far as the task is concerned. (A worker that
really dies is noticed by its missing heartbeat: SIGKILL with real processes, tests/e2e/test_task_ownership.py.)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from google.protobuf import struct_pb2
from procrastinate.manager import JobManager, get_channel_for_queues
from sqlalchemy import text

from storyloom.domain.errors import NotFound
from storyloom.domain.task_types import NewTask, TaskFence, TaskUpdate
from storyloom.domain.tasks import (
    Task,
    TaskClaim,
    TaskContext,
    TaskEndHook,
    TaskEnding,
    TaskError,
    TaskEvent,
    TaskHandler,
    TaskResult,
    TaskRunner,
    TaskState,
    new_worker_id,
)
from storyloom.store.db import Database
from storyloom.store.procrastinate_dispatch import (
    ProcrastinateDispatcher,
    claimed_job_insert,
    claimed_job_params,
)
from storyloom.store.tasks import SqlTaskRepository, store_ending, task_rows
from tests.support import task_kinds
from tests.support.databases import database_away
from tests.support.waiting import read_until, wait_until

USER = "u1"
GATED = "test.gated"


@pytest.fixture
def repo(db: Database) -> SqlTaskRepository:
    return SqlTaskRepository(db)


# On SQLite a start recovers every RUNNING task; on PostgreSQL a task is recovered when its job is taken, and a job
# reaches only workers that know its kind (queue), and exists only for tasks stored PENDING.
CRASH_ON_SQLITE = "on PostgreSQL a task is recovered through its job, which only workers of its kind take"


def sqlite_only(db: Database, why: str) -> None:
    if not db.is_sqlite:
        pytest.skip(why)


class Gated:
    """A resumable kind whose tasks report the percents in params["report"], then run until the
    test opens their gate. It logs each start and end, and what the other tasks' states were
    when it started."""

    def __init__(self, repo: SqlTaskRepository):
        self._repo = repo
        self.gates: dict[str, asyncio.Event] = collections.defaultdict(asyncio.Event)
        self.log: list[tuple[str, str, int]] = []  # (start|end, task id, attempt)
        self.seen_at_start: dict[str, dict[str, TaskState]] = {}

    async def __call__(self, ctx: TaskContext) -> TaskResult | None:
        self.seen_at_start[ctx.task_id] = {
            t.id: t.state for t in await self._repo.list(USER, states=(), kind="", limit=100, after=None)
            if t.id != ctx.task_id
        }
        self.log.append(("start", ctx.task_id, ctx.attempt))
        for percent in ctx.params.get("report", []):
            await ctx.progress(percent=percent, message=f"At {percent}%.")
        await self.gates[ctx.task_id].wait()
        self.log.append(("end", ctx.task_id, ctx.attempt))
        if ctx.params.get("fail"):
            raise RuntimeError("asked to fail")
        return None

    def starts(self, task_id: str) -> list[int]:
        return [attempt for what, tid, attempt in self.log if what == "start" and tid == task_id]


@pytest.fixture
def gated(repo: SqlTaskRepository) -> Gated:
    return Gated(repo)


def worker_stopped(caplog: pytest.LogCaptureFixture, queue: str) -> bool:
    """Whether a worker serving `queue` stopped (the dispatcher logs each as it starts another). A database away
    stops every worker whose connection it ended, but not at once: the first to fail may be another queue's, and one
    that only tries again once the database is back goes on as if nothing happened."""
    return any(r.name == "storyloom.store.procrastinate_dispatch" and queue in getattr(r, "queues", ())
               for r in caplog.records)


RunnerFactory = Callable[..., Awaitable[TaskRunner]]


@pytest_asyncio.fixture
async def new_runner(db: Database, repo: SqlTaskRepository, gated: Gated) -> AsyncIterator[RunnerFactory]:
    """Builds and starts runners on the shared repository (with procrastinate's dispatcher on PostgreSQL); each is
    stopped at the end."""
    made: list[TaskRunner] = []

    async def make(*, kinds: tuple[str, ...] = (task_kinds.STEPS, task_kinds.ONE_SHOT, GATED),
                   more: dict[str, TaskHandler] | None = None, lease_seconds: float = 3,
                   on_end: TaskEndHook | None = None, **options: Any) -> TaskRunner:
        if not db.is_sqlite:
            worker_id = new_worker_id()
            options.update(worker_id=worker_id, dispatcher=ProcrastinateDispatcher(
                db, worker_name=worker_id, lease_seconds=lease_seconds))
        runner = TaskRunner(repo, **options)
        handlers = {task_kinds.STEPS: (task_kinds.run_steps, True),
                    task_kinds.ONE_SHOT: (task_kinds.run_one_shot, False), GATED: (gated, True)}
        for kind in kinds:
            handler, resumable = handlers[kind]
            runner.register(kind, handler, resumable=resumable)
        for kind, handler in (more or {}).items():
            runner.register(kind, handler, on_end=on_end)
        made.append(runner)
        await runner.start()
        return runner

    try:
        yield make
    finally:
        for runner in made:
            await runner.stop()


async def eventually(repo: SqlTaskRepository, task_id: str, check: Callable[[Task], bool], what: str,
                     timeout: float = 5.0) -> Task:
    """Polls the stored task until `check` holds; fails after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        task = await repo.get(task_id)
        if task is not None and check(task):
            return task
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}; last seen: {task}")
        await asyncio.sleep(0.005)


async def until(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Polls an in-memory condition (e.g. a handler's log) until it holds; fails after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.005)


async def until_state(repo: SqlTaskRepository, task_id: str, state: TaskState) -> Task:
    return await eventually(repo, task_id, lambda t: t.state is state, f"{task_id} is {state.value}")


async def until_finished(repo: SqlTaskRepository, task_id: str) -> Task:
    return await eventually(repo, task_id, lambda t: t.state.terminal, f"{task_id} has finished")


async def log_of(repo: SqlTaskRepository, task_id: str) -> list[TaskEvent]:
    return await repo.events_after(task_id, 0, 10_000)


def assert_gap_free(events: list[TaskEvent], task: Task) -> None:
    assert [e.sequence for e in events] == list(range(1, task.last_sequence + 1))


# --- concurrency -------------------------------------------------------------------------------


async def test_with_one_slot_a_second_task_stays_pending_until_the_first_finishes(repo, gated, new_runner):
    runner = await new_runner(concurrency=1)
    first = await runner.submit(USER, GATED)
    second = await runner.submit(USER, GATED)

    await until_state(repo, first.id, TaskState.RUNNING)
    waiting = await repo.get(second.id)
    assert (waiting.state, waiting.attempt, waiting.start_time) == (TaskState.PENDING, 0, None)

    gated.gates[first.id].set()
    await until(lambda: second.id in gated.seen_at_start, "the second task's handler started")
    # When the second task's handler started, the first had already finished.
    assert gated.seen_at_start[second.id][first.id] is TaskState.SUCCEEDED
    gated.gates[second.id].set()
    await until_state(repo, second.id, TaskState.SUCCEEDED)
    assert [(what, tid) for what, tid, _ in gated.log] == [
        ("start", first.id), ("end", first.id), ("start", second.id), ("end", second.id)]
    assert [e.state for e in await log_of(repo, second.id)] == [TaskState.PENDING, TaskState.RUNNING,
                                                                 TaskState.SUCCEEDED]


async def test_with_two_slots_two_tasks_run_side_by_side(repo, gated, new_runner):
    runner = await new_runner(concurrency=2)
    tasks = [await runner.submit(USER, GATED) for _ in range(3)]

    for task in tasks[:2]:
        await until_state(repo, task.id, TaskState.RUNNING)
    assert (await repo.get(tasks[2].id)).state is TaskState.PENDING
    gated.gates[tasks[1].id].set()
    await until(lambda: tasks[2].id in gated.seen_at_start, "the third task's handler started")
    assert gated.seen_at_start[tasks[2].id][tasks[0].id] is TaskState.RUNNING
    assert gated.seen_at_start[tasks[2].id][tasks[1].id] is TaskState.SUCCEEDED
    for task in tasks:
        gated.gates[task.id].set()
        await until_state(repo, task.id, TaskState.SUCCEEDED)


# --- progress ----------------------------------------------------------------------------------


async def test_percent_never_goes_backwards_even_when_the_handler_reports_less(repo, gated, new_runner):
    runner = await new_runner()
    task = await runner.submit(USER, GATED, {"report": [40, 20, 70, 10, 250, -5]})
    gated.gates[task.id].set()
    done = await until_finished(repo, task.id)

    assert done.state is TaskState.SUCCEEDED and done.percent == 100
    events = await log_of(repo, task.id)
    assert [e.percent for e in events] == [0, 0, 40, 40, 70, 70, 100, 100, 100]
    assert [e.message for e in events[2:-1]] == ["At 40%.", "At 20%.", "At 70%.", "At 10%.", "At 250%.", "At -5%."]


async def test_the_eta_is_set_while_running_and_cleared_when_the_task_ends(repo, gated, new_runner):
    runner = await new_runner()
    succeeding = await runner.submit(USER, GATED, {"report": [25]})
    failing = await runner.submit(USER, GATED, {"report": [50], "fail": True})
    cancelled = await runner.submit(USER, GATED, {"report": [75]})

    for task, percent in ((succeeding, 25), (failing, 50), (cancelled, 75)):
        running = await eventually(repo, task.id, lambda t, p=percent: t.percent == p, f"{task.id} reported {percent}%")
        assert running.state is TaskState.RUNNING and running.eta is not None
        # A linear estimate made between the start and this report: start + elapsed * 100 / percent.
        latest = running.start_time + (running.update_time - running.start_time) * (100 / percent)
        assert running.start_time <= running.eta <= latest + dt.timedelta(milliseconds=1)
        assert (await log_of(repo, task.id))[-1].eta == running.eta

    gated.gates[succeeding.id].set()
    gated.gates[failing.id].set()
    await runner.cancel(USER, cancelled.id)
    expected = {succeeding.id: TaskState.SUCCEEDED, failing.id: TaskState.FAILED, cancelled.id: TaskState.CANCELLED}
    for task_id, state in expected.items():
        ended = await until_finished(repo, task_id)
        assert ended.state is state
        assert ended.eta is None and (await log_of(repo, task_id))[-1].eta is None


async def test_a_handlers_own_eta_is_kept_as_given(repo, new_runner):
    eta = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    reported = asyncio.Event()

    async def knows_better(ctx: TaskContext) -> None:
        await ctx.progress(percent=10, eta=eta)
        reported.set()
        await asyncio.Event().wait()

    runner = await new_runner(kinds=(), more={"test.knows_better": knows_better})
    task = await runner.submit(USER, "test.knows_better")
    await asyncio.wait_for(reported.wait(), 5)
    assert (await repo.get(task.id)).eta == eta


# --- cancelling --------------------------------------------------------------------------------


async def test_cancelling_a_task_waiting_for_a_slot_ends_it_cancelled_without_running_it(repo, gated, new_runner):
    runner = await new_runner(concurrency=1)
    busy = await runner.submit(USER, GATED)
    waiting = await runner.submit(USER, GATED)
    await until_state(repo, busy.id, TaskState.RUNNING)

    cancelled = await runner.cancel(USER, waiting.id)
    assert cancelled.state is TaskState.CANCELLED
    assert cancelled.error is not None and cancelled.error.reason == "TASK_CANCELLED"
    assert (cancelled.attempt, cancelled.start_time) == (0, None) and cancelled.end_time is not None
    assert [e.state for e in await log_of(repo, waiting.id)] == [TaskState.PENDING, TaskState.CANCELLED]

    # The slot was not lost: the busy task finishes and a later one still gets to run.
    gated.gates[busy.id].set()
    assert (await until_finished(repo, busy.id)).state is TaskState.SUCCEEDED
    later = await runner.submit(USER, GATED)
    gated.gates[later.id].set()
    assert (await until_finished(repo, later.id)).state is TaskState.SUCCEEDED
    assert gated.starts(waiting.id) == []


# --- an end stored by the handler's last write ---------------------------------------------------


class EndsInItsWrite:
    """A kind whose handler stores its task's end in a write of its own (`TaskContext.succeeding`), as a chat reply
    does in its last chunk's transaction: it asks for the end, waits for the test's gate, then stores it. The kind's
    hook logs what it hears."""

    def __init__(self, db: Database):
        self._db = db
        self.gate = asyncio.Event()
        self.asked = asyncio.Event()
        self.ending: TaskEnding | None = None
        self.heard: list[tuple[TaskState, bool]] = []  # (state, told with a claim)

    async def __call__(self, ctx: TaskContext) -> TaskResult | None:
        self.ending = ending = ctx.succeeding()
        assert ending is not None
        self.asked.set()
        await self.gate.wait()
        outcome = await self._db.transaction(lambda c: store_ending(c, ending, with_event=not self._db.is_sqlite))
        ending.settle(outcome)
        return None

    async def on_end(self, _task: Task, state: TaskState, _error: TaskError | None, claim: TaskClaim | None) -> None:
        self.heard.append((state, claim is not None))


async def test_a_cancel_while_a_handler_stores_its_end_leaves_it_to_finish(db, repo, new_runner):
    kind = EndsInItsWrite(db)
    runner = await new_runner(kinds=(), more={"test.ends_itself": kind}, on_end=kind.on_end)
    task = await runner.submit(USER, "test.ends_itself")
    await asyncio.wait_for(kind.asked.wait(), 10)

    # Its end is on its way (in a write the handler is making): cancelling the handler now would race it.
    assert (await runner.cancel(USER, task.id)).state is TaskState.RUNNING
    kind.gate.set()

    ended = await until_finished(repo, task.id)
    assert ended.state is TaskState.SUCCEEDED and (ended.percent, ended.message) == (100, "Done.")
    assert [e.state for e in await log_of(repo, task.id)] == [TaskState.PENDING, TaskState.RUNNING,
                                                               TaskState.SUCCEEDED]
    await until(lambda: bool(kind.heard), "the kind's hook heard of the end")
    assert kind.heard == [(TaskState.SUCCEEDED, False)]  # told of an end already recorded


async def test_a_handler_s_end_refused_by_its_fence_leaves_the_end_recorded_before(db, repo, new_runner):
    kind = EndsInItsWrite(db)
    runner = await new_runner(kinds=(), more={"test.ends_itself": kind}, on_end=kind.on_end)
    task = await runner.submit(USER, "test.ends_itself")
    await asyncio.wait_for(kind.asked.wait(), 10)
    running = await repo.get(task.id)
    assert running is not None
    # Ended elsewhere meanwhile (another replica's cancel, as `TaskRunner.cancel` records it there).
    await repo.append_event(task.id, TaskUpdate(state=TaskState.CANCELLED, end_time=running.update_time),
                            running.update_time, TaskFence(attempt=running.attempt))
    kind.gate.set()

    await until(lambda: bool(kind.heard), "the kind's hook heard of the end")
    assert kind.ending is not None and kind.ending.stored and kind.ending.outcome is None
    assert kind.heard == [(TaskState.CANCELLED, False)]
    assert (await repo.get(task.id)).state is TaskState.CANCELLED
    assert [e.state for e in await log_of(repo, task.id)] == [TaskState.PENDING, TaskState.RUNNING,
                                                               TaskState.CANCELLED]


# --- recovery after a crash --------------------------------------------------------------------


async def test_a_resumable_task_continues_after_a_crash_from_its_last_checkpoint(repo, new_runner):
    before = await new_runner()
    task = await before.submit(USER, task_kinds.STEPS, {"steps": 12, "delay": 0.01})
    await eventually(repo, task.id, lambda t: t.checkpoint.get("done", 0) >= 3, "three steps are done")
    await before.stop()  # the crash
    crashed = await repo.get(task.id)
    assert crashed.state is TaskState.RUNNING and crashed.attempt == 1
    done_before = crashed.checkpoint["done"]
    assert 3 <= done_before < 12

    await new_runner()  # the restarted server
    finished = await until_finished(repo, task.id)

    assert finished.state is TaskState.SUCCEEDED and finished.attempt == 2
    result = struct_pb2.Struct()
    result.ParseFromString(finished.result.payload)
    ran = [(int(attempt), int(step)) for attempt, step in result["ran"]]
    assert [step for _, step in ran] == list(range(1, 13))  # every step once, none twice
    assert ran == [(1, s) for s in range(1, done_before + 1)] + [(2, s) for s in range(done_before + 1, 13)]
    events = await log_of(repo, task.id)
    assert_gap_free(events, finished)
    percents = [e.percent for e in events]
    assert percents == sorted(percents)
    resumed_at = next(i for i, e in enumerate(events) if e.message == "Resuming after a server restart.")
    assert [e.state for e in events[resumed_at:resumed_at + 2]] == [TaskState.PENDING, TaskState.RUNNING]


async def test_a_task_that_cannot_resume_fails_as_interrupted_on_the_next_start(repo, new_runner):
    before = await new_runner()
    task = await before.submit(USER, task_kinds.ONE_SHOT, {"delay": 60})
    await eventually(repo, task.id, lambda t: t.percent == 10, "the one-shot task is working")
    await before.stop()
    assert (await repo.get(task.id)).state is TaskState.RUNNING

    await new_runner()
    failed = await until_finished(repo, task.id)  # at start on SQLite; when its job is taken again on PostgreSQL
    assert failed.state is TaskState.FAILED
    assert (failed.error.code, failed.error.reason) == ("ABORTED", "TASK_INTERRUPTED")
    assert failed.end_time is not None and failed.eta is None and failed.attempt == 1
    events = await log_of(repo, task.id)
    assert_gap_free(events, failed)
    assert events[-1].state is TaskState.FAILED and events[-1].error == failed.error


async def test_a_pending_task_of_a_kind_that_cannot_resume_still_runs_after_a_restart(repo, new_runner):
    before = await new_runner(concurrency=1, kinds=(GATED, task_kinds.ONE_SHOT))
    await before.submit(USER, GATED)  # holds the only slot
    queued = await before.submit(USER, task_kinds.ONE_SHOT, {"delay": 0})
    await before.stop()
    assert (await repo.get(queued.id)).state is TaskState.PENDING

    await new_runner(concurrency=2)
    finished = await until_finished(repo, queued.id)
    assert finished.state is TaskState.SUCCEEDED and finished.attempt == 1


async def test_a_live_task_of_an_unregistered_kind_fails_with_kind_unknown(db, repo, new_runner):
    sqlite_only(db, CRASH_ON_SQLITE)
    before = await new_runner(concurrency=1)
    running = await before.submit(USER, GATED)
    pending = await before.submit(USER, GATED)
    await until_state(repo, running.id, TaskState.RUNNING)
    await before.stop()

    await new_runner(kinds=(task_kinds.STEPS,))  # the gated kind is gone after the restart
    for task_id in (running.id, pending.id):
        failed = await repo.get(task_id)
        assert failed.state is TaskState.FAILED
        assert (failed.error.code, failed.error.reason) == ("FAILED_PRECONDITION", "TASK_KIND_UNKNOWN")
        assert failed.error.metadata == {"kind": GATED}
        assert_gap_free(await log_of(repo, task_id), failed)


async def test_a_task_interrupted_max_attempts_times_is_failed_as_exhausted(repo, gated, new_runner):
    first = await new_runner(max_attempts=2)
    task = await first.submit(USER, GATED, {"report": [10]})
    await eventually(repo, task.id, lambda t: t.percent == 10, "the first attempt made progress")
    await first.stop()

    second = await new_runner(max_attempts=2)
    await until(lambda: gated.starts(task.id) == [1, 2], "the handler ran a second time")
    await second.stop()

    await new_runner(max_attempts=2)
    failed = await until_finished(repo, task.id)
    assert failed.state is TaskState.FAILED and failed.attempt == 2
    assert (failed.error.code, failed.error.reason) == ("ABORTED", "TASK_ATTEMPTS_EXHAUSTED")
    assert failed.error.metadata == {"attempts": "2"}
    assert gated.starts(task.id) == [1, 2]
    assert_gap_free(await log_of(repo, task.id), failed)


async def test_a_task_resumed_after_a_crash_has_no_eta_until_it_reports_again(repo, gated, new_runner):
    before = await new_runner()
    task = await before.submit(USER, GATED, {"report": [30]})
    crashed = await eventually(repo, task.id, lambda t: t.percent == 30, "the task reported 30%")
    assert crashed.eta is not None
    await before.stop()

    await new_runner()
    await eventually(repo, task.id, lambda t: t.state is TaskState.RUNNING and t.attempt == 2, "attempt 2 runs")
    events = await log_of(repo, task.id)
    resumed_at = next(i for i, e in enumerate(events) if e.message == "Resuming after a server restart.")
    # The estimate made before the crash knows nothing of the downtime: it is not carried over.
    assert [e.eta for e in events[resumed_at:resumed_at + 2]] == [None, None]


async def test_after_a_restart_the_eta_follows_this_attempts_pace_not_the_downtime(db, repo, new_runner):
    sqlite_only(db, CRASH_ON_SQLITE)
    # A task that was half done when its server went down an hour ago.
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    task = Task(id="half-done", user_id=USER, kind=GATED, state=TaskState.RUNNING, create_time=hour_ago,
                update_time=hour_ago, percent=50, params={"report": [60]}, last_sequence=1, attempt=1,
                start_time=hour_ago)
    await repo.create(task, TaskEvent(task.id, 1, hour_ago, TaskState.RUNNING, "", 50, ""))

    await new_runner()
    resumed = await eventually(repo, task.id, lambda t: t.percent == 60, "the resumed task reported 60%")
    # Ten points took this attempt milliseconds; the remaining forty will not take forty minutes.
    assert resumed.eta is not None and resumed.eta - resumed.update_time < dt.timedelta(seconds=30)


# --- retention ---------------------------------------------------------------------------------


async def test_finished_tasks_are_deleted_after_the_retention_and_live_ones_stay(repo, gated, new_runner):
    runner = await new_runner(concurrency=2, retention=dt.timedelta(milliseconds=1), cleanup_interval=0.01)
    forever = await runner.submit(USER, GATED)  # RUNNING to the end
    holder = await runner.submit(USER, GATED)  # holds the second slot until its gate opens
    await until_state(repo, forever.id, TaskState.RUNNING)
    await until_state(repo, holder.id, TaskState.RUNNING)
    succeeded = await runner.submit(USER, task_kinds.ONE_SHOT, {"delay": 0})
    failed = await runner.submit(USER, task_kinds.STEPS, {"steps": 1, "fail_at": 1})
    cancelled = await runner.submit(USER, GATED)
    pending = await runner.submit(USER, GATED)  # PENDING, then RUNNING to the end

    # With a 1 ms retention the clean-up may delete the task between its cancel and cancel's read of it.
    with contextlib.suppress(NotFound):
        await runner.cancel(USER, cancelled.id)
    await eventually_gone(repo, cancelled.id)
    # That clean-up pass left every live task alone.
    for task_id, state in ((forever.id, TaskState.RUNNING), (holder.id, TaskState.RUNNING),
                           (pending.id, TaskState.PENDING)):
        assert (await repo.get(task_id)).state is state

    gated.gates[holder.id].set()  # lets the queued tasks through, one by one
    await until_state(repo, pending.id, TaskState.RUNNING)
    for task_id in (cancelled.id, holder.id, succeeded.id, failed.id):
        await eventually_gone(repo, task_id)
        assert await log_of(repo, task_id) == []
    for task_id in (forever.id, pending.id):
        live = await repo.get(task_id)
        assert live is not None and live.state is TaskState.RUNNING
        assert_gap_free(await log_of(repo, task_id), live)


async def test_the_clean_up_runs_the_jobs_added_to_it_each_pass_one_failing_stopping_none(repo, new_runner, caplog):
    runner = await new_runner(cleanup_interval=0.01)
    passes = {"failing": 0, "sweeping": 0}

    async def failing() -> None:
        passes["failing"] += 1
        raise OSError("the blob store went away")

    async def sweeping() -> int:
        passes["sweeping"] += 1
        return 0

    runner.on_clean_up(failing)
    runner.on_clean_up(sweeping)
    await wait_until(lambda: passes["sweeping"] >= 2 and passes["failing"] >= 2, what="two passes of both jobs")
    assert "clean-up failed" in caplog.text


async def eventually_gone(repo: SqlTaskRepository, task_id: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await repo.get(task_id) is not None:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{task_id} was not deleted: {await repo.get(task_id)}")
        await asyncio.sleep(0.005)


class CleanupSpy:
    """The real repository, except that a retention clean-up blocks until cancelled."""

    def __init__(self, repo: SqlTaskRepository):
        self._repo = repo
        self.entered = asyncio.Event()
        self.in_flight = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    async def delete_finished_before(self, cutoff: dt.datetime) -> int:
        self.in_flight += 1
        try:
            self.entered.set()
            await asyncio.Event().wait()
            return 0
        finally:
            self.in_flight -= 1


async def test_stopping_a_runner_waits_for_its_clean_up_to_stop(repo):
    spy = CleanupSpy(repo)
    runner = TaskRunner(spy)  # type: ignore[arg-type]
    await runner.start()
    await asyncio.wait_for(spy.entered.wait(), 5)

    await runner.stop()
    # Nothing of the runner still uses the database once stop() returns (the app closes it next).
    assert spy.in_flight == 0



# --- a new task stored already claimed ----------------------------------------------------------


async def claimed_new(runner: TaskRunner, kind: str = GATED) -> NewTask:
    """A new task claimed by `runner` (`claim_new`): on PostgreSQL once the worker of its kind is registered."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        new = runner.claim_new(runner.new_task(USER, kind))
        if new.task.state is TaskState.RUNNING:
            return new
        assert asyncio.get_running_loop().time() < deadline, "no slot was ever reserved"
        await asyncio.sleep(0.01)


async def store_claimed(db: Database, new: NewTask) -> None:
    """Stores a task claimed by `claim_new` as a repository does: on PostgreSQL with its job, in one transaction."""
    async with db.write() as session:
        task_row, *event_rows = task_rows(new)
        session.add(task_row)
        await session.flush()
        session.add_all(event_rows)
        if not db.is_sqlite:
            assert new.reservation is not None
            await session.execute(claimed_job_insert(), claimed_job_params(new.task, new.reservation))


async def job_statuses(db: Database, task_id: str) -> list[str]:
    async with db.engine.connect() as connection:
        return list(await connection.scalars(text("SELECT status::text FROM procrastinate_jobs WHERE lock = :id"),
                                             {"id": task_id}))


async def test_a_task_stored_claimed_runs_in_its_reserved_slot_with_a_gap_free_log(db, repo, gated, new_runner,
                                                                                    monkeypatch):
    """On PostgreSQL too: its job is stored running under the worker that reserved the slot, no worker fetches it
    (no notice, fetch and claim before it starts), and it is deleted once the task has ended."""
    fetched: list[list[str]] = []
    fetch_job = JobManager.fetch_job

    async def noting_fetches(self: JobManager, queues: list[str], worker_id: int) -> Any:
        job = await fetch_job(self, queues=queues, worker_id=worker_id)
        if job is not None and GATED in queues:  # (not the maintenance worker's)
            fetched.append(queues)
        return job

    monkeypatch.setattr(JobManager, "fetch_job", noting_fetches)
    runner = await new_runner(concurrency=1)

    first = await claimed_new(runner)
    assert (first.task.state, first.task.attempt, first.task.owner) == (TaskState.RUNNING, 1, runner.worker_id)
    # Its slot is taken while it is being stored: the next new task is left PENDING, for the dispatcher to claim.
    second = runner.claim_new(runner.new_task(USER, GATED))
    assert (second.task.state, second.claim_event) == (TaskState.PENDING, None)
    runner.not_stored(second.task)
    await store_claimed(db, first)
    if not db.is_sqlite:
        assert await job_statuses(db, first.task.id) == ["doing"]
    await runner.accepted(GATED, first.task)

    await until(lambda: first.task.id in gated.seen_at_start, "the claimed task's handler started")
    gated.gates[first.task.id].set()
    done = await until_state(repo, first.task.id, TaskState.SUCCEEDED)
    assert (done.attempt, done.interruptions) == (1, 0)
    events = await log_of(repo, first.task.id)
    assert [e.state for e in events] == [TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED]
    assert_gap_free(events, done)
    assert not fetched
    if not db.is_sqlite:
        await read_until(lambda: job_statuses(db, first.task.id), lambda statuses: statuses == [], timeout=30,
                         what="the job deleted once its task ended")
    # Its run here ended: its slot is free for the next new task.
    runner.not_stored((await claimed_new(runner)).task)


async def test_a_slot_reserved_for_a_task_that_was_not_stored_is_free_again(db, repo, gated, new_runner):
    runner = await new_runner(concurrency=1)
    lost = await claimed_new(runner)
    runner.not_stored(lost.task)  # its transaction failed

    again = await claimed_new(runner)  # the slot was given back
    await store_claimed(db, again)
    await runner.accepted(GATED, again.task)
    await until(lambda: again.task.id in gated.seen_at_start, "the next task's handler started")
    gated.gates[again.task.id].set()
    await until_state(repo, again.task.id, TaskState.SUCCEEDED)
    assert await repo.get(lost.task.id) is None


async def test_a_task_stored_claimed_is_resumed_by_another_worker_when_its_worker_stops(db, repo, gated,
                                                                                        new_runner):
    """Its job is the queue's like any other: the worker that stored it claimed stops (here without handing it
    back, as a crash leaves it), and another worker resumes the task from its job."""
    if db.is_sqlite:
        pytest.skip("SQLite has one worker: its restart recovers the task (the crash tests above)")
    first = await new_runner(kinds=(GATED,), lease_seconds=1.5)
    new = await claimed_new(first)
    await store_claimed(db, new)
    await first.accepted(GATED, new.task)
    await until(lambda: gated.starts(new.task.id) == [1], "the claimed task's handler started")
    await first.stop()

    await new_runner(kinds=(GATED,), lease_seconds=1.5)
    await until(lambda: gated.starts(new.task.id) == [1, 2], "another worker resumed it", timeout=60)
    gated.gates[new.task.id].set()
    done = await until_state(repo, new.task.id, TaskState.SUCCEEDED)
    assert (done.attempt, done.interruptions) == (2, 1)


async def test_a_run_here_that_lost_its_task_leaves_the_job_another_worker_took(db, repo, gated, new_runner,
                                                                                monkeypatch):
    """A task stored claimed whose job was put back and taken by another worker (its worker presumed dead, the task
    resumed there) is that worker's: the first run's end, refused by the fence, must not delete that job."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    ended: list[str] = []
    execute = psycopg.AsyncCursor.execute

    async def noting_job_ends(self: psycopg.AsyncCursor[Any], query: Any, params: Any = None, **kwargs: Any) -> Any:
        try:
            return await execute(self, query, params, **kwargs)
        finally:
            if isinstance(query, str) and query.startswith("DELETE FROM procrastinate_jobs"):
                ended.extend(params["task_ids"])

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", noting_job_ends)
    runner = await new_runner(kinds=(GATED,), lease_seconds=600)
    new = await claimed_new(runner)
    await store_claimed(db, new)
    await runner.accepted(GATED, new.task)
    await until(lambda: new.task.id in gated.seen_at_start, "the claimed task's handler started")
    async with db.engine.begin() as connection:  # as if another worker had taken it: under another worker's id
        await connection.execute(text(
            "UPDATE procrastinate_jobs SET worker_id = (SELECT id FROM procrastinate_workers WHERE id <> :mine "
            "ORDER BY id LIMIT 1) WHERE lock = :task_id"), {"mine": new.reservation, "task_id": new.task.id})

    gated.gates[new.task.id].set()
    await until_state(repo, new.task.id, TaskState.SUCCEEDED)
    await until(lambda: new.task.id in ended, "the run's end tried to delete its job")
    assert await job_statuses(db, new.task.id) == ["doing"]


async def test_the_jobs_of_tasks_run_here_that_end_together_are_deleted_together(db, repo, gated, new_runner,
                                                                                   monkeypatch):
    """Each job run here was deleted by a statement of its own once its task ended: under a burst of chat replies,
    a psycopg call of the event loop per reply. Those that end while one delete runs go in the next, together."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    deletes: list[list[str]] = []
    first_delete_may_go = asyncio.Event()
    execute = psycopg.AsyncCursor.execute

    async def holding_the_first_delete(self: psycopg.AsyncCursor[Any], query: Any, params: Any = None,
                                       **kwargs: Any) -> Any:
        if isinstance(query, str) and query.startswith("DELETE FROM procrastinate_jobs"):
            deletes.append(list(params["task_ids"]))
            if len(deletes) == 1:
                await first_delete_may_go.wait()
        return await execute(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", holding_the_first_delete)
    runner = await new_runner(kinds=(GATED,), concurrency=4)
    news = [await claimed_new(runner) for _ in range(4)]
    for new in news:
        await store_claimed(db, new)
        await runner.accepted(GATED, new.task)
    await until(lambda: all(new.task.id in gated.seen_at_start for new in news), "the handlers started")
    gated.gates[news[0].task.id].set()
    await until_state(repo, news[0].task.id, TaskState.SUCCEEDED)
    await until(lambda: len(deletes) == 1, "the first task's job is being deleted")
    for new in news[1:]:
        gated.gates[new.task.id].set()
        await until_state(repo, new.task.id, TaskState.SUCCEEDED)
    dispatcher = runner._dispatcher
    assert isinstance(dispatcher, ProcrastinateDispatcher)
    await until(lambda: not dispatcher._run_here, "the runs here ended")
    first_delete_may_go.set()

    for new in news:
        await read_until(lambda new=new: job_statuses(db, new.task.id), lambda statuses: statuses == [],
                         timeout=30, what="the job deleted once its task ended")
    assert deletes == [[news[0].task.id], [new.task.id for new in news[1:]]]


async def test_a_task_stored_claimed_resumes_once_the_database_that_stopped_its_worker_is_back(db, repo, gated,
                                                                                               new_runner, caplog):
    """The database failing the worker whose job the task's is (a restart, a failover) stops its run here, as
    procrastinate stops the worker's own jobs (left running, it would run beside its resumption), and once the
    database is back the job comes back to this worker, which resumes the task although the task names it."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    runner = await new_runner(kinds=(GATED,), lease_seconds=1.5)
    new = await claimed_new(runner)
    await store_claimed(db, new)
    await runner.accepted(GATED, new.task)
    await until(lambda: gated.starts(new.task.id) == [1], "the claimed task's handler started")

    async with database_away(db.url.render_as_string(hide_password=False)):
        await until(lambda: worker_stopped(caplog, GATED), "the worker of its tasks stopped", timeout=60)

    await until(lambda: gated.starts(new.task.id) == [1, 2], "the task resumed", timeout=60)
    assert ("end", new.task.id, 1) not in gated.log
    gated.gates[new.task.id].set()
    done = await until_state(repo, new.task.id, TaskState.SUCCEEDED)
    assert (done.attempt, done.interruptions) == (2, 1)


async def test_a_task_stored_claimed_stops_at_once_when_cancelled_from_another_replica(db, repo, gated,
                                                                                       new_runner):
    """Its job runs outside procrastinate's worker, which cancels only its own jobs on an abort: the dispatcher
    stops this one itself (its handler would otherwise run on, here until its gate opened)."""
    if db.is_sqlite:
        pytest.skip("SQLite has one worker: a cancel stops its task in this process")
    runner = await new_runner(kinds=(GATED,), lease_seconds=600)  # polls every 200 s: the notice stops it
    replica = await new_runner(kinds=(task_kinds.ONE_SHOT,), lease_seconds=600)
    new = await claimed_new(runner)
    await store_claimed(db, new)
    await runner.accepted(GATED, new.task)
    await until(lambda: new.task.id in gated.seen_at_start, "the claimed task's handler started")

    assert (await replica.cancel(USER, new.task.id)).state is TaskState.CANCELLED
    # Stopped, its job ends failed (aborted), for the clean-up to delete; still running, it would stay "doing".
    await read_until(lambda: job_statuses(db, new.task.id), lambda statuses: statuses in ([], ["failed"]),
                     timeout=30, what="the claimed task's run stopped")
    assert ("end", new.task.id, 1) not in gated.log


async def test_a_submitted_task_is_taken_at_once_through_notify_not_at_the_next_poll(db, repo, gated, new_runner):
    """On PostgreSQL workers poll for jobs only a few times a lease: a stored task's job is announced (NOTIFY), and
    a listening worker starts it at once. With a 600 s lease the poll comes every 200 s, so a start within the
    deadline here is the notice's doing."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    runner = await new_runner(kinds=(GATED,), lease_seconds=600)
    (channel,) = get_channel_for_queues([GATED])
    listening = text("SELECT count(*) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND starts_with(query, :listen)")
    deadline = asyncio.get_running_loop().time() + 60
    # The worker's LISTEN is in place (its last statement on its connection): a notice sent before would be lost.
    while True:
        async with db.engine.connect() as connection:
            if await connection.scalar(listening, {"listen": f'LISTEN "{channel}"'}):
                break
        assert asyncio.get_running_loop().time() < deadline, "the worker never listened"
        await asyncio.sleep(0.05)
    task = await runner.submit(USER, GATED)
    await eventually(repo, task.id, lambda t: t.state is TaskState.RUNNING, "the task started", timeout=60)
    gated.gates[task.id].set()
    await eventually(repo, task.id, lambda t: t.state is TaskState.SUCCEEDED, "the task ended", timeout=60)


async def test_a_worker_takes_tasks_again_once_its_database_is_back(db, repo, gated, new_runner, caplog):
    """While PostgreSQL refuses connections (a restart, a failover), procrastinate's worker fails its heartbeat or
    its fetch and stops for good: nothing ran again until the server restarted. The dispatcher starts a stopped
    worker again, so once the database is back its tasks run."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    runner = await new_runner(kinds=(GATED,), lease_seconds=1.5)
    first = await runner.submit(USER, GATED)
    await until_state(repo, first.id, TaskState.RUNNING)
    gated.gates[first.id].set()
    await until_state(repo, first.id, TaskState.SUCCEEDED)

    async with database_away(db.url.render_as_string(hide_password=False)):
        await until(lambda: worker_stopped(caplog, GATED), "the worker of its tasks stopped", timeout=60)

    second = await runner.submit(USER, GATED)
    await eventually(repo, second.id, lambda t: t.state is TaskState.RUNNING, "the task started", timeout=60)
    gated.gates[second.id].set()
    await until_state(repo, second.id, TaskState.SUCCEEDED)


async def test_a_worker_fetches_several_jobs_at_once(db, repo, gated, new_runner, monkeypatch):
    """procrastinate's worker fetches a job per round trip and the next once it has the first: on a busy event loop
    that took a turn of the loop per job, whatever the pool's free slots. Here each fetch of the pool's worker waits
    (up to a bound) until another of its fetches is under way: one fetch loop never has two."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    fetching = 0
    overlapped = asyncio.Event()
    fetch_job = JobManager.fetch_job

    async def fetch_beside_another(self: JobManager, queues: list[str], worker_id: int) -> Any:
        nonlocal fetching
        if GATED not in queues:  # the maintenance worker's
            return await fetch_job(self, queues=queues, worker_id=worker_id)
        fetching += 1
        if fetching > 1:
            overlapped.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(overlapped.wait(), timeout=5)
            return await fetch_job(self, queues=queues, worker_id=worker_id)
        finally:
            fetching -= 1

    monkeypatch.setattr(JobManager, "fetch_job", fetch_beside_another)
    runner = await new_runner(kinds=(GATED,), concurrency=2)
    tasks = [await runner.submit(USER, GATED) for _ in range(2)]
    for task in tasks:
        await until_state(repo, task.id, TaskState.RUNNING)
    assert overlapped.is_set()
    for task in tasks:
        gated.gates[task.id].set()
        await until_state(repo, task.id, TaskState.SUCCEEDED)


async def test_procrastinates_statements_are_sent_without_begin_and_commit(db, repo, new_runner, monkeypatch):
    """Each of procrastinate's statements is one call of its functions, whole in itself: in a transaction of its own
    it took a BEGIN and a COMMIT besides, two round trips of the four of a job's fetch or end."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    in_autocommit: list[bool] = []
    execute = psycopg.AsyncCursor.execute

    async def noting_autocommit(self: psycopg.AsyncCursor[Any], *args: Any, **kwargs: Any) -> Any:
        in_autocommit.append(self.connection.autocommit)
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", noting_autocommit)
    runner = await new_runner(kinds=(task_kinds.ONE_SHOT,))
    task = await runner.submit(USER, task_kinds.ONE_SHOT, params={"delay": 0})
    await until_state(repo, task.id, TaskState.SUCCEEDED)
    assert in_autocommit and all(in_autocommit)


async def test_procrastinates_pool_sends_no_check_before_a_jobs_statements(db, repo, new_runner, monkeypatch):
    """psycopg's pool, as procrastinate makes it, checks each connection it hands out with an empty statement: a
    round trip more for each of a job's fetch and end, one of them before a chat reply's first text."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    checks = 0
    execute = psycopg.AsyncConnection.execute

    async def counting_checks(self: psycopg.AsyncConnection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal checks
        checks += query == ""
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", counting_checks)
    runner = await new_runner(kinds=(task_kinds.ONE_SHOT,))
    task = await runner.submit(USER, task_kinds.ONE_SHOT, params={"delay": 0})
    await until_state(repo, task.id, TaskState.SUCCEEDED)
    assert checks == 0


async def test_the_job_of_a_task_cancelled_from_another_replica_is_deleted_by_the_clean_up(db, repo, gated,
                                                                                            new_runner):
    """A job aborted while it runs ends in procrastinate as failed or aborted (its handler is cancelled, and the
    retry strategy is asked), never deleted by its end: the clean-up deletes such jobs, which would pile up."""
    if db.is_sqlite:
        pytest.skip("SQLite dispatches in-process: no job queue")
    runner = await new_runner(kinds=(GATED,), cleanup_interval=0.01)
    replica = await new_runner(kinds=(task_kinds.ONE_SHOT,))
    doomed = await runner.submit(USER, GATED)
    await until(lambda: doomed.id in gated.seen_at_start, "the task's handler started")

    assert (await replica.cancel(USER, doomed.id)).state is TaskState.CANCELLED

    async def jobs_of_task() -> list[str]:
        async with db.engine.connect() as connection:
            return list(await connection.scalars(text("SELECT status::text FROM procrastinate_jobs WHERE lock = :id"),
                                                 {"id": doomed.id}))

    await read_until(jobs_of_task, lambda statuses: statuses == [], timeout=30, what="the aborted job deleted")

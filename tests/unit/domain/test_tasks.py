"""The TaskRunner on an in-memory repository and a clock the test moves: the state machine, the event log, ETAs,
failures, cancellation, recovery after a restart and retention. (tests/integration/test_task_runner.py runs it on
SQL; tests/e2e/test_tasks.py through TaskService.)"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from storyloom.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from storyloom.domain.tasks import Task, TaskContext, TaskEvent, TaskResult, TaskRunner, TaskState
from tests.support.fakes import FakeClock, InMemoryTaskRepository, until

USER = "u1"


class Gate:
    """A handler that reports once, then waits for the test to open the gate (or to be cancelled)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.open = asyncio.Event()
        self.saw_cancel_requested: bool | None = None

    async def __call__(self, ctx: TaskContext) -> TaskResult:
        await ctx.progress(stage="working", percent=10, checkpoint={"step": 1})
        self.started.set()
        try:
            await self.open.wait()
        except asyncio.CancelledError:
            self.saw_cancel_requested = ctx.cancel_requested
            raise
        return TaskResult("test.Done", b"done")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repo() -> InMemoryTaskRepository:
    return InMemoryTaskRepository()


@pytest_asyncio.fixture
async def runner(repo: InMemoryTaskRepository, clock: FakeClock) -> AsyncIterator[TaskRunner]:
    tasks = TaskRunner(repo, clock=clock)
    yield tasks
    await tasks.stop()


async def events_of(runner: TaskRunner, task: Task, after: int = 0) -> list[TaskEvent]:
    return [event async for event in runner.watch(USER, task.id, after)]


async def test_a_task_runs_to_its_result_and_its_log_tells_each_step_in_order(runner: TaskRunner) -> None:
    async def handler(ctx: TaskContext) -> TaskResult:
        await ctx.progress(stage="one", percent=50, message="Half way.")
        return TaskResult("test.Done", b"42")

    runner.register("test.half", handler)
    task = await runner.submit(USER, "test.half", {"n": 1})

    events = await events_of(runner, task)

    assert [(e.sequence, e.state, e.percent) for e in events] == [
        (1, TaskState.PENDING, 0), (2, TaskState.RUNNING, 0), (3, TaskState.RUNNING, 50),
        (4, TaskState.SUCCEEDED, 100)]
    assert events[2].message == "Half way."
    done = await runner.get(USER, task.id)
    assert done.result == TaskResult("test.Done", b"42") and done.attempt == 1


async def test_a_watch_after_a_sequence_replays_only_what_came_after_it(runner: TaskRunner,
                                                                       repo: InMemoryTaskRepository) -> None:
    runner.register("test.noop", lambda ctx: _none())
    task = await runner.submit(USER, "test.noop")
    await until(lambda: repo.tasks[task.id].state is TaskState.SUCCEEDED)

    assert [e.sequence for e in await events_of(runner, task, after=2)] == [3]
    assert await events_of(runner, task, after=3) == []  # nothing after the end: the watch ends at once


async def test_a_repeated_request_id_returns_the_first_task_and_runs_it_once(runner: TaskRunner) -> None:
    runs = 0

    async def count(ctx: TaskContext) -> None:
        nonlocal runs
        runs += 1

    runner.register("test.count", count)
    first = await runner.submit(USER, "test.count", request_id="r-1")
    again = await runner.submit(USER, "test.count", request_id="r-1")
    await events_of(runner, first)

    assert again.id == first.id
    assert runs == 1


async def test_percent_never_goes_back_and_the_eta_follows_this_attempts_pace(runner: TaskRunner,
                                                                              clock: FakeClock) -> None:
    seen: list[tuple[int, dt.datetime | None]] = []

    async def paced(ctx: TaskContext) -> None:
        clock.advance(10)
        await ctx.progress(percent=25)  # 25 % in 10 s: 30 s to go
        task = await runner.get(USER, ctx.task_id)
        seen.append((task.percent, task.eta))
        await ctx.progress(percent=20)  # a smaller value is kept at 25
        task = await runner.get(USER, ctx.task_id)
        seen.append((task.percent, task.eta))

    runner.register("test.paced", paced)
    started = clock.now()
    task = await runner.submit(USER, "test.paced")
    await events_of(runner, task)

    assert seen[0] == (25, started + dt.timedelta(seconds=40))
    assert seen[1][0] == 25
    assert (await runner.get(USER, task.id)).eta is None  # a finished task has no ETA


async def test_a_domain_error_fails_the_task_with_its_code_and_reason(runner: TaskRunner) -> None:
    async def refuse(ctx: TaskContext) -> None:
        raise InvalidArgument(FieldViolation("story", "too short"), reason="STORY_TOO_SHORT")

    runner.register("test.refuse", refuse)
    task = await runner.submit(USER, "test.refuse")
    last = (await events_of(runner, task))[-1]

    assert last.state is TaskState.FAILED
    assert last.error is not None
    assert (last.error.code, last.error.reason) == ("INVALID_ARGUMENT", "STORY_TOO_SHORT")


async def test_any_other_exception_fails_the_task_without_its_message(runner: TaskRunner) -> None:
    async def crash(ctx: TaskContext) -> None:
        raise RuntimeError("secret internals")

    runner.register("test.crash", crash)
    task = await runner.submit(USER, "test.crash")
    last = (await events_of(runner, task))[-1]

    assert last.error is not None
    assert (last.error.code, last.error.reason) == ("INTERNAL", "TASK_FAILED")
    assert "secret" not in last.error.message


async def test_cancel_stops_the_running_handler_which_knows_it_was_asked(runner: TaskRunner) -> None:
    gate = Gate()
    runner.register("test.gated", gate)
    task = await runner.submit(USER, "test.gated")
    await gate.started.wait()

    cancelled = await runner.cancel(USER, task.id)

    assert cancelled.state is TaskState.CANCELLED
    assert cancelled.error is not None and cancelled.error.reason == "TASK_CANCELLED"
    assert gate.saw_cancel_requested is True
    assert (await runner.cancel(USER, task.id)).state is TaskState.CANCELLED  # again: no change, no error


async def test_an_unfinished_task_is_deleted_only_with_force(runner: TaskRunner,
                                                             repo: InMemoryTaskRepository) -> None:
    gate = Gate()
    runner.register("test.gated", gate)
    task = await runner.submit(USER, "test.gated")
    await gate.started.wait()

    with pytest.raises(FailedPrecondition) as refused:
        await runner.delete(USER, task.id)
    assert refused.value.reason == "TASK_NOT_FINISHED"

    await runner.delete(USER, task.id, force=True)
    assert task.id not in repo.tasks


async def test_another_users_task_is_not_found(runner: TaskRunner) -> None:
    runner.register("test.noop", lambda ctx: _none())
    task = await runner.submit(USER, "test.noop")

    with pytest.raises(NotFound):
        await runner.get("someone-else", task.id)


async def test_after_a_restart_a_resumable_task_starts_again_from_its_checkpoint(repo: InMemoryTaskRepository,
                                                                                 clock: FakeClock) -> None:
    first = TaskRunner(repo, clock=clock)
    gate = Gate()
    first.register("test.gated", gate)
    task = await first.submit(USER, "test.gated")
    await gate.started.wait()
    await first.stop()  # a crash: the task stays RUNNING

    checkpoints = []

    async def resume(ctx: TaskContext) -> None:
        checkpoints.append((ctx.attempt, ctx.checkpoint))

    second = TaskRunner(repo, clock=clock)
    second.register("test.gated", resume)
    await second.start()
    try:
        events = [e async for e in second.watch(USER, task.id, 3)]
    finally:
        await second.stop()

    assert [e.message for e in events][:2] == ["Resuming after a server restart.", "Resumed."]
    assert events[-1].state is TaskState.SUCCEEDED
    assert checkpoints == [(2, {"step": 1})]


@pytest.mark.parametrize(("register", "attempts", "reason"), [
    ("not-resumable", 1, "TASK_INTERRUPTED"),
    ("nothing", 1, "TASK_KIND_UNKNOWN"),
    ("resumable", 3, "TASK_ATTEMPTS_EXHAUSTED"),
])
async def test_after_a_restart_a_task_that_cannot_go_on_fails_with_the_reason(
        repo: InMemoryTaskRepository, clock: FakeClock, register: str, attempts: int, reason: str) -> None:
    now = clock.now()
    stuck = Task("t1", USER, "test.kind", TaskState.RUNNING, now, now, attempt=attempts, last_sequence=1)
    await repo.create(stuck, TaskEvent("t1", 1, now, TaskState.RUNNING, "", 0, ""))
    runner = TaskRunner(repo, clock=clock, max_attempts=3)
    if register != "nothing":
        runner.register("test.kind", lambda ctx: _none(), resumable=register == "resumable")

    await runner.start()
    await runner.stop()

    failed = repo.tasks["t1"]
    assert failed.state is TaskState.FAILED
    assert failed.error is not None and failed.error.reason == reason
    assert failed.end_time == now


async def test_finished_tasks_are_deleted_once_the_retention_has_passed(repo: InMemoryTaskRepository,
                                                                         clock: FakeClock) -> None:
    runner = TaskRunner(repo, clock=clock, retention=dt.timedelta(days=7))
    runner.register("test.noop", lambda ctx: _none())
    old = await runner.submit(USER, "test.noop")
    await events_of(runner, old)
    clock.advance(dt.timedelta(days=6).total_seconds())
    recent = await runner.submit(USER, "test.noop")
    await events_of(runner, recent)
    clock.advance(dt.timedelta(days=1, seconds=1).total_seconds())

    await runner.start()  # its first clean-up pass runs at once
    try:
        await until(lambda: old.id not in repo.tasks)
    finally:
        await runner.stop()

    assert recent.id in repo.tasks


async def test_a_kind_with_a_pool_of_its_own_does_not_wait_behind_the_shared_pool(repo: InMemoryTaskRepository,
                                                                                  clock: FakeClock) -> None:
    runner = TaskRunner(repo, clock=clock, concurrency=1)
    gate = Gate()
    runner.register("test.gated", gate)
    runner.register("test.quick", lambda ctx: _none(), concurrency=2)
    try:
        await runner.submit(USER, "test.gated")
        await gate.started.wait()  # the shared pool's only slot is taken
        quick = await runner.submit(USER, "test.quick")
        last = (await events_of(runner, quick))[-1]
    finally:
        await runner.stop()

    assert last.state is TaskState.SUCCEEDED


async def _none() -> None:
    return None

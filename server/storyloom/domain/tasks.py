"""Long-running work as persisted tasks: a state machine, an ordered event log, and a runner.

Every state change is written (task row and event, in one transaction) before anyone is told
about it, so a watcher never sees an event the store does not have, and a restart finds every
accepted task. Other features register task kinds on the runner: a kind is an async handler that
reports progress through its TaskContext and returns a result.

A runner is one worker. Its dispatcher (`domain/ports/dispatch.py`) hands it tasks to run: the in-process one on
SQLite, procrastinate's job queue on PostgreSQL (so tasks submitted on any replica run on any worker, a dead worker's
tasks are resumed by another, and a cancel aborts the work wherever it runs). The runner claims each task in its row
and writes only under that claim (`TaskFence`): a worker that lost a task (cancelled elsewhere, or presumed dead and
resumed by another) can no longer change it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from storyloom.domain.errors import DomainError, FailedPrecondition, NotFound, ResourceExhausted
from storyloom.domain.local_dispatch import LocalDispatcher
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.dispatch import Pool, TaskDispatcher
from storyloom.domain.ports.notifier import CHANGED, LocalNotifier, Notifier
from storyloom.domain.ports.telemetry import NO_TELEMETRY, Telemetry
from storyloom.domain.task_types import (
    LIVE_STATES,
    NewTask,
    Task,
    TaskClaim,
    TaskContext,
    TaskEndHook,
    TaskEnding,
    TaskError,
    TaskEvent,
    TaskFence,
    TaskFenced,
    TaskHandler,
    TaskKind,
    TaskPart,
    TaskRepository,
    TaskResult,
    TaskState,
    TaskUpdate,
)

__all__ = ["LIVE_STATES", "NewTask", "Task", "TaskClaim", "TaskContext", "TaskEndHook", "TaskEnding", "TaskError",
           "TaskEvent", "TaskFence", "TaskFenced", "TaskHandler", "TaskKind", "TaskPart", "TaskRepository",
           "TaskResult", "TaskRunner", "TaskState", "TaskUpdate"]

log = logging.getLogger(__name__)

# The task (id, attempt) whose handler is running in this context: log lines written there carry both.
current_task: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar("storyloom_task", default=None)

# The task parameter that carries the creating call's trace context (W3C traceparent).
TRACE_PARAM = "_trace"

# How long a caller over the task limit is told to wait: about how long a short task takes.
TASK_LIMIT_RETRY_SECONDS = 30.0

HANDED_BACK = "Handed back by a stopping worker; it resumes on the next one."
# A watched task that waits in the queue reports its place and an estimated start at least this often.
QUEUE_REPORT_SECONDS = 5.0
# How many recently ended tasks a worker remembers as settled (`TaskRunner.settled`), about the replies written at once.
ENDED_HERE_KEPT = 1024


class TaskRunner:
    """Runs registered task kinds with bounded concurrency and a persisted event log.

    `dispatcher` hands this worker its tasks; without one, the in-process dispatcher does, and the store is this
    process's alone (SQLite, the embedded mode): tasks a worker holds at start were left by an earlier process, and
    are recovered at once. With a shared dispatcher, a dead worker's tasks come back through it.
    """

    def __init__(
        self,
        repository: TaskRepository,
        *,
        concurrency: int = 4,
        retention: dt.timedelta = dt.timedelta(days=7),
        max_attempts: int = 3,
        cleanup_interval: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
        dispatcher: TaskDispatcher | None = None,
        run_tasks: bool = True,
        worker_id: str | None = None,
        notifier: Notifier | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        max_live_per_user: int = 0,
    ):
        self._repo = repository
        self._notifier: Notifier = notifier or LocalNotifier()
        self._clock = clock
        # Metrics and spans; the services whose kinds run here report their stages and engines through it too.
        self.telemetry = telemetry
        self._max_live_per_user = max_live_per_user
        self._admissions: dict[str, list[Any]] = {}
        # The kind and state of each live task this process has seen, to report state changes.
        self._live: dict[str, tuple[str, str]] = {}
        self._kinds: dict[str, TaskKind] = {}
        self._concurrency = concurrency
        self._own_pools: dict[str, int] = {}  # kind: its own slots (kinds not here share `concurrency`)
        self.retention = retention
        self._max_attempts = max_attempts
        self._cleanup_interval = cleanup_interval
        self._sole_worker = dispatcher is None
        self._dispatcher: TaskDispatcher = dispatcher or LocalDispatcher(repository)
        self.run_tasks = run_tasks
        self.worker_id = worker_id or new_worker_id()
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._claims: dict[str, int] = {}  # task id: the attempt this worker claimed
        self._cancel_requested: set[str] = set()
        self._finishing: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        # Claims waiting to be stored, and the task storing them in batches (`_record_claim`).
        self._claims_due: list[tuple[str, int | None, asyncio.Future[Task | None]]] = []
        self._claim_writer: asyncio.Task[None] | None = None
        # New tasks being stored already claimed by this worker (`claim_new`), run once announced without a claim.
        self._claimed_new: set[str] = set()
        # The tasks this worker runs, each with an event set once its end is recorded (`settled`).
        self._ran: dict[str, asyncio.Event] = {}
        # The last tasks whose end this process recorded, oldest first: `settled` needs no read for them (a chat
        # reply's stream asks right after its task ended).
        self._ended_here: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._stopping = False
        self._handing_back = False
        # What else the periodic clean-up does (what ended tasks left behind), each after the retention's.
        self._clean_ups: list[Callable[[], Awaitable[object]]] = []

    # --- registration and life cycle ---------------------------------------------------------

    def register(self, kind: str, handler: TaskHandler, *, resumable: bool = True,
                 concurrency: int | None = None, on_end: TaskEndHook | None = None) -> None:
        """Adds a kind of task. With `concurrency`, the kind gets a pool of its own of that many
        slots (chat replies wait on a model, not on the CPU, and must not queue behind stories);
        without, it shares the runner's pool. `on_end` hears how each task of the kind ends."""
        if kind in self._kinds:
            raise ValueError(f"task kind {kind!r} is already registered")
        self._kinds[kind] = TaskKind(kind, handler, resumable, on_end)
        if concurrency is not None:
            self._own_pools[kind] = concurrency

    def on_clean_up(self, job: Callable[[], Awaitable[object]]) -> None:
        """Runs `job` with the periodic clean-up (once in the cluster, as the dispatcher runs it; at start on
        SQLite): for what tasks that ended leave behind. A job that fails is logged, and tried again next time."""
        self._clean_ups.append(job)

    def _pools(self) -> list[Pool]:
        shared = tuple(sorted(kind for kind in self._kinds if kind not in self._own_pools))
        return ([Pool(shared, self._concurrency)] if shared else []) + [
            Pool((kind,), capacity) for kind, capacity in sorted(self._own_pools.items())]

    async def start(self) -> None:
        """Fails waiting tasks no handler knows, recovers tasks a dead process left (when the store is this
        process's alone), then lets the dispatcher hand out work and run the clean-up."""
        for task in await self._repo.live():
            if task.state is TaskState.PENDING and task.kind not in self._kinds:
                await self._fail_orphan(task, _kind_unknown(task), fence=TaskFence(
                    states=(TaskState.PENDING,), unowned=True, attempt=task.attempt))
        if self._sole_worker:
            for task in await self._repo.orphans(self.worker_id):
                await self._recover(task)
        if self.run_tasks:
            await self._dispatcher.start(self._pools, self.run, self._clean_up, self._cleanup_interval)

    async def stop(self) -> None:
        """Stops running work without marking it, as a crash would: the task stays RUNNING under this worker, and
        is resumed (counting an interruption) once the worker is presumed dead."""
        self._stopping = True
        if self.run_tasks:
            await self._dispatcher.stop()

    async def shutdown(self) -> None:
        """A graceful stop: stops running work and hands each task back as PENDING, without counting an attempt
        against it, so the next worker (this one restarted, or another) resumes it from its checkpoint."""
        self._handing_back = True
        await self.stop()

    # --- the public operations ---------------------------------------------------------------

    def new_task(
        self,
        user_id: str,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        target: str = "",
        request_id: str = "",
        message: str = "Waiting to start.",
        task_id: str | None = None,
    ) -> NewTask:
        """A PENDING task and its first event, not yet stored: to be stored with what it works on, in one
        transaction, and then announced with `accepted`."""
        if kind not in self._kinds:
            raise ValueError(f"unknown task kind {kind!r}")
        now = self._clock.now()
        params = dict(params or {})
        if trace := self.telemetry.trace_context():  # the run continues the caller's trace, on any worker
            params[TRACE_PARAM] = trace
        task = Task(id=task_id or uuid.uuid4().hex, user_id=user_id, kind=kind, state=TaskState.PENDING,
                    create_time=now, update_time=now, message=message, target=target, params=params,
                    last_sequence=1, request_id=request_id)
        return NewTask(task, TaskEvent(task.id, 1, now, TaskState.PENDING, "", 0, message))

    def claim_new(self, new: NewTask) -> NewTask:
        """`new` as claimed by this worker (RUNNING, attempt 1, with its claim's event) when its dispatcher has a slot
        for it now, which it keeps for it: stored so, the task needs no claim of its own before it runs (two
        statements and a turn at the store's writer less before a chat reply's first text; on PostgreSQL, the job
        queue's fetch too). Else `new` as it is. Either way it is announced with `accepted` once stored, or given up
        with `not_stored`."""
        task = new.task
        if not self.run_tasks or self._stopping or task.state is not TaskState.PENDING or task.attempt != 0:
            return new
        reservation = self._dispatcher.reserve(task.id, task.kind)
        if reservation is None:
            return new
        now = self._clock.now()
        claimed = dataclasses.replace(task, state=TaskState.RUNNING, attempt=1, owner=self.worker_id,
                                      heartbeat_time=now, start_time=task.start_time or now, message="Started.",
                                      last_sequence=task.last_sequence + 1, update_time=now)
        self._claimed_new.add(task.id)
        return NewTask(claimed, new.first_event, TaskEvent.of(claimed, now), reservation)

    def not_stored(self, task: Task) -> None:
        """The task from `claim_new` was not stored (its transaction failed): its slot is free again."""
        if task.id in self._claimed_new:
            self._claimed_new.discard(task.id)
            self._dispatcher.release(task.id)

    async def accepted(self, kind: str = "", task: Task | None = None) -> None:
        """Says a new task (of `kind`, when given; `task`, the one stored, when the caller has it) was stored: a worker
        looks for work at once (or takes `task` at once, if it has room; it runs at once if it was stored claimed)."""
        if task is not None and task.id in self._claimed_new:
            self._count(task)
            self.telemetry.queue_wait(task.kind, 0.0)
        await self._dispatcher.announce(kind, task)

    async def submit(
        self,
        user_id: str,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        target: str = "",
        request_id: str = "",
        message: str = "Waiting to start.",
        task_id: str | None = None,
    ) -> Task:
        """Persists a new PENDING task and schedules it. A repeated request_id returns the first task."""
        new = self.new_task(user_id, kind, params, target=target, request_id=request_id, message=message,
                            task_id=task_id)
        stored, created = await self._repo.create(new.task, new.first_event)
        if created:
            self._count(stored)
            await self.accepted(kind)
        return stored

    @contextlib.asynccontextmanager
    async def admit(self, user_id: str) -> AsyncIterator[None]:
        """Holds the user's admission while the body stores what its task needs and submits it: raises
        ResourceExhausted (TASK_LIMIT_EXCEEDED, with a retry delay) when the user already has `max_live_per_user`
        tasks pending or running. One process admits a user's tasks one at a time, so a burst cannot overshoot;
        replicas on one database each count what is stored, and may overshoot by the calls they admit at once."""
        if self._max_live_per_user <= 0:
            yield
            return
        entry = self._admissions.setdefault(user_id, [asyncio.Lock(), 0])
        lock: asyncio.Lock = entry[0]
        entry[1] += 1  # callers holding or awaiting the lock: the entry goes when the last one leaves
        try:
            async with lock:
                live = await self._repo.count_live(user_id)
                if live >= self._max_live_per_user:
                    raise ResourceExhausted(
                        f"You have {live} tasks pending or running, the most allowed; wait for one to finish or "
                        f"cancel one.", retry_after_seconds=TASK_LIMIT_RETRY_SECONDS, reason="TASK_LIMIT_EXCEEDED",
                        metadata={"limit": str(self._max_live_per_user), "live": str(live)})
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._admissions[user_id]

    async def get(self, user_id: str, task_id: str) -> Task:
        task = await self._repo.get(task_id)
        if task is None or task.user_id != user_id:
            raise NotFound(f"tasks/{task_id}")
        return task

    async def find(self, task_id: str) -> Task | None:
        """The task whoever's it is, or None."""
        return await self._repo.get(task_id)

    async def list(
        self, user_id: str, *, states: tuple[TaskState, ...] = (), kind: str = "", limit: int,
        after: tuple[dt.datetime, str] | None = None,
    ) -> list[Task]:
        """The user's tasks, newest first, after the (create time, id) cursor `after`."""
        return await self._repo.list(user_id, states=states, kind=kind, limit=limit, after=after)

    async def cancel(self, user_id: str, task_id: str) -> Task:
        """Cancels the task wherever it runs: here its handler is cancelled at once; on another worker the task
        ends CANCELLED now and its job is aborted: that worker, told at once (or refused its next write), stops it."""
        for _ in range(10):
            task = await self.get(user_id, task_id)
            if task.state.terminal or task_id in self._finishing:
                return task
            job = self._running.get(task_id)
            if job is not None and not job.done():
                self._cancel_requested.add(task_id)
                job.cancel()
                await asyncio.gather(job, return_exceptions=True)
                return await self.get(user_id, task_id)
            with contextlib.suppress(TaskFenced):  # claimed or ended meanwhile: look again
                await self._end(task, self._cancelled_update(task), TaskFence(attempt=task.attempt))
                await self._dispatcher.abort(task_id)  # the worker running it stops it
                return await self.get(user_id, task_id)
        return await self.get(user_id, task_id)

    async def delete(self, user_id: str, task_id: str, *, force: bool = False) -> None:
        task = await self.get(user_id, task_id)
        if not task.state.terminal:
            if not force:
                raise FailedPrecondition(
                    f"tasks/{task_id} is still {task.state.value.lower()}; cancel it first or delete with force",
                    reason="TASK_NOT_FINISHED",
                    metadata={"resourceName": f"tasks/{task_id}", "state": task.state.value},
                )
            await self.cancel(user_id, task_id)
        await self._repo.delete(task_id)
        await self._forget(task_id)

    async def settled(self, user_id: str, task_id: str) -> None:
        """Returns once the task's end is recorded. A task run by this worker is waited for in memory; another is
        read, and watched to its end."""
        if task_id in self._ended_here:
            return
        ran = self._ran.get(task_id)
        if ran is not None:
            await ran.wait()
            return
        task = await self.get(user_id, task_id)
        if not task.state.terminal:
            async for _event in self.watch(user_id, task_id, task.last_sequence):
                pass

    async def watch(self, user_id: str, task_id: str, after_sequence: int = 0) -> AsyncIterator[TaskEvent]:
        """Yields stored events after `after_sequence`, then live ones, ending after the terminal event."""
        await self.get(user_id, task_id)
        last = after_sequence
        async with self._notifier.subscribe("task", task_id) as changed:  # before reading: no notice is lost
            while True:
                events = await self._repo.events_after(task_id, last, limit=500)
                for event in events:
                    yield event
                    last = event.sequence
                    if event.state.terminal:
                        return
                if events:
                    continue
                task = await self._repo.get(task_id)
                if task is None:  # deleted while watched
                    raise NotFound(f"tasks/{task_id}")
                if task.state.terminal and task.last_sequence <= last:  # asked for nothing after the end
                    return
                if task.state is TaskState.PENDING:
                    if not await changed.wait(self._queue_report_due(task)):
                        await self._report_queue(task)
                else:
                    # An idle watcher may sleep for hours, thousands at once: it keeps no task row meanwhile.
                    del task
                    await changed.wait(self._notifier.recheck_seconds)

    def _queue_report_due(self, task: Task) -> float:
        """Seconds until a waiting task's next queue report is due (its last event's age counts)."""
        age = (self._clock.now() - task.update_time).total_seconds()
        return max(0.05, QUEUE_REPORT_SECONDS - age)

    async def _report_queue(self, task: Task) -> None:
        """Records a waiting task's place in the queue and estimated start as its next event (stored before it is
        told, like every event; only while someone watches, and only while it still waits)."""
        if (self._clock.now() - task.update_time).total_seconds() < QUEUE_REPORT_SECONDS - 0.05:
            return
        ahead, running, seconds = await self._repo.queue_stats(task)
        eta = None
        if seconds is not None:
            eta = self._clock.now() + dt.timedelta(seconds=seconds * (ahead // max(1, running) + 1))
        message = "Waiting: next in line." if ahead == 0 else f"Waiting: {ahead} ahead in the queue."
        with contextlib.suppress(TaskFenced, LookupError):  # it started (or ended) meanwhile
            await self._record(task.id, TaskUpdate(message=message, eta=eta, clear_eta=eta is None),
                               TaskFence(states=(TaskState.PENDING,), unowned=True, attempt=task.attempt))

    # --- claiming and running ------------------------------------------------------------------

    def _claim_fence(self, attempt: int) -> TaskFence:
        return TaskFence(states=(TaskState.RUNNING,), owner=self.worker_id, attempt=attempt)

    async def run(self, task_id: str, read: Task | None = None) -> None:
        """Claims the task and runs it here (the dispatcher's `RunTask`). A RUNNING task was left by a dead worker:
        it is resumed (one interruption more) or failed first. `read`: the task as the dispatcher just read it
        (PENDING); if it changed since, the claim's fence refuses it."""
        claimed: Task | None = None
        if read is not None and task_id in self._claimed_new:  # stored claimed by this worker (`claim_new`)
            self._claimed_new.discard(task_id)
            claimed = read
        elif read is not None and read.state is TaskState.PENDING:
            claimed = await self._claim(task_id, read.attempt)
        else:
            if read is None:  # most often it waits, unowned: claimed without reading it first (a round trip less)
                claimed = await self._claim(task_id, None)
            if claimed is None:
                task = await self._repo.get(task_id)
                # (Under this worker but not running here: its run was stopped, as when the database failed the
                # dispatcher's worker, and its job came back.)
                if task is not None and task.state is TaskState.RUNNING and (
                        task.owner != self.worker_id or task_id not in self._running):
                    task = await self._recover(task)
                if task is None or task.state is not TaskState.PENDING:
                    return  # ended (or deleted) meanwhile
                claimed = await self._claim(task.id, task.attempt)
        if claimed is None:
            return
        self._ran[task_id] = ran = asyncio.Event()
        try:
            await self._run(claimed)
        finally:  # its end is recorded (or it was stopped)
            ran.set()
            del self._ran[task_id]

    async def _claim(self, task_id: str, attempt: int | None) -> Task | None:
        """Claims the task if it is PENDING and unowned (at `attempt`, as read, unless None); None if not (another
        worker claimed it first, or it was cancelled, deleted, or left RUNNING by a dead worker)."""
        now = self._clock.now()
        claimed = await self._record_claim(task_id, attempt)
        if claimed is not None and claimed.attempt == 1:  # its first claim: it waited in the queue since created
            self.telemetry.queue_wait(claimed.kind, max(0.0, (now - claimed.create_time).total_seconds()))
        return claimed

    async def _record_claim(self, task_id: str, attempt: int | None) -> Task | None:
        """Records a claim together with the claims asked for meanwhile, in one statement (`_write_claims`).

        A burst of new tasks (many chat replies sent at once) then takes one or two turns at the store's writer
        instead of one each. Claimed one by one, they queued on SQLite's write lock all at once, and every write
        behind them (the first chunks of the replies already running) waited for all of them: that doubled the
        time to first text of 50 replies sent at once."""
        done: asyncio.Future[Task | None] = asyncio.get_running_loop().create_future()
        self._claims_due.append((task_id, attempt, done))
        if self._claim_writer is None:
            self._claim_writer = asyncio.get_running_loop().create_task(self._write_claims(), name="task-claims")
        cancelled: asyncio.CancelledError | None = None
        while not done.done():  # a caller cancelled meanwhile still waits for the write, as repositories do
            try:
                await asyncio.wait([done])
            except asyncio.CancelledError as exc:
                cancelled = exc
        if cancelled is not None:
            raise cancelled
        return done.result()

    async def _write_claims(self) -> None:
        """Stores the claims due, one transaction a batch: those asked for while one is stored go in the next."""
        try:
            while self._claims_due:
                batch, self._claims_due = self._claims_due, []
                try:
                    stored = await self._repo.claim([(task_id, attempt) for task_id, attempt, _done in batch],
                                                    self.worker_id, self._clock.now(), ("Started.", "Resumed."))
                except Exception as exc:  # noqa: BLE001 - each claimer hears of it
                    for _task_id, _attempt, done in batch:
                        done.set_exception(exc)
                    continue
                claimed = {task.id: task for task, _event in stored}
                for task in claimed.values():
                    self._count(task)
                for task_id, _attempt, done in batch:
                    done.set_result(claimed.get(task_id))
                # Announced while the claimed tasks start: their watchers read the store, whatever the order of the
                # notices (a NOTIFY on PostgreSQL is a round trip the first text of a reply need not wait for).
                await asyncio.gather(*(self._announce_stored(task_id) for task_id in claimed),
                                     return_exceptions=True)
        finally:
            self._claim_writer = None

    async def _run(self, task: Task) -> None:
        fence = self._claim_fence(task.attempt)
        job = asyncio.current_task()
        assert job is not None
        self._running[task.id] = job
        self._claims[task.id] = task.attempt
        try:
            current_task.set((task.id, task.attempt))
            with self.telemetry.span(f"task {task.kind}", {"storyloom.task": task.id,
                                                          "storyloom.attempt": task.attempt},
                                     parent=task.params.get(TRACE_PARAM)):
                context = self._context(task, fence)
                result = await self._kinds[task.kind].handler(context)
        except asyncio.CancelledError:
            if task.id in self._cancel_requested:
                with contextlib.suppress(TaskFenced, LookupError):
                    await self._end(task, self._cancelled_update(task), fence)
                return
            if self._handing_back:
                with contextlib.suppress(TaskFenced, LookupError):
                    await self._record(task.id, TaskUpdate(
                        state=TaskState.PENDING, clear_owner=True, clear_eta=True, message=HANDED_BACK), fence)
            elif not self._stopping:
                log.info("task no longer held: stopping its work", extra={"task": task.id, "attempt": task.attempt})
            raise  # a stop (handed back, or left as a crash leaves it) or an abort (it ended elsewhere)
        except TaskFenced:
            log.info("task no longer held: its write was refused", extra={"task": task.id, "attempt": task.attempt})
            return
        except Exception as exc:  # noqa: BLE001 - any handler failure fails its task
            with contextlib.suppress(TaskFenced, LookupError):
                await self._end(task, self._failed_update(task, exc), fence)
            return
        finally:
            self._running.pop(task.id, None)
            self._claims.pop(task.id, None)
            self._cancel_requested.discard(task.id)
            self._finishing.discard(task.id)  # (asked for its end, then failed: `TaskContext.succeeding`)
        self._finishing.add(task.id)
        try:
            ending = context.ending
            if ending is not None and ending.stored:  # its last write stored its end (or was refused it)
                await self._ended_by_handler(task, ending)
                return
            with contextlib.suppress(TaskFenced, LookupError):
                await self._end(task, self._succeeded_update(result), fence)
        finally:
            self._finishing.discard(task.id)

    async def _end(self, task: Task, update: TaskUpdate, fence: TaskFence) -> None:
        """Ends the task: tells its kind's hook (whose writes the fence refuses as it refuses the end), then records
        the end. If the fence refused it (another end won the race, or the task moved on), the hook hears of the end
        recorded, if any; raises TaskFenced then."""
        state = update.state
        assert state is not None and state.terminal
        hook = self._end_hook(task)
        try:
            if hook is not None:
                await hook(task, state, update.error, TaskClaim(task.id, fence))
            await self._record(task.id, update, fence)
        except TaskFenced:
            await self._tell_end_recorded(task)
            raise

    async def _ended_by_handler(self, task: Task, ending: TaskEnding) -> None:
        """The handler's last write stored its end (`TaskContext.succeeding`): told as `_record` tells an end, and
        the kind's hook hears of it as recorded. Refused by the fence, as in `_end`: the hook hears of the end
        recorded, if any."""
        if ending.outcome is None:
            log.info("task no longer held: its end was refused", extra={"task": task.id, "attempt": task.attempt})
            await self._tell_end_recorded(task)
            return
        ended, _event = ending.outcome
        await self._recorded(ended)
        hook = self._end_hook(task)
        if hook is not None:
            await hook(ended, TaskState.SUCCEEDED, None, None)

    def _end_hook(self, task: Task) -> TaskEndHook | None:
        return self._kinds[task.kind].on_end if task.kind in self._kinds else None

    async def _tell_end_recorded(self, task: Task) -> None:
        """The task's end was refused by its fence: its kind's hook hears of the end recorded instead, if any."""
        hook = self._end_hook(task)
        actual = await self._repo.get(task.id) if hook is not None else None
        if hook is not None and actual is not None and actual.state.terminal:
            await hook(actual, actual.state, actual.error, None)

    def _context(self, task: Task, fence: TaskFence) -> TaskContext:
        async def record(update: TaskUpdate) -> None:
            await self._record(task.id, update, fence)

        def ending(result: TaskResult | None) -> TaskEnding:
            self._finishing.add(task.id)  # a cancel now would race the end on its way: it leaves it be
            return TaskEnding(task.id, self._succeeded_update(result), fence, self._clock.now())

        return TaskContext(task, record=record, cancel_requested=lambda: task.id in self._cancel_requested,
                           clock=self._clock, claim=TaskClaim(task.id, fence), ending=ending)

    def _succeeded_update(self, result: TaskResult | None) -> TaskUpdate:
        return TaskUpdate(state=TaskState.SUCCEEDED, percent=100, result=result, end_time=self._clock.now(),
                          clear_eta=True, message="Done.")

    def _cancelled_update(self, task: Task) -> TaskUpdate:
        return TaskUpdate(state=TaskState.CANCELLED, end_time=self._clock.now(), clear_eta=True, message="Cancelled.",
                          error=TaskError("CANCELLED", "TASK_CANCELLED", "The task was cancelled.",
                                          {"resourceName": f"tasks/{task.id}"}))

    def _failed_update(self, task: Task, exc: Exception) -> TaskUpdate:
        if isinstance(exc, DomainError):
            error = TaskError(exc.code, exc.reason, exc.message, exc.metadata)
        else:
            log.exception("task failed", extra={"task": task.id, "kind": task.kind})
            error = TaskError("INTERNAL", "TASK_FAILED", f"The task failed: {type(exc).__name__}.",
                              {"kind": task.kind})
        return TaskUpdate(state=TaskState.FAILED, error=error, message=error.message, end_time=self._clock.now(),
                          clear_eta=True)

    # --- recovery ------------------------------------------------------------------------------

    async def _recover(self, task: Task) -> Task | None:
        """Takes back a task whose worker died: a resumable one becomes PENDING again (one interruption more) and is
        returned; the others fail with the reason."""
        fence = TaskFence(states=(TaskState.RUNNING,), owner=task.owner, unowned=task.owner is None,
                          attempt=task.attempt)
        interruptions = task.interruptions + 1
        kind = self._kinds.get(task.kind)
        if kind is None:
            failure: TaskError | None = _kind_unknown(task)
        elif not kind.resumable:
            failure = TaskError("ABORTED", "TASK_INTERRUPTED",
                                "The server stopped while the task ran, and this kind of task cannot resume.",
                                {"kind": task.kind})
        elif interruptions >= self._max_attempts:
            failure = TaskError("ABORTED", "TASK_ATTEMPTS_EXHAUSTED",
                                f"The task was interrupted {interruptions} times and is not retried again.",
                                {"attempts": str(interruptions)})
        else:
            failure = None
        if failure is not None:
            await self._fail_orphan(task, failure, fence, interruptions)
            return None
        log.info("resuming task", extra={"task": task.id, "kind": task.kind})
        # The old ETA knew nothing of the downtime; the resumed handler's reports make a new one.
        try:
            resumed, _ = await self._record(task.id, TaskUpdate(
                state=TaskState.PENDING, clear_eta=True, clear_owner=True, interruptions=interruptions,
                message="Resuming after a server restart."), fence)
        except (TaskFenced, LookupError):
            return None
        return resumed

    async def _fail_orphan(self, task: Task, failure: TaskError, fence: TaskFence,
                           interruptions: int | None = None) -> None:
        log.warning("failing interrupted task", extra={"task": task.id, "reason": failure.reason})
        with contextlib.suppress(TaskFenced, LookupError):
            await self._end(task, TaskUpdate(state=TaskState.FAILED, error=failure, message=failure.message,
                                             end_time=self._clock.now(), clear_eta=True,
                                             interruptions=interruptions), fence)

    # --- recording -------------------------------------------------------------------------

    async def _record(self, task_id: str, update: TaskUpdate,
                      fence: TaskFence | None = None) -> tuple[Task, TaskEvent]:
        """Persists the update as the next event (if the fence lets it), then wakes the watchers."""
        async with self._lock(task_id):
            task, event = await self._repo.append_event(task_id, update, self._clock.now(), fence)
        await self._recorded(task)
        return task, event

    async def _recorded(self, task: Task) -> None:
        """The task's next event was just stored (`task`, as it is now): its watchers wake."""
        if task.state.terminal:
            self._locks.pop(task.id, None)
            self._ended_here[task.id] = None
            if len(self._ended_here) > ENDED_HERE_KEPT:
                self._ended_here.popitem(last=False)
        self._count(task)
        await self._announce_stored(task.id)

    async def _announce_stored(self, task_id: str) -> None:
        """The task's claim or its next event was just stored: its watchers wake."""
        if self._repo.announces_tasks:
            self._notifier.announced("task", task_id, store_only=True)  # (`watch` reads the store)
        else:
            await self._notifier.publish("task", task_id)

    def _count(self, task: Task) -> None:
        """Tells telemetry when a task's state changed (tasks by kind and state, as this process sees them)."""
        known = self._live.get(task.id)
        if known is not None and known[1] == task.state.value:
            return
        if task.state.terminal:
            self._live.pop(task.id, None)
        else:
            self._live[task.id] = (task.kind, task.state.value)
        self.telemetry.task_state(task.kind, known[1] if known else None, task.state.value)

    def _lock(self, task_id: str) -> asyncio.Lock:
        return self._locks.setdefault(task_id, asyncio.Lock())

    async def _forget(self, task_id: str) -> None:
        self._locks.pop(task_id, None)
        await self._notifier.publish("task", task_id)
        await self._notifier.publish(CHANGED, f"tasks/{task_id}")  # copies of the finished task go on every replica

    async def _clean_up(self) -> None:
        """Deletes the tasks that ended more than the retention ago, then runs the other clean-ups (`on_clean_up`):
        the dispatcher runs it periodically."""
        try:
            removed = await self._repo.delete_finished_before(self._clock.now() - self.retention)
            if removed:
                log.info("deleted expired tasks", extra={"count": removed})
                await self._notifier.publish(CHANGED, "tasks/")  # which ones is not said: copies of all go
        except Exception:  # keep cleaning on the next pass
            log.exception("task retention clean-up failed")
        for job in self._clean_ups:
            try:
                await job()
            except Exception:  # the others still run; this one again on the next pass
                log.exception("clean-up failed", extra={"job": getattr(job, "__qualname__", repr(job))})


def new_worker_id() -> str:
    """A worker's id: its host, process id (tests find the process by it) and a random part."""
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _kind_unknown(task: Task) -> TaskError:
    return TaskError("FAILED_PRECONDITION", "TASK_KIND_UNKNOWN",
                     f"No handler for task kind {task.kind!r} after a restart.", {"kind": task.kind})

"""Long-running work as persisted tasks: a state machine, an ordered event log, and a runner.

Every state change is written (task row and event, in one transaction) before anyone is told
about it, so a watcher never sees an event the store does not have, and a restart finds every
accepted task. Other features register task kinds on the runner: a kind is an async handler that
reports progress through its TaskContext and returns a result.

A runner is one worker. It claims PENDING tasks from the store (so tasks submitted on any replica run on any
worker), holds each with a heartbeat, and writes only under its claim (`TaskFence`): a worker that lost a task
(cancelled elsewhere, or presumed dead and resumed by another) can no longer change it, and stops it within a
heartbeat. Tasks whose worker died are resumed from their checkpoint by another worker once its lease expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

from storyloom.domain.errors import DomainError, FailedPrecondition, NotFound, ResourceExhausted
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.notifier import LocalNotifier, Notifier
from storyloom.domain.ports.telemetry import NO_TELEMETRY, Telemetry
from storyloom.domain.task_types import (
    LIVE_STATES,
    NewTask,
    Task,
    TaskContext,
    TaskEndHook,
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

__all__ = ["LIVE_STATES", "NewTask", "Task", "TaskContext", "TaskEndHook", "TaskError", "TaskEvent", "TaskFence",
           "TaskFenced", "TaskHandler", "TaskKind", "TaskPart", "TaskRepository", "TaskResult", "TaskRunner",
           "TaskState", "TaskUpdate"]

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


@dataclasses.dataclass
class _Pool:
    """Slots shared by some kinds: chat replies wait on a model, not on the CPU, and get a pool of their own."""

    capacity: int
    kinds: set[str] = dataclasses.field(default_factory=set)
    running: int = 0


class TaskRunner:
    """Runs registered task kinds with bounded concurrency and a persisted event log.

    `lease` is how long a worker may go without a heartbeat before its tasks are presumed orphaned and resumed
    elsewhere. None means the store is this process's alone (SQLite, the embedded mode): tasks another worker
    holds at start were left by an earlier process, and are recovered at once.
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
        lease: dt.timedelta | None = None,
        heartbeat_interval: float = 0.5,
        poll_interval: float = 1.0,
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
        self._shared = _Pool(concurrency)
        self._pools: dict[str, _Pool] = {}
        self.retention = retention
        self._max_attempts = max_attempts
        self._cleanup_interval = cleanup_interval
        self._lease = lease
        self._heartbeat_interval = heartbeat_interval
        # New tasks are announced; the poll only catches a notice lost with a connection.
        self._poll_interval = max(poll_interval, 5.0)
        self.run_tasks = run_tasks
        self.worker_id = worker_id or f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._running: dict[str, asyncio.Task[None]] = {}
        self._claims: dict[str, int] = {}  # task id: the attempt this worker claimed
        self._cancel_requested: set[str] = set()
        self._lost: set[str] = set()
        self._finishing: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._wake = asyncio.Event()
        # The kinds that may have work to claim since the last look; None: every kind (a look at each pool).
        self._due: set[str] | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False

    # --- registration and life cycle ---------------------------------------------------------

    def register(self, kind: str, handler: TaskHandler, *, resumable: bool = True,
                 concurrency: int | None = None, on_end: TaskEndHook | None = None) -> None:
        """Adds a kind of task. With `concurrency`, the kind gets a pool of its own of that many
        slots (chat replies wait on a model, not on the CPU, and must not queue behind stories);
        without, it shares the runner's pool. `on_end` hears how each task of the kind ends."""
        if kind in self._kinds:
            raise ValueError(f"task kind {kind!r} is already registered")
        self._kinds[kind] = TaskKind(kind, handler, resumable, on_end)
        pool = _Pool(concurrency) if concurrency is not None else self._shared
        pool.kinds.add(kind)
        self._pools[kind] = pool

    async def start(self) -> None:
        """Recovers tasks a dead worker left, then starts claiming work, the heartbeat and the clean-up."""
        for task in await self._repo.live():
            if task.state is TaskState.PENDING and task.kind not in self._kinds:
                await self._fail_orphan(task, _kind_unknown(task), fence=TaskFence(
                    states=(TaskState.PENDING,), unowned=True, attempt=task.attempt))
        await self._reap()
        self._loops = [asyncio.create_task(self._cleanup_loop(), name="task-retention")]
        if self.run_tasks:
            self._loops += [asyncio.create_task(self._dispatch_loop(), name="task-dispatch"),
                            asyncio.create_task(self._new_task_listener(), name="task-announcements"),
                            asyncio.create_task(self._heartbeat_loop(), name="task-heartbeat")]
            if self._lease is not None:
                self._loops.append(asyncio.create_task(self._reaper_loop(), name="task-reaper"))

    async def stop(self) -> None:
        """Stops running work without marking it, as a crash would: the task stays RUNNING under this worker, and
        is resumed (counting an interruption) once the worker is presumed dead."""
        self._stopping = True
        running = list(self._running.values()) + self._loops
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def shutdown(self) -> None:
        """A graceful stop: stops running work and hands each task back as PENDING, without counting an attempt
        against it, so the next worker (this one restarted, or another) resumes it from its checkpoint."""
        held = {task_id: job for task_id, job in self._running.items() if not job.done()}
        attempts = dict(self._claims)
        await self.stop()
        for task_id in held:
            with contextlib.suppress(TaskFenced, LookupError):
                await self._record(task_id, TaskUpdate(
                    state=TaskState.PENDING, clear_owner=True, clear_eta=True, message=HANDED_BACK),
                    self._claim_fence(attempts.get(task_id, 0)))

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

    async def accepted(self, kind: str = "") -> None:
        """Says a new task (of `kind`, when given) was stored: every worker looks for work at once (in that kind's
        pool only)."""
        self._wake_for(kind)
        await self._notifier.publish("tasks", kind or "new")

    def _wake_for(self, kind: str) -> None:
        """Wakes the dispatcher to look for work of `kind` ("": of every kind)."""
        if not kind or self._due is None:
            self._due = None
        else:
            self._due.add(kind)
        self._wake.set()

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
        ends CANCELLED now and that worker, refused its next write and told by its heartbeat, stops it."""
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

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            due, self._due = self._due, set()
            try:
                await self._dispatch(due)
            except Exception:  # the store may be briefly unreachable: try again on the next wake-up
                log.exception("claiming tasks failed")
                self._due = None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
            except TimeoutError:
                self._due = None

    async def _new_task_listener(self) -> None:
        """Hears the new tasks any process announces: of a kind ("tasks", kind) or of any ("tasks", "new")."""
        await asyncio.gather(*(self._listen_for(kind) for kind in ("", *self._kinds)))

    async def _listen_for(self, kind: str) -> None:
        async with self._notifier.subscribe("tasks", kind or "new") as announced:
            while True:
                if await announced.wait(None):
                    self._wake_for(kind)

    async def _dispatch(self, due: set[str] | None) -> None:
        """Claims what the pools have room for, looking only in the pools of the `due` kinds (None: in all)."""
        for pool in {id(p): p for p in self._pools.values()}.values():
            free = pool.capacity - pool.running
            if free <= 0 or not pool.kinds or (due is not None and not due & pool.kinds):
                continue
            for task in await self._repo.claimable(tuple(sorted(pool.kinds)), free):
                if self._stopping or pool.running >= pool.capacity:
                    return
                await self._claim(task, pool)

    async def _claim(self, task: Task, pool: _Pool) -> None:
        now = self._clock.now()
        try:
            claimed, _ = await self._record(task.id, TaskUpdate(
                state=TaskState.RUNNING, attempt=task.attempt + 1, owner=self.worker_id, heartbeat_time=now,
                start_time=task.start_time or now, message="Started." if task.attempt == 0 else "Resumed.",
            ), TaskFence(states=(TaskState.PENDING,), unowned=True, attempt=task.attempt))
        except (TaskFenced, LookupError):
            return  # another worker claimed it first, or it was cancelled or deleted
        if task.attempt == 0:
            self.telemetry.queue_wait(task.kind, max(0.0, (now - task.create_time).total_seconds()))
        pool.running += 1
        self._claims[claimed.id] = claimed.attempt
        self._running[claimed.id] = asyncio.create_task(self._run(claimed, pool), name=f"task-{claimed.id}")

    async def _run(self, task: Task, pool: _Pool) -> None:
        fence = self._claim_fence(task.attempt)
        try:
            try:
                current_task.set((task.id, task.attempt))
                with self.telemetry.span(f"task {task.kind}", {"storyloom.task": task.id,
                                                              "storyloom.attempt": task.attempt},
                                         parent=task.params.get(TRACE_PARAM)):
                    result = await self._kinds[task.kind].handler(self._context(task, fence))
            except asyncio.CancelledError:
                if task.id in self._cancel_requested:
                    with contextlib.suppress(TaskFenced, LookupError):
                        await self._end(task, self._cancelled_update(task), fence)
                    return
                raise  # a shutdown (the task is handed back) or a lost claim (someone else has it)
            except TaskFenced:
                log.info("task no longer held: its write was refused", extra={"task": task.id, "attempt": task.attempt})
                return
            except Exception as exc:  # noqa: BLE001 - any handler failure fails its task
                with contextlib.suppress(TaskFenced, LookupError):
                    await self._end(task, self._failed_update(task, exc), fence)
                return
            self._finishing.add(task.id)
            with contextlib.suppress(TaskFenced, LookupError):
                await self._end(task, TaskUpdate(
                    state=TaskState.SUCCEEDED, percent=100, result=result, end_time=self._clock.now(),
                    clear_eta=True, message="Done.",
                ), fence)
        except asyncio.CancelledError:
            if task.id not in self._lost and not self._stopping:
                raise
        finally:
            pool.running -= 1
            self._running.pop(task.id, None)
            self._claims.pop(task.id, None)
            self._cancel_requested.discard(task.id)
            self._finishing.discard(task.id)
            self._lost.discard(task.id)
            self._wake_for(task.kind)  # a slot of its pool is free

    async def _end(self, task: Task, update: TaskUpdate, fence: TaskFence) -> None:
        """Ends the task: tells its kind's hook, then records the end. If another end won the race, the hook hears
        of that one instead; raises TaskFenced then."""
        state = update.state
        assert state is not None and state.terminal
        hook = self._kinds[task.kind].on_end if task.kind in self._kinds else None
        if hook is not None:
            await hook(task, state, update.error)
        try:
            await self._record(task.id, update, fence)
        except TaskFenced:
            actual = await self._repo.get(task.id)
            if hook is not None and actual is not None and actual.state.terminal:
                await hook(actual, actual.state, actual.error)
            raise

    def _context(self, task: Task, fence: TaskFence) -> TaskContext:
        async def record(update: TaskUpdate) -> None:
            await self._record(task.id, update, fence)

        return TaskContext(task, record=record, cancel_requested=lambda: task.id in self._cancel_requested,
                           clock=self._clock)

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

    # --- liveness ------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        """Keeps this worker's claims alive, and stops the work of claims it lost (a task cancelled on another
        replica, or resumed by another worker after this one was presumed dead)."""
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            held = dict(self._claims)  # judged by claims made before the heartbeat reads the store
            if not held:
                continue
            try:
                alive = await self._repo.heartbeat(self.worker_id, self._clock.now())
            except Exception:
                log.exception("task heartbeat failed")
                continue
            for task_id, attempt in held.items():
                job = self._running.get(task_id)
                if (job is not None and not job.done() and task_id not in self._finishing
                        and self._claims.get(task_id) == attempt and alive.get(task_id) != attempt):
                    log.info("task no longer held: stopping its work", extra={"task": task_id})
                    self._lost.add(task_id)
                    job.cancel()

    async def _reaper_loop(self) -> None:
        assert self._lease is not None
        while True:
            await asyncio.sleep(max(0.2, self._lease.total_seconds() / 4))
            try:
                await self._reap()
            except Exception:
                log.exception("recovering orphaned tasks failed")

    async def _reap(self) -> None:
        """Takes back the tasks of dead workers: resumable ones become PENDING again (one interruption more),
        the others fail with the reason."""
        stale_before = None if self._lease is None else self._clock.now() - self._lease
        for task in await self._repo.orphans(stale_before, self.worker_id):
            fence = TaskFence(owner=task.owner, unowned=task.owner is None, attempt=task.attempt,
                              stale_before=stale_before)
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
                continue
            log.info("resuming task", extra={"task": task.id, "kind": task.kind})
            # The old ETA knew nothing of the downtime; the resumed handler's reports make a new one.
            with contextlib.suppress(TaskFenced, LookupError):
                await self._record(task.id, TaskUpdate(
                    state=TaskState.PENDING, clear_eta=True, clear_owner=True, interruptions=interruptions,
                    message="Resuming after a server restart."), fence)
                self._wake_for(task.kind)

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
        if task.state.terminal:
            self._locks.pop(task_id, None)
        self._count(task)
        await self._notifier.publish("task", task_id)
        return task, event

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

    async def _cleanup_loop(self) -> None:
        while True:
            try:
                removed = await self._repo.delete_finished_before(self._clock.now() - self.retention)
                if removed:
                    log.info("deleted expired tasks", extra={"count": removed})
            except Exception:  # keep cleaning on the next pass
                log.exception("task retention clean-up failed")
            await asyncio.sleep(self._cleanup_interval)


def _kind_unknown(task: Task) -> TaskError:
    return TaskError("FAILED_PRECONDITION", "TASK_KIND_UNKNOWN",
                     f"No handler for task kind {task.kind!r} after a restart.", {"kind": task.kind})

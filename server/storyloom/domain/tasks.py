"""Long-running work as persisted tasks: a state machine, an ordered event log, and a runner.

Every state change is written (task row and event, in one transaction) before anyone is told
about it, so a watcher never sees an event the store does not have, and a restart finds every
accepted task. Other features register task kinds on the runner: a kind is an async handler that
reports progress through its TaskContext and returns a result.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import datetime as dt
import enum
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from storyloom.domain.errors import DomainError, FailedPrecondition, NotFound, ResourceExhausted
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

# How long a caller over the task limit is told to wait: about how long a short task takes.
TASK_LIMIT_RETRY_SECONDS = 30.0

class TaskState(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)


LIVE_STATES = (TaskState.PENDING, TaskState.RUNNING)


@dataclasses.dataclass(frozen=True)
class TaskError:
    """Why a task failed: a google.rpc.Code name, an UPPER_SNAKE reason, a message, metadata."""

    code: str
    reason: str
    message: str
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """An opaque result: the full name of its message type and its serialized bytes."""

    type_name: str
    payload: bytes


@dataclasses.dataclass(frozen=True)
class Task:
    id: str
    user_id: str
    kind: str
    state: TaskState
    create_time: dt.datetime
    update_time: dt.datetime
    stage: str = ""
    percent: int = 0
    message: str = ""
    eta: dt.datetime | None = None
    target: str = ""
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    checkpoint: dict[str, Any] = dataclasses.field(default_factory=dict)
    result: TaskResult | None = None
    error: TaskError | None = None
    last_sequence: int = 0
    attempt: int = 0
    request_id: str = ""
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class TaskEvent:
    """One entry of a task's log: a snapshot of its progress at that moment."""

    task_id: str
    sequence: int
    create_time: dt.datetime
    state: TaskState
    stage: str
    percent: int
    message: str
    eta: dt.datetime | None = None
    error: TaskError | None = None


@dataclasses.dataclass(frozen=True)
class TaskUpdate:
    """Fields to change with the next event; None leaves a field as it is."""

    state: TaskState | None = None
    stage: str | None = None
    percent: int | None = None
    message: str | None = None
    eta: dt.datetime | None = None
    clear_eta: bool = False
    checkpoint: dict[str, Any] | None = None
    result: TaskResult | None = None
    error: TaskError | None = None
    attempt: int | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None


class TaskRepository(Protocol):
    """What the runner needs from storage. Implemented in storyloom.store."""

    async def create(self, task: Task, first_event: TaskEvent) -> tuple[Task, bool]:
        """Stores a task and its first event; on a (user, request_id) clash returns the existing one and False."""

    async def get(self, task_id: str) -> Task | None: ...

    async def append_event(self, task_id: str, update: TaskUpdate, now: dt.datetime) -> tuple[Task, TaskEvent]:
        """Applies `update` and appends the resulting snapshot as the next event, atomically."""

    async def events_after(self, task_id: str, after_sequence: int, limit: int) -> list[TaskEvent]: ...

    async def list(
        self,
        user_id: str,
        *,
        states: tuple[TaskState, ...],
        kind: str,
        limit: int,
        after: tuple[dt.datetime, str] | None,
    ) -> list[Task]: ...

    async def live(self) -> builtins.list[Task]: ...

    async def count_live(self, user_id: str) -> int:
        """How many of the user's tasks are PENDING or RUNNING."""

    async def delete(self, task_id: str) -> None: ...

    async def delete_finished_before(self, cutoff: dt.datetime) -> int: ...


class TaskContext:
    """What a running task handler sees: its inputs and the way to report progress.

    `record` persists an update as the task's next event; `cancel_requested` says whether CancelTask asked the task
    to stop. The runner passes both.
    """

    def __init__(self, task: Task, *, record: Callable[[TaskUpdate], Awaitable[object]],
                 cancel_requested: Callable[[], bool], clock: Clock = SYSTEM_CLOCK):
        self._record = record
        self._cancel_requested = cancel_requested
        self._clock = clock
        self.task_id = task.id
        self.user_id = task.user_id
        self.params = task.params
        self.checkpoint = dict(task.checkpoint)
        self.attempt = task.attempt
        self.target = task.target
        self._percent = task.percent
        # The ETA is estimated from this attempt's pace: time before a restart (downtime included)
        # says nothing about how fast the rest will go.
        self._base_percent = task.percent
        self._base_time = clock.now()

    @property
    def cancel_requested(self) -> bool:
        """Whether CancelTask asked this task to stop (as opposed to a server shutdown, after
        which the task resumes on the next start). Handlers read it when cancelled."""
        return self._cancel_requested()

    async def progress(
        self,
        *,
        stage: str | None = None,
        percent: int | None = None,
        message: str | None = None,
        eta: dt.datetime | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        """Records progress (and optionally a checkpoint to resume from) as the next event.

        Percent never goes backwards: a smaller value than the last one is kept at the last one.
        Without an `eta`, one is estimated from the rate of progress since this attempt started.
        """
        if percent is not None:
            percent = max(self._percent, min(100, max(0, int(percent))))
            self._percent = percent
            if eta is None and self._base_percent < percent < 100:
                # Linear estimate from the progress so far; handlers that know better pass their own.
                now = self._clock.now()
                eta = now + (now - self._base_time) * ((100 - percent) / (percent - self._base_percent))
        if checkpoint is not None:
            self.checkpoint = dict(checkpoint)
        await self._record(TaskUpdate(stage=stage, percent=percent, message=message, eta=eta, checkpoint=checkpoint))


TaskHandler = Callable[[TaskContext], Awaitable[TaskResult | None]]


@dataclasses.dataclass(frozen=True)
class TaskKind:
    name: str
    handler: TaskHandler
    # Whether the handler can pick up from its checkpoint after a restart; if not, an
    # interrupted task is failed with reason TASK_INTERRUPTED.
    resumable: bool = True


class TaskRunner:
    """Runs registered task kinds with bounded concurrency and a persisted event log."""

    def __init__(
        self,
        repository: TaskRepository,
        *,
        concurrency: int = 4,
        retention: dt.timedelta = dt.timedelta(days=7),
        max_attempts: int = 3,
        cleanup_interval: float = 60.0,
        max_live_per_user: int = 0,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self._repo = repository
        self._max_live_per_user = max_live_per_user
        self._admissions: dict[str, list[Any]] = {}
        self._clock = clock
        self._kinds: dict[str, TaskKind] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._kind_slots: dict[str, asyncio.Semaphore] = {}
        self.retention = retention
        self._max_attempts = max_attempts
        self._cleanup_interval = cleanup_interval
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancel_requested: set[str] = set()
        self._finishing: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._signals: dict[str, asyncio.Event] = {}
        self._cleanup: asyncio.Task[None] | None = None
        self._stopping = False

    # --- registration and life cycle ---------------------------------------------------------

    def register(self, kind: str, handler: TaskHandler, *, resumable: bool = True,
                 concurrency: int | None = None) -> None:
        """Adds a kind of task. With `concurrency`, the kind gets a pool of its own of that many
        slots (chat replies wait on a model, not on the CPU, and must not queue behind stories);
        without, it shares the runner's pool."""
        if kind in self._kinds:
            raise ValueError(f"task kind {kind!r} is already registered")
        self._kinds[kind] = TaskKind(kind, handler, resumable)
        if concurrency is not None:
            self._kind_slots[kind] = asyncio.Semaphore(concurrency)

    async def start(self) -> None:
        """Recovers tasks a previous process left live, then starts the retention clean-up."""
        for task in await self._repo.live():
            await self._recover(task)
        self._cleanup = asyncio.create_task(self._cleanup_loop(), name="task-retention")

    async def stop(self) -> None:
        """Stops running work without marking it: the next start resumes it from its checkpoint."""
        self._stopping = True
        running = list(self._running.values())
        if self._cleanup:
            running.append(self._cleanup)
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _recover(self, task: Task) -> None:
        kind = self._kinds.get(task.kind)
        if kind is None:
            failure = TaskError("FAILED_PRECONDITION", "TASK_KIND_UNKNOWN",
                                f"No handler for task kind {task.kind!r} after a restart.", {"kind": task.kind})
        elif not kind.resumable and task.state is TaskState.RUNNING:
            failure = TaskError("ABORTED", "TASK_INTERRUPTED",
                                "The server stopped while the task ran, and this kind of task cannot resume.",
                                {"kind": task.kind})
        elif task.attempt >= self._max_attempts:
            failure = TaskError("ABORTED", "TASK_ATTEMPTS_EXHAUSTED",
                                f"The task was interrupted {task.attempt} times and is not retried again.",
                                {"attempts": str(task.attempt)})
        else:
            failure = None
        if failure is not None:
            log.warning("failing interrupted task", extra={"task": task.id, "reason": failure.reason})
            await self._record(task.id, TaskUpdate(state=TaskState.FAILED, error=failure, message=failure.message,
                                                   end_time=self._clock.now(), clear_eta=True))
            return
        if task.state is TaskState.RUNNING:
            # The old ETA knew nothing of the downtime; the resumed handler's reports make a new one.
            await self._record(task.id, TaskUpdate(state=TaskState.PENDING, clear_eta=True,
                                                   message="Resuming after a server restart."))
        log.info("resuming task", extra={"task": task.id, "kind": task.kind})
        self._schedule(task.id, task.kind)

    # --- the public operations ---------------------------------------------------------------

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
        if kind not in self._kinds:
            raise ValueError(f"unknown task kind {kind!r}")
        now = self._clock.now()
        task = Task(id=task_id or uuid.uuid4().hex, user_id=user_id, kind=kind, state=TaskState.PENDING,
                    create_time=now, update_time=now, message=message, target=target, params=dict(params or {}),
                    last_sequence=1, request_id=request_id)
        first = TaskEvent(task.id, 1, now, TaskState.PENDING, "", 0, message)
        stored, created = await self._repo.create(task, first)
        if created:
            self._schedule(stored.id, stored.kind)
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

    async def list(
        self, user_id: str, *, states: tuple[TaskState, ...] = (), kind: str = "", limit: int,
        after: tuple[dt.datetime, str] | None = None,
    ) -> list[Task]:
        """The user's tasks, newest first, after the (create time, id) cursor `after`."""
        return await self._repo.list(user_id, states=states, kind=kind, limit=limit, after=after)

    async def cancel(self, user_id: str, task_id: str) -> Task:
        task = await self.get(user_id, task_id)
        async with self._lock(task_id):
            task = await self.get(user_id, task_id)
            if task.state.terminal or task_id in self._finishing:
                return task
            job = self._running.get(task_id)
            if job is not None and not job.done():
                self._cancel_requested.add(task_id)
                job.cancel()
            else:
                await self._record_locked(task_id, self._cancelled_update(task))
        if job is not None:
            await asyncio.gather(job, return_exceptions=True)
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
        self._forget(task_id)

    async def watch(self, user_id: str, task_id: str, after_sequence: int = 0) -> AsyncIterator[TaskEvent]:
        """Yields stored events after `after_sequence`, then live ones, ending after the terminal event."""
        await self.get(user_id, task_id)
        last = after_sequence
        while True:
            signal = self._signal(task_id)  # taken before reading, so no wake-up is lost
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
            # The timeout covers writers in another process, which cannot signal us.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout=1.0)

    # --- running ---------------------------------------------------------------------------

    def _schedule(self, task_id: str, kind: str) -> None:
        if self._stopping:
            return
        self._running[task_id] = asyncio.create_task(self._run(task_id, kind), name=f"task-{task_id}")

    async def _run(self, task_id: str, kind: str) -> None:
        try:
            # Waiting for a slot comes first, so tasks of a kind start in the order they came.
            async with self._kind_slots.get(kind, self._slots):
                task = await self._repo.get(task_id)
                if task is None or task.state.terminal:
                    return
                now = self._clock.now()
                task, _ = await self._record(task_id, TaskUpdate(
                    state=TaskState.RUNNING, attempt=task.attempt + 1, start_time=task.start_time or now,
                    message="Started." if task.attempt == 0 else "Resumed.",
                ))
                try:
                    result = await self._kinds[task.kind].handler(self._context(task))
                except asyncio.CancelledError:
                    if task_id not in self._cancel_requested:
                        raise  # shutdown: leave the task live so the next start resumes it
                    await self._record(task_id, self._cancelled_update(task))
                    return
                except Exception as exc:  # noqa: BLE001 - any handler failure fails its task
                    await self._record(task_id, self._failed_update(task, exc))
                    return
                self._finishing.add(task_id)
                await self._record(task_id, TaskUpdate(
                    state=TaskState.SUCCEEDED, percent=100, result=result, end_time=self._clock.now(), clear_eta=True,
                    message="Done.",
                ))
        except asyncio.CancelledError:
            if task_id in self._cancel_requested:  # cancelled while waiting for a slot
                task = await self._repo.get(task_id)
                if task is not None and not task.state.terminal:
                    await self._record(task_id, self._cancelled_update(task))
            else:
                raise
        finally:
            self._running.pop(task_id, None)
            self._cancel_requested.discard(task_id)
            self._finishing.discard(task_id)

    def _context(self, task: Task) -> TaskContext:
        async def record(update: TaskUpdate) -> None:
            await self._record(task.id, update)

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

    # --- recording -------------------------------------------------------------------------

    async def _record(self, task_id: str, update: TaskUpdate) -> tuple[Task, TaskEvent]:
        async with self._lock(task_id):
            return await self._record_locked(task_id, update)

    async def _record_locked(self, task_id: str, update: TaskUpdate) -> tuple[Task, TaskEvent]:
        """Persists the update as the next event, then wakes the watchers."""
        task, event = await self._repo.append_event(task_id, update, self._clock.now())
        signal = self._signals.pop(task_id, None)
        if signal is not None:
            signal.set()
        if task.state.terminal:
            self._locks.pop(task_id, None)
        return task, event

    def _lock(self, task_id: str) -> asyncio.Lock:
        return self._locks.setdefault(task_id, asyncio.Lock())

    def _signal(self, task_id: str) -> asyncio.Event:
        return self._signals.setdefault(task_id, asyncio.Event())

    def _forget(self, task_id: str) -> None:
        self._locks.pop(task_id, None)
        signal = self._signals.pop(task_id, None)
        if signal is not None:
            signal.set()

    async def _cleanup_loop(self) -> None:
        while True:
            try:
                removed = await self._repo.delete_finished_before(self._clock.now() - self.retention)
                if removed:
                    log.info("deleted expired tasks", extra={"count": removed})
            except Exception:  # keep cleaning on the next pass
                log.exception("task retention clean-up failed")
            await asyncio.sleep(self._cleanup_interval)

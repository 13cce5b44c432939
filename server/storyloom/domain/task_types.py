"""What a task is: its states, its stored snapshot and events, the updates and fences of its writes, the storage
port, and what a running handler sees. The runner that drives them is `storyloom.domain.tasks`."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock


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
class TaskPart:
    """A finished part of a task's result, announced by an event of its own as soon as it is stored (`SCENE_READY`:
    one scene of a story). The event keeps a reference (`ref`, JSON), not a copy: the API shows the part itself."""

    type: str
    ref: dict[str, Any]


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
    # How many times a worker claimed the task. It is also the fencing token of the claim: a worker's writes name
    # the attempt they belong to, and are refused once the task moved on to a newer one (or ended).
    attempt: int = 0
    request_id: str = ""
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    # The worker that runs the task (or ran it last, once ended), and when it claimed the task; None while PENDING.
    # (Whether that worker is alive is the dispatcher's business: procrastinate's worker heartbeats, on PostgreSQL.)
    owner: str | None = None
    heartbeat_time: dt.datetime | None = None
    # How many attempts ended in a crash (the worker died or lost the task). A graceful stop hands the task back
    # without counting; `max_attempts` bounds this number.
    interruptions: int = 0


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
    part: TaskPart | None = None

    @classmethod
    def of(cls, task: Task, now: dt.datetime, error: TaskError | None = None,
           part: TaskPart | None = None) -> TaskEvent:
        """The event that logs `task` as it is now (its last sequence number)."""
        return cls(task_id=task.id, sequence=task.last_sequence, create_time=now, state=task.state, stage=task.stage,
                   percent=task.percent, message=task.message, eta=task.eta, error=error, part=part)


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
    owner: str | None = None
    clear_owner: bool = False
    heartbeat_time: dt.datetime | None = None
    interruptions: int | None = None
    part: TaskPart | None = None  # carried by this event only


@dataclasses.dataclass(frozen=True)
class TaskFence:
    """What must still hold of the stored task for a write to go through; a write it refuses raises TaskFenced.

    A worker's writes are fenced by its claim (state RUNNING, its owner id and attempt), so a worker that lost the
    task (it ended, was cancelled elsewhere, or was resumed by another worker) can change nothing any more."""

    states: tuple[TaskState, ...] = LIVE_STATES
    attempt: int | None = None
    owner: str | None = None
    unowned: bool = False


@dataclasses.dataclass(frozen=True)
class TaskClaim:
    """A running attempt's hold on its task: the task and the fence of the attempt's writes. What the task works on
    (a story) is written under it too, the fence checked in the write's own statement, so a worker that lost the task
    can no more change that than the task itself."""

    task_id: str
    fence: TaskFence


class TaskFenced(Exception):
    """A write to a task was refused by its fence: the task ended or moved on to another attempt or worker."""


@dataclasses.dataclass(frozen=True)
class NewTask:
    """A task and its first event, to be stored in the transaction that stores what the task works on."""

    task: Task
    first_event: TaskEvent
    # When the task is stored already claimed by the worker that creates it (`TaskRunner.claim_new`): its claim's
    # event ("Started."), stored in the same transaction.
    claim_event: TaskEvent | None = None
    # Stored claimed: what the dispatcher that reserved its slot stores with it (`TaskDispatcher.reserve`).
    reservation: int | None = None


@dataclasses.dataclass(eq=False)  # one per task end: kept by identity
class TaskEnding:
    """A task's successful end that its handler stores in its own last write (`TaskContext.succeeding`), not in a
    transaction of its own after it: the store applies `update` under `fence` as `append_event` does, in that write's
    transaction, and says how it went (`settle`) once that committed. A fence that refuses it (the task was
    cancelled or moved on meanwhile) refuses only the task's end, not the rest of the write."""

    task_id: str
    update: TaskUpdate
    fence: TaskFence
    now: dt.datetime
    stored: bool = False  # the write that carried it committed
    outcome: tuple[Task, TaskEvent] | None = None  # the task and its event as ended; None if the fence refused it

    def settle(self, outcome: tuple[Task, TaskEvent] | None) -> None:
        """The write carrying this end committed: `outcome` as the store recorded it (None: refused)."""
        self.stored, self.outcome = True, outcome


class TaskRepository(Protocol):
    """What the runner needs from storage. Implemented in storyloom.store."""

    # Whether `append_event` and `claim` announce the task to every replica in the write itself (on the notifier's
    # "task" channel, when it commits): then the runner only tells this process's watchers after it.
    announces_tasks: bool

    async def count_live(self, user_id: str) -> int:
        """How many of the user's tasks are PENDING or RUNNING."""

    async def create(self, task: Task, first_event: TaskEvent) -> tuple[Task, bool]:
        """Stores a task and its first event; on a (user, request_id) clash returns the existing one and False."""

    async def get(self, task_id: str) -> Task | None: ...

    async def append_event(self, task_id: str, update: TaskUpdate, now: dt.datetime,
                           fence: TaskFence | None = None) -> tuple[Task, TaskEvent]:
        """Applies `update` and appends the resulting snapshot as the next event, atomically. With a `fence`, does
        so only if the task still matches it, else raises TaskFenced; raises LookupError if there is no task."""

    async def claim(self, claims: Sequence[tuple[str, int | None]], owner: str, now: dt.datetime,
                    messages: tuple[str, str]) -> builtins.list[tuple[Task, TaskEvent]]:
        """Claims for `owner`, in one transaction, each (task id, attempt as read, or None for any) still PENDING,
        unowned and at that attempt: RUNNING, one attempt more, started now unless it had started before, with its
        next event, whose message is messages[0] on a first attempt and messages[1] on a later one. Returns those it
        claimed."""

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

    async def claimable(self, kinds: tuple[str, ...], limit: int) -> builtins.list[Task]:
        """PENDING tasks of these kinds that no worker holds, oldest first."""

    async def orphans(self, owner: str) -> builtins.list[Task]:
        """RUNNING tasks held by another worker than `owner` (or by none): in a store only one process uses, whose
        earlier processes are all gone, what they left behind."""

    async def queue_stats(self, task: Task) -> tuple[int, int, float | None]:
        """For a PENDING task: how many PENDING tasks of its kind are ahead of it, how many of its kind run now, and
        the mean seconds a recent task of its kind ran (None when none finished lately)."""

    async def delete(self, task_id: str) -> None: ...

    async def delete_finished_before(self, cutoff: dt.datetime) -> int: ...


class TaskContext:
    """What a running task handler sees: its inputs and the way to report progress.

    `record` persists an update as the task's next event (fenced by this attempt: once the task is no longer this
    worker's, it raises TaskFenced); `cancel_requested` says whether CancelTask asked the task to stop; `claim` is
    this attempt's hold on the task, for the handler's writes of what the task works on (None: unfenced, for a
    handler run outside a runner).
    """

    def __init__(self, task: Task, *, record: Callable[[TaskUpdate], Awaitable[object]],
                 cancel_requested: Callable[[], bool], clock: Clock = SYSTEM_CLOCK, claim: TaskClaim | None = None,
                 ending: Callable[[TaskResult | None], TaskEnding] | None = None):
        self._record = record
        self._ending = ending
        self.ending: TaskEnding | None = None  # the end handed out by `succeeding`, if any
        self.claim = claim
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
        part: TaskPart | None = None,
    ) -> None:
        """Records progress (and optionally a checkpoint to resume from, or a finished part of the result to
        announce) as the next event.

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
        await self._record(TaskUpdate(stage=stage, percent=percent, message=message, eta=eta, checkpoint=checkpoint,
                                      part=part))

    def succeeding(self, result: TaskResult | None = None) -> TaskEnding | None:
        """The task's end as SUCCEEDED with `result`, for the handler to store in its last write (which must end with
        it) and then return `result`: one transaction less than the runner's recording it after. None outside a
        runner. Once it is asked for, CancelTask leaves the handler to finish, as it does a task whose end the runner
        records; if the write does not store it, the runner records the end itself."""
        if self._ending is None:
            return None
        self.ending = self._ending(result)
        return self.ending


TaskHandler = Callable[[TaskContext], Awaitable[TaskResult | None]]
# Told how a task of its kind is ending (the task as it was, its terminal state and error), before the end is
# recorded, so what the task works on (a story, a reply) leaves its "being made" state with the task. Idempotent:
# it may be told again, with the state the task really ended in, if another end won the race. The claim is the one
# the end is recorded under: writes made under it are refused (TaskFenced) where the end would be, so a worker that
# lost the task ends nothing (None: told of an end already recorded).
TaskEndHook = Callable[[Task, TaskState, TaskError | None, TaskClaim | None], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class TaskKind:
    name: str
    handler: TaskHandler
    # Whether the handler can pick up from its checkpoint after a restart; if not, an
    # interrupted task is failed with reason TASK_INTERRUPTED.
    resumable: bool = True
    on_end: TaskEndHook | None = None

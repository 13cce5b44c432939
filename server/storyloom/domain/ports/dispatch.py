"""How accepted tasks reach a worker: the task rows, their checkpoints and event logs are the truth clients read; a
dispatcher only decides which worker runs which task, and when.

Two implementations: the in-process one (`storyloom.domain.local_dispatch`, for SQLite: one process owns the store)
and procrastinate's job queue on PostgreSQL (`storyloom.store.procrastinate_dispatch`: each task is a job, claimed by
one worker, woken by LISTEN/NOTIFY, retried elsewhere when its worker's heartbeat stops, aborted on cancel).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from storyloom.domain.task_types import Task


@dataclasses.dataclass(frozen=True)
class Pool:
    """Task kinds that share `capacity` slots on a worker (chat replies wait on a model and get their own)."""

    kinds: tuple[str, ...]
    capacity: int


class RunTask(Protocol):
    """Claims the stored task and runs it to its end on this worker (nothing when it ended meanwhile). It raises
    CancelledError when the work was stopped: a graceful stop has handed the task back (PENDING) by then. `read`: the
    task as the dispatcher just read it (PENDING), so it is claimed without reading it again."""

    def __call__(self, task_id: str, read: Task | None = None) -> Awaitable[None]: ...


# The pools of this worker, as they are now (the in-process dispatcher reads them at each look, so a kind registered
# after the start is served too; procrastinate's workers take them once, at the start).
Pools = Callable[[], list[Pool]]
# The retention clean-up: deletes tasks that ended long enough ago, and what ended tasks left (`on_clean_up`).
CleanUp = Callable[[], Awaitable[None]]


class TaskDispatcher(Protocol):
    async def start(self, pools: Pools, run: RunTask, clean_up: CleanUp, clean_up_seconds: float) -> None:
        """Begins handing this worker the tasks of `pools` (each run with `run`), and runs `clean_up` every
        `clean_up_seconds` (once in the cluster)."""

    async def stop(self) -> None:
        """Stops the work running here and returns once it has stopped; `run` decides what each task becomes."""

    async def announce(self, kind: str = "", task: Task | None = None) -> None:
        """Says a PENDING task (of `kind`, "": of any; `task`, when the caller has it) was stored (where storing it did
        not already queue it)."""

    async def abort(self, task_id: str) -> None:
        """Stops the task's work wherever it runs (its row already says why), and drops it from the queue."""

    def reserve(self, task_id: str, kind: str) -> int | None:
        """Takes a slot of `kind`'s pool on this worker for a task about to be stored already claimed by it, if the
        pool has room now; None if not. What it returns is stored with the task (`NewTask.reservation`: on
        PostgreSQL, the job queue's worker whose running job the task is, so that another worker resumes it if this
        one dies). `announce` runs the task in that slot once stored; `release` frees the slot if it was not."""

    def release(self, task_id: str) -> None:
        """The task a slot was reserved for was not stored: the slot is free again."""

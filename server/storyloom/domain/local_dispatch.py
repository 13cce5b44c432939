"""The in-process dispatcher (the embedded mode, SQLite: one process owns the store): hands out PENDING tasks in the
order they came as slots free up, woken by `announce`, and runs the retention clean-up on a timer."""

from __future__ import annotations

import asyncio
import collections
import logging

from storyloom.domain.ports.dispatch import CleanUp, Pools, RunTask
from storyloom.domain.task_types import Task, TaskRepository

log = logging.getLogger(__name__)

# New tasks are announced; this poll only catches what an announcement missed (a failed read).
POLL_SECONDS = 5.0


class LocalDispatcher:
    def __init__(self, repository: TaskRepository):
        self._repo = repository
        self._wake = asyncio.Event()
        # The kinds that may have work to hand out since the last look; None: every kind. A look costs one
        # query per pool, and a chat reply should not make every pool look.
        self._due: set[str] | None = None
        # Kinds whose pool left tasks waiting at its last look (it was full): a slot that frees up there looks again.
        self._backlog: set[str] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._running: collections.Counter[str] = collections.Counter()  # tasks handed out, per kind
        self._started: tuple[Pools, RunTask] | None = None
        # Slots taken for tasks being stored already claimed (`reserve`), by task id: their kind.
        self._reserved: dict[str, str] = {}

    async def start(self, pools: Pools, run: RunTask, clean_up: CleanUp, clean_up_seconds: float) -> None:
        self._started = (pools, run)
        self._loops = [asyncio.create_task(self._dispatch_loop(pools, run), name="task-dispatch"),
                       asyncio.create_task(self._clean_up_loop(clean_up, clean_up_seconds), name="task-retention")]

    async def stop(self) -> None:
        running = [*self._loops, *self._jobs.values()]
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def announce(self, kind: str = "", task: Task | None = None) -> None:
        """`task`: the one just stored, handed out at once if its pool has room and no task waits before it (no look
        in the store, a round trip less before a chat reply's first text); else a look finds it. A task with a slot
        `reserve`d was stored claimed: it runs in that slot."""
        if task is not None and self._reserved.pop(task.id, None) is not None:
            self._start_job(task)
            return
        if task is not None and self._hand_out(task):
            return
        self._wake_for((kind,) if kind else None)

    def reserve(self, task_id: str, kind: str) -> int | None:
        """Takes a slot of `kind`'s pool for a task about to be stored already claimed by this worker, if the pool
        has room now and no task waits before it (0: nothing to store with it); `announce` runs it there, `release`
        gives the slot back."""
        if self._started is None or task_id in self._jobs or task_id in self._reserved or kind in self._backlog:
            return None
        pools, _run = self._started
        pool = next((pool for pool in pools() if kind in pool.kinds), None)
        if pool is None or sum(self._running[k] for k in pool.kinds) >= pool.capacity:
            return None
        self._running[kind] += 1
        self._reserved[task_id] = kind
        return 0

    def release(self, task_id: str) -> None:
        """The task a slot was reserved for was not stored: the slot is free again."""
        kind = self._reserved.pop(task_id, None)
        if kind is None:
            return
        self._running[kind] -= 1
        if kind in self._backlog and self._started is not None:
            self._wake_for(next((pool.kinds for pool in self._started[0]() if kind in pool.kinds), None))

    def _hand_out(self, task: Task) -> bool:
        if self._started is None or task.id in self._jobs or task.kind in self._backlog:
            return False
        pools, run = self._started
        pool = next((pool for pool in pools() if task.kind in pool.kinds), None)
        if pool is None or sum(self._running[k] for k in pool.kinds) >= pool.capacity:
            return False
        self._running[task.kind] += 1
        self._start_job(task)
        return True

    def _start_job(self, task: Task) -> None:
        """Runs `task` in a slot already counted as taken."""
        assert self._started is not None
        pools, run = self._started
        self._jobs[task.id] = asyncio.create_task(self._run(task, run, self._running, pools), name=f"task-{task.id}")

    def _wake_for(self, kinds: tuple[str, ...] | None) -> None:
        if kinds is None or self._due is None:
            self._due = None
        else:
            self._due.update(kinds)
        self._wake.set()

    async def abort(self, task_id: str) -> None:
        """Nothing to do: every task runs in this process, where the runner stops it itself."""

    async def _dispatch_loop(self, pools: Pools, run: RunTask) -> None:
        running = self._running
        while True:
            self._wake.clear()
            due, self._due = self._due, set()
            try:
                for pool in pools():  # read at each look: a kind registered after the start joins its pool
                    looked_for = due is None or due.intersection(pool.kinds)
                    if not looked_for:
                        continue
                    if sum(running[k] for k in pool.kinds) >= pool.capacity:
                        self._backlog.update(pool.kinds)  # a slot that frees up looks again
                        continue
                    # Tasks handed out but not yet claimed are still PENDING: they come back, and are skipped.
                    limit = pool.capacity + len(self._jobs)
                    found = await self._repo.claimable(pool.kinds, limit)
                    left = False
                    for task in found:
                        if task.id in self._jobs:
                            continue
                        if sum(running[k] for k in pool.kinds) >= pool.capacity:
                            left = True
                            break
                        running[task.kind] += 1
                        self._jobs[task.id] = asyncio.create_task(
                            self._run(task, run, running, pools), name=f"task-{task.id}")
                    if left or len(found) >= limit:
                        self._backlog.update(pool.kinds)
                    else:  # all it had is handed out: a slot that frees up need not look (new tasks are announced)
                        self._backlog.difference_update(pool.kinds)
            except Exception:  # the store may be briefly unreachable: try again on the next wake-up
                log.exception("claiming tasks failed")
                self._due = None
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that comes with the wake-up.
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()
            except TimeoutError:
                self._due = None

    async def _run(self, task: Task, run: RunTask, running: collections.Counter[str], pools: Pools) -> None:
        task_id, kind = task.id, task.kind
        try:
            await run(task_id, task)  # claimed as read: no second read
        except Exception:
            log.exception("running a task failed", extra={"task": task_id})
        finally:
            running[kind] -= 1
            self._jobs.pop(task_id, None)
            # A slot of its pool is free: a look in that pool only, if tasks were left waiting in it.
            if kind in self._backlog:
                self._wake_for(next((pool.kinds for pool in pools() if kind in pool.kinds), None))

    @staticmethod
    async def _clean_up_loop(clean_up: CleanUp, seconds: float) -> None:
        while True:
            await clean_up()
            await asyncio.sleep(seconds)

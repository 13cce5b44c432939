"""Task dispatch on PostgreSQL through procrastinate's job queue: every task has a job (deferred by a trigger in the
statement that stores the task, migration 0015), in the queue named after its kind, locked by the task id.

procrastinate gives each job to one worker (its fetch locks the row), wakes workers with LISTEN/NOTIFY, keeps a
heartbeat per worker, and aborts a job on request (the worker cancels it at once, told by NOTIFY). Each replica
looks for the jobs of workers whose heartbeat stopped and puts them back in the queue, announced (another worker
then resumes the task from its checkpoint); a periodic job on a maintenance queue, deferred once per tick in the
whole cluster, runs the retention clean-up and deletes the jobs that ended otherwise than succeeded (those that
succeeded are deleted as they end). A worker stopping gracefully aborts its jobs for a shutdown: the runner has
handed the task back, and the job's retry puts it back in the queue a second later.

procrastinate's worker fetches one job per round trip and takes the next only once it has it; each of ours runs
several such fetch loops at once, sharing its slots (`_Worker`). A worker stops for good when the database fails it
(a restart, a failover): a new one replaces it (`_keep_working`).

Idle, this costs a few statements every `lease / 3` seconds: the heartbeats, the polls (a fallback: a job stored
or put back is announced) and the look for dead workers all run at that pace, so a dead worker's task resumes
within about 1.3 leases, and a retried job within a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import procrastinate
import procrastinate.worker
import psycopg_pool
from procrastinate.manager import get_channel_for_queues
from sqlalchemy import text

from storyloom.domain.ports.dispatch import CleanUp, Pools, RunTask
from storyloom.domain.task_types import Task
from storyloom.store.db import Database, run_to_completion

log = logging.getLogger(__name__)

# Must match the trigger of migration 0015.
RUN_TASK = "storyloom.run_task"
MAINTENANCE_QUEUE = "storyloom.maintenance"
# The beats, polls and looks for dead workers come this many times a lease.
CHECKS_PER_LEASE = 3
# Fetch loops per worker (pool), each a job per round trip. One alone took a job per turn of a busy event loop
# (about 20 ms with 500 replies streaming, where the query takes 1 ms): some 40 chat replies a second, however idle
# PostgreSQL and the pool's slots were.
FETCHES_AT_ONCE = 4
# Connections of procrastinate's pool: a worker's fetches, and each job's end.
CONNECTOR_POOL_SIZE = 4 + FETCHES_AT_ONCE
# The longest wait before a stopped worker is replaced (each try costs a connection attempt or two).
RESTART_SECONDS = 1.0


async def _autocommit(connection: Any) -> None:
    """procrastinate's statements are each one call of its functions, whole in itself: in a transaction of its own
    (psycopg's default) each took a BEGIN and a COMMIT besides, two round trips of the four a job's fetch or end
    cost with the pool's check."""
    await connection.set_autocommit(True)


def _pool_without_check(**pool_args: Any) -> psycopg_pool.AsyncConnectionPool:
    """procrastinate's pool, but for the check it asks for on every checkout (an empty statement, a round trip more
    for each of a job's fetch and end: 2 ms of the 13 before a chat reply's first text). A connection the server
    closed fails its statement instead: the pool drops it as it comes back, and the worker it failed is replaced
    (`_keep_working`), as when the database itself goes away."""
    pool_args.pop("check", None)
    return psycopg_pool.AsyncConnectionPool(**pool_args)


class _Worker(procrastinate.worker.Worker):
    """procrastinate's worker with several fetch loops: each takes a slot (the worker's concurrency), fetches a job
    and starts it, as the one loop of procrastinate does (pyproject pins its minor version: this overrides a private
    method), and all have stopped when no job is left; the next notice or poll starts them again."""

    async def _fetch_and_process_jobs(self) -> None:
        fetch = super()._fetch_and_process_jobs
        async with asyncio.TaskGroup() as loops:
            for _ in range(min(FETCHES_AT_ONCE, self.concurrency)):
                loops.create_task(fetch())  # type: ignore[no-untyped-call]  # procrastinate leaves it untyped


class ProcrastinateDispatcher:
    def __init__(self, db: Database, *, worker_name: str, lease_seconds: float):
        """`lease_seconds`: a worker whose heartbeat is older is presumed dead."""
        self._db = db
        self._name = worker_name
        self._lease = lease_seconds
        # How often workers beat (a worker is presumed dead after three missed beats), look for jobs that were not
        # announced (a retry's, or behind a lost notice) and for aborts not heard, and how often dead workers'
        # jobs are looked for. Each costs a statement or two: once a second per worker, they were most of what an
        # idle server spent.
        self._check = lease_seconds / CHECKS_PER_LEASE
        conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            pool_factory=_pool_without_check, conninfo=conninfo, min_size=1, max_size=CONNECTOR_POOL_SIZE,
            configure=_autocommit))
        self._workers: list[asyncio.Task[None]] = []

    async def start(self, pools: Pools, run: RunTask, clean_up: CleanUp, clean_up_seconds: float) -> None:
        async def run_task(task_id: str) -> None:
            await run(task_id)

        async def retention(timestamp: int) -> None:
            try:
                await clean_up()
            finally:
                # A job aborted while it ran (its task cancelled by another replica) ends failed or aborted, and a
                # job's end deletes only what succeeded: the task's row says all there is to know, so such jobs go.
                await self._app.job_manager.delete_old_jobs(
                    nb_hours=0, include_failed=True, include_cancelled=True, include_aborted=True)

        # Any exception puts the job back (a shutdown's, above all); the task row says whether there is work left.
        self._app.task(name=RUN_TASK, retry=procrastinate.RetryStrategy(wait=1))(run_task)
        self._app.periodic(cron=_cron(clean_up_seconds))(self._app.task(
            name="storyloom.task_retention", queue=MAINTENANCE_QUEUE)(retention))
        await self._app.open_async()
        for queues, concurrency in [*((p.kinds, p.capacity) for p in pools()), ((MAINTENANCE_QUEUE,), 1)]:
            self._workers.append(asyncio.create_task(self._keep_working(list(queues), concurrency),
                                                     name=f"worker {','.join(queues)}"))
        self._workers.append(asyncio.create_task(self._retry_stalled_jobs(), name="stalled jobs"))

    async def _keep_working(self, queues: list[str], concurrency: int) -> None:
        """Runs a worker for `queues`, and a new one whenever it stops: procrastinate's worker stops for good when
        its heartbeat, its listening or a fetch fails (PostgreSQL restarting, a failover, the network), and this
        process would take no task of those queues again until it restarted. Its running jobs were handed back as
        it stopped; the next worker starts once the database answers again."""
        while True:
            worker = _Worker(
                app=self._app, queues=queues, concurrency=concurrency, name=self._name,
                install_signal_handlers=False, shutdown_graceful_timeout=0, delete_jobs="always", listen_notify=True,
                fetch_job_polling_interval=self._check, update_heartbeat_interval=self._check,
                stalled_worker_timeout=self._lease, abort_job_polling_interval=self._check)
            try:
                await worker.run()  # type: ignore[no-untyped-call]  # procrastinate leaves it untyped
                log.warning("a task worker stopped: starting another", extra={"queues": queues})
            except Exception:
                log.exception("a task worker failed: starting another", extra={"queues": queues})
            await asyncio.sleep(min(self._check, RESTART_SECONDS))

    async def _retry_stalled_jobs(self) -> None:
        """Puts the jobs of workers that stopped beating back in their queue, and announces them there, as
        procrastinate announces only a job stored anew. Every replica looks (one statement); when two put the same
        job back, the second finds it taken."""
        manager = self._app.job_manager
        while True:
            await asyncio.sleep(self._check)
            try:
                stalled = await manager.get_stalled_jobs(task_name=RUN_TASK, seconds_since_heartbeat=self._lease)
            except Exception:  # the database is away: look again next time
                log.exception("could not look for stalled jobs")
                continue
            for job in stalled:
                log.info("a worker stopped beating: its task goes back to the queue", extra={"job": job.id})
                try:
                    await manager.retry_job(job)
                    for channel in get_channel_for_queues([job.queue]):
                        await self._app.connector.execute_query_async(
                            "SELECT pg_notify(%(channel)s, %(payload)s)", channel=channel,
                            payload=json.dumps({"type": "job_inserted", "job_id": job.id}))
                except Exception:  # finished or put back meanwhile
                    log.info("a stalled job was not put back: taken meanwhile", exc_info=True,
                             extra={"job": job.id})

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        with contextlib.suppress(Exception):
            await self._app.close_async()

    async def announce(self, kind: str = "", task: Task | None = None) -> None:
        """Nothing to do: the task's job was stored with it, and its insert notified the workers."""

    async def abort(self, task_id: str) -> None:
        await run_to_completion(self._abort(task_id))

    async def _abort(self, task_id: str) -> None:
        async with self._db.engine.begin() as connection:
            await connection.execute(text(
                "SELECT procrastinate_cancel_job_v1(id, true, true) FROM procrastinate_jobs "
                "WHERE lock = :task_id AND task_name = :task_name AND status IN ('todo', 'doing')"),
                {"task_id": task_id, "task_name": RUN_TASK})


def _cron(seconds: float) -> str:
    """A cron line for "every `seconds`" (whole seconds under a minute, else whole minutes)."""
    if seconds < 60:
        return f"* * * * * */{max(1, round(seconds))}"
    return f"*/{max(1, round(seconds / 60))} * * * *"

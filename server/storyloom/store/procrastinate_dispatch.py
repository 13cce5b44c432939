"""Task dispatch on PostgreSQL through procrastinate's job queue: every task has a job (deferred by a trigger in the
statement that stores the task, migration 0015), in the queue named after its kind, locked by the task id.

procrastinate gives each job to one worker (its fetch locks the row), wakes workers with LISTEN/NOTIFY, keeps a
heartbeat per worker, and aborts a job on request (the worker cancels it at once, told by NOTIFY). Two periodic jobs,
each deferred once per tick in the whole cluster, run on a maintenance queue: one puts back the jobs of workers whose
heartbeat stopped (another worker then resumes the task from its checkpoint), one runs the retention clean-up.
A worker stopping gracefully aborts its jobs for a shutdown: the runner has handed the task back, and the job's retry
puts it back in the queue at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate
from sqlalchemy import text

from storyloom.domain.ports.dispatch import CleanUp, Pools, RunTask
from storyloom.domain.task_types import Task
from storyloom.store.db import Database, run_to_completion

log = logging.getLogger(__name__)

# Must match the trigger of migration 0015.
RUN_TASK = "storyloom.run_task"
MAINTENANCE_QUEUE = "storyloom.maintenance"
# How often the jobs of dead workers are looked for; a dead worker's task resumes within the lease, this and the poll.
STALLED_CHECK_CRON = "* * * * * *"
# A job put back in the queue (a dead worker's, or one handed back) is not announced by procrastinate, only an
# inserted one: workers also look for work this often.
FETCH_POLL_SECONDS = 1.0


class ProcrastinateDispatcher:
    def __init__(self, db: Database, *, worker_name: str, lease_seconds: float, heartbeat_seconds: float):
        """`lease_seconds`: a worker whose heartbeat (every `heartbeat_seconds`) is older is presumed dead."""
        self._db = db
        self._name = worker_name
        self._lease = lease_seconds
        self._heartbeat = heartbeat_seconds
        conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1,
                                                                             max_size=4))
        self._workers: list[asyncio.Task[None]] = []

    async def start(self, pools: Pools, run: RunTask, clean_up: CleanUp, clean_up_seconds: float) -> None:
        async def run_task(task_id: str) -> None:
            await run(task_id)

        async def retry_stalled_jobs(timestamp: int) -> None:
            for job in await self._app.job_manager.get_stalled_jobs(task_name=RUN_TASK,
                                                                    seconds_since_heartbeat=self._lease):
                log.info("a worker stopped beating: its task goes back to the queue", extra={"job": job.id})
                try:
                    await self._app.job_manager.retry_job(job)
                except Exception:  # finished or put back meanwhile
                    log.exception("could not put a stalled job back", extra={"job": job.id})

        async def retention(timestamp: int) -> None:
            await clean_up()

        # Any exception puts the job back (a shutdown's, above all); the task row says whether there is work left.
        self._app.task(name=RUN_TASK, retry=procrastinate.RetryStrategy(wait=1))(run_task)
        self._app.periodic(cron=STALLED_CHECK_CRON)(self._app.task(
            name="storyloom.retry_stalled_jobs", queue=MAINTENANCE_QUEUE)(retry_stalled_jobs))
        self._app.periodic(cron=_cron(clean_up_seconds))(self._app.task(
            name="storyloom.task_retention", queue=MAINTENANCE_QUEUE)(retention))
        await self._app.open_async()
        for queues, concurrency in [*((p.kinds, p.capacity) for p in pools()), ((MAINTENANCE_QUEUE,), 1)]:
            self._workers.append(asyncio.create_task(self._app.run_worker_async(
                queues=list(queues), concurrency=concurrency, name=self._name, install_signal_handlers=False,
                shutdown_graceful_timeout=0, delete_jobs="always", listen_notify=True,
                fetch_job_polling_interval=FETCH_POLL_SECONDS,
                update_heartbeat_interval=self._heartbeat, stalled_worker_timeout=self._lease,
                abort_job_polling_interval=self._heartbeat), name=f"worker {','.join(queues)}"))

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

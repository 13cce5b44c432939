"""Task dispatch on PostgreSQL through procrastinate's job queue: every task has a job (deferred by a trigger in the
statement that stores the task, migration 0015), in the queue named after its kind, locked by the task id.

procrastinate gives each job to one worker (its fetch locks the row), wakes workers with LISTEN/NOTIFY, keeps a
heartbeat per worker, and aborts a job on request (the worker cancels it at once, told by NOTIFY). Each replica
looks for the jobs of workers whose heartbeat stopped and puts them back in the queue, announced (another worker
then resumes the task from its checkpoint); a periodic job on a maintenance queue, deferred once per tick in the
whole cluster, runs the retention clean-up and deletes the jobs that ended otherwise than succeeded (those that
succeeded are deleted as they end). A worker stopping gracefully aborts its jobs for a shutdown: the runner has
handed the task back, and the job's retry puts it back in the queue a second later.

A task stored already claimed by this worker (a chat reply: `reserve`) has its job stored running under the
procrastinate worker that reserved its slot, in the same statement (`claimed_job_insert`): it runs here at once,
outside procrastinate's worker, which this dispatcher then stands in for: it ends the job (deleted, or put back in
the queue when the run stopped early) and stops the run on an abort. Its worker's heartbeat covers it as any of its
jobs: if it stops, the job goes back to the queue like the others.

procrastinate's worker fetches one job per round trip and takes the next only once it has it; each of ours runs
several such fetch loops at once, sharing its slots (`_Worker`). A worker stops for good when the database fails it
(a restart, a failover): a new one replaces it (`_keep_working`).

Idle, this costs a few statements every `lease / 3` seconds: the heartbeats, the polls (a fallback: a job stored
or put back is announced) and the look for dead workers all run at that pace, so a dead worker's task resumes
within about 1.3 leases, and a retried job within a poll.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import procrastinate
import procrastinate.worker
import psycopg_pool
from procrastinate.manager import get_channel_for_queues
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    String,
    bindparam,
    column,
    func,
    insert,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

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

# procrastinate's table of jobs, as far as a job stored running (`claimed_job_insert`) needs it.
_JOBS = table("procrastinate_jobs", column("queue_name"), column("task_name"), column("lock"), column("args", JSONB),
              column("status"), column("worker_id"))
# A job that runs here outside procrastinate's worker (its task was stored claimed): its end, and its return to the
# queue when it stopped early (a stop, a failure; aborted, procrastinate's function fails it instead, and the clean-up
# deletes it), as procrastinate's worker ends and puts back its own. Only while it is still the job stored with the
# task, under this worker: once put back and taken by another worker (the task resumed there), it is that one's.
_JOB_RUN_HERE = ("FROM procrastinate_jobs WHERE lock = %(task_id)s AND task_name = %(task_name)s "
                 "AND status = 'doing' AND worker_id = %(worker_id)s")
# (The ends, of all those done with since the last, in one statement: `_end_jobs_run_here`.)
_DELETE_JOBS_RUN_HERE = ("DELETE FROM procrastinate_jobs WHERE (lock, worker_id) IN "
                         "(SELECT * FROM unnest(%(task_ids)s::text[], %(worker_ids)s::bigint[])) "
                         "AND task_name = %(task_name)s AND status = 'doing'")
_RETRY_JOB_RUN_HERE = ("SELECT procrastinate_retry_job_v2(id, now() + make_interval(secs => %(wait)s), NULL, NULL, "
                       "NULL) " + _JOB_RUN_HERE)
# Which of the jobs run here were asked to abort (by id, as the notice says; or any, as the poll looks).
_ABORTED_BY_ID = ("SELECT lock FROM procrastinate_jobs "
                  "WHERE id = ANY(%(ids)s) AND task_name = %(task_name)s AND status = 'doing'")
_ABORTED_RUN_HERE = ("SELECT lock FROM procrastinate_jobs WHERE lock = ANY(%(task_ids)s) "
                     "AND task_name = %(task_name)s AND status = 'doing' AND abort_requested")
# How long a job put back waits before a worker takes it again (procrastinate's retry strategy of RUN_TASK).
RETRY_SECONDS = 1


def claimed_job_insert(only_if: ColumnElement[bool] | None = None) -> Insert:
    """The job of a task stored claimed by this worker (`ProcrastinateDispatcher.reserve`), for the statement that
    stores the task (with `claimed_job_params`): running ('doing') under the procrastinate worker that reserved its
    slot, so that no worker fetches it, and every replica's look for dead workers' jobs puts it back in the queue if
    that worker stops beating. (procrastinate's triggers announce and log only jobs stored to do.) With `only_if`,
    none unless it holds (the task was stored: see `task_inserts`)."""
    lock = bindparam("job_lock", type_=String)
    values = {"queue_name": bindparam("job_queue", type_=String), "task_name": literal(RUN_TASK, String),
              "lock": lock, "args": func.jsonb_build_object(literal_column("'task_id'"), lock),
              "status": literal_column("'doing'"), "worker_id": bindparam("job_worker", type_=BigInteger)}
    if only_if is None:
        return insert(_JOBS).values(values)
    return insert(_JOBS).from_select(list(values), select(*values.values()).where(only_if))


def claimed_job_params(task: Task, worker: int) -> dict[str, Any]:
    return {"job_queue": task.kind, "job_lock": task.id, "job_worker": worker}


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
    and starts it, as the one loop of procrastinate does (pyproject pins its minor version: this overrides private
    methods), and all have stopped when no job is left; the next notice or poll starts them again. The aborts it
    hears go to `on_abort` too, for the jobs run here outside it (`ProcrastinateDispatcher.reserve`)."""

    def __init__(self, *, on_abort: Callable[[Iterable[int]], None], **options: Any):
        super().__init__(**options)
        self._on_abort = on_abort

    @property
    def running(self) -> int:
        """Jobs it runs now."""
        return len(self._running_jobs)

    def _handle_abort_jobs_requested(self, job_ids: Iterable[int]) -> None:
        job_ids = list(job_ids)
        super()._handle_abort_jobs_requested(job_ids)
        self._on_abort(job_ids)

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
        self._run: RunTask | None = None
        # The worker serving each kind, once started; slots reserved on it for tasks being stored claimed, by task
        # id; the jobs of those tasks running here, by task id (with their worker).
        self._serving: dict[str, _Worker] = {}
        self._reserved: dict[str, tuple[_Worker, int]] = {}  # (with the worker's id the job is stored under)
        self._run_here: dict[str, tuple[_Worker, asyncio.Task[None]]] = {}
        # Of each worker, its slots reserved or running here (the two above), kept as they change: counting them in
        # each `reserve` made a burst of N sends cost N * N steps.
        self._taken_here: collections.Counter[_Worker] = collections.Counter()
        self._abort_looks: set[asyncio.Task[None]] = set()
        # The jobs run here whose task is done with, to delete (task id, worker id), and the deleting of those
        # before them while it runs (`_end_jobs_run_here`).
        self._ended_here: list[tuple[str, int]] = []
        self._ending: asyncio.Task[None] | None = None

    async def start(self, pools: Pools, run: RunTask, clean_up: CleanUp, clean_up_seconds: float) -> None:
        self._run = run

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
                stalled_worker_timeout=self._lease, abort_job_polling_interval=self._check,
                on_abort=self._abort_requested)
            self._serving.update(dict.fromkeys(queues, worker))
            try:
                await worker.run()  # type: ignore[no-untyped-call]  # procrastinate leaves it untyped
                log.warning("a task worker stopped: starting another", extra={"queues": queues})
            except Exception:
                log.exception("a task worker failed: starting another", extra={"queues": queues})
            self._stop_runs_of(worker)
            await asyncio.sleep(min(self._check, RESTART_SECONDS))

    def _stop_runs_of(self, worker: _Worker) -> None:
        """The runs here of jobs stored under a worker that stopped stop too, as its own jobs did: their jobs are left
        to every replica's look for dead workers' jobs, which puts them back in the queue (the task is then resumed,
        here or elsewhere) while they would still run here."""
        for owner, job in list(self._run_here.values()):
            if owner is worker:
                job.cancel()

    async def _retry_stalled_jobs(self) -> None:
        """Puts the jobs of workers that stopped beating back in their queue, and announces them there, as
        procrastinate announces only a job stored anew. Every replica looks (one statement); when two put the same
        job back, the second finds it taken."""
        manager = self._app.job_manager
        while True:
            await asyncio.sleep(self._check)
            if self._run_here:  # (an abort whose notice was missed)
                with contextlib.suppress(Exception):
                    await self._abort_run_here(_ABORTED_RUN_HERE, task_ids=list(self._run_here))
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
        running = [*self._workers, *(job for _worker, job in self._run_here.values())]
        for work in running:
            work.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._ending is not None:  # the jobs of the tasks that ended here go before the pool closes
            await asyncio.gather(self._ending, return_exceptions=True)
        self._workers = []
        self._serving.clear()
        with contextlib.suppress(Exception):
            await self._app.close_async()

    def reserve(self, task_id: str, kind: str) -> int | None:
        """A slot of the worker serving `kind` here, if it has room now: the task is stored claimed with its job
        running under that worker (`claimed_job_insert`), and runs here as soon as it is announced, where a task
        stored to do waited for a notice, a fetch and a claim (three round trips and several turns of a busy event
        loop). Returns the worker's id."""
        worker = self._serving.get(kind)
        if (worker is None or worker.worker_id is None or self._run is None or task_id in self._reserved
                or task_id in self._run_here):
            return None
        if worker.running + self._taken_here[worker] >= worker.concurrency:
            return None
        self._reserved[task_id] = (worker, worker.worker_id)
        self._taken_here[worker] += 1
        return worker.worker_id

    def release(self, task_id: str) -> None:
        reserved = self._reserved.pop(task_id, None)
        if reserved is not None:
            self._taken_here[reserved[0]] -= 1

    async def announce(self, kind: str = "", task: Task | None = None) -> None:
        """Runs a task stored claimed in the slot reserved for it; for any other, nothing to do: its job was stored
        with it, and its insert notified the workers."""
        reserved = self._reserved.pop(task.id, None) if task is not None else None
        if task is None or reserved is None:
            return
        worker, worker_id = reserved
        job = asyncio.create_task(self._run_job_here(task, worker_id), name=f"task-{task.id}")
        self._run_here[task.id] = (worker, job)
        job.add_done_callback(lambda _job: self._ran_here(task.id))
        if worker.worker_id is None:  # it stopped since the slot was reserved
            self._stop_runs_of(worker)

    def _ran_here(self, task_id: str) -> None:
        ran = self._run_here.pop(task_id, None)
        if ran is not None:
            self._taken_here[ran[0]] -= 1

    async def _run_job_here(self, task: Task, worker_id: int) -> None:
        """Runs a task stored claimed, then ends its job as procrastinate's worker ends its own: deleted once the
        task is done with, put back in the queue when its run stopped early (a stop hands the task back, or leaves
        it to be resumed; an abort fails the job, left for the clean-up)."""
        assert self._run is not None
        params = {"task_id": task.id, "task_name": RUN_TASK, "worker_id": worker_id}
        try:
            await self._run(task.id, task)
        except BaseException:
            with contextlib.suppress(Exception):  # (then its worker's end, or death, puts it back)
                await run_to_completion(self._app.connector.execute_query_async(
                    _RETRY_JOB_RUN_HERE, wait=RETRY_SECONDS, **params))
            raise
        self._ended_here.append((task.id, worker_id))
        if self._ending is None:
            self._ending = asyncio.get_running_loop().create_task(self._end_jobs_run_here(), name="end jobs run here")

    async def _end_jobs_run_here(self) -> None:
        """Deletes the jobs of the tasks run here that are done with, as procrastinate's worker deletes its own: all
        that ended since the last statement, in one (under a burst of chat replies, one statement and one psycopg
        call of the event loop per reply were about a tenth of its time). Its task is done with first: a job left
        by a crash before this is put back in the queue when its worker stops beating, and whoever takes it finds
        its task ended."""
        try:
            while self._ended_here:
                ended, self._ended_here = self._ended_here, []
                task_ids, worker_ids = (list(column) for column in zip(*ended, strict=True))
                with contextlib.suppress(Exception):  # (then the task's row says it ended, to whoever takes the job)
                    await self._app.connector.execute_query_async(
                        _DELETE_JOBS_RUN_HERE, task_ids=task_ids, worker_ids=worker_ids, task_name=RUN_TASK)
        finally:
            self._ending = None

    def _abort_requested(self, job_ids: Iterable[int]) -> None:
        """A worker heard aborts: those of jobs run here stop their task (found by id: the notice has no more)."""
        ids = list(job_ids)  # (procrastinate's poll hands over every job to abort, none of them often)
        if ids and self._run_here:
            look = asyncio.get_running_loop().create_task(self._abort_run_here(_ABORTED_BY_ID, ids=ids))
            self._abort_looks.add(look)
            look.add_done_callback(self._abort_looks.discard)

    async def _abort_run_here(self, query: str, **params: Any) -> None:
        with contextlib.suppress(Exception):  # (the poll looks again)
            rows = await self._app.connector.execute_query_all_async(query, task_name=RUN_TASK, **params)
            for row in rows:
                entry = self._run_here.get(row["lock"])
                if entry is not None:
                    entry[1].cancel()

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

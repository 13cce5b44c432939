"""procrastinate: the job queue that dispatches tasks on PostgreSQL, and a job for every task stored PENDING

On PostgreSQL only (SQLite dispatches in-process): procrastinate's own schema, as the installed package ships it
(pyproject pins its minor version, so the schema matches the library), then a trigger that defers a task's job in the
statement that inserts the task. A task and its job are therefore one transaction on every path that creates
tasks: no crash can leave a task without its job, nor a job without its task.

Revision ID: 0015_procrastinate
Revises: 0014_stage_timings
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.util import await_only

revision = '0015_procrastinate'
down_revision = '0014_stage_timings'
branch_labels = None
depends_on = None

# The job's queue is the task's kind (workers take the queues of the kinds they run); its lock is the task id, so two
# jobs of one task never run at once. Names and arguments must match storyloom.store.procrastinate_dispatch.
TASK_JOB_TRIGGER = """
CREATE FUNCTION storyloom_defer_task_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM procrastinate_defer_jobs_v1(ARRAY[ROW(
        NEW.kind, 'storyloom.run_task', 0, NEW.id, NULL, jsonb_build_object('task_id', NEW.id), NULL
    )::procrastinate_job_to_defer_v1]);
    RETURN NEW;
END;
$$;
CREATE TRIGGER storyloom_task_job AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.state = 'PENDING') EXECUTE FUNCTION storyloom_defer_task_job();
-- Tasks live before this version get their job too (a RUNNING one is recovered by the worker that takes it).
SELECT procrastinate_defer_jobs_v1(array_agg(ROW(
    kind, 'storyloom.run_task', 0, id, NULL, jsonb_build_object('task_id', id), NULL
)::procrastinate_job_to_defer_v1)) FROM tasks WHERE state IN ('PENDING', 'RUNNING') HAVING count(*) > 0;
"""

DROP_ALL = """
DROP TRIGGER IF EXISTS storyloom_task_job ON tasks;
DROP FUNCTION IF EXISTS storyloom_defer_task_job();
DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, procrastinate_workers
    CASCADE;
DO $$
DECLARE f record;
BEGIN
    FOR f IN SELECT oid::regprocedure AS signature FROM pg_proc WHERE proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE 'DROP FUNCTION ' || f.signature || ' CASCADE';
    END LOOP;
END;
$$;
DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status;
"""


def _run_script(sql: str) -> None:
    """Runs a multi-statement script on the migration's own asyncpg connection (in its transaction): SQLAlchemy's
    statements take one statement each, and would read the script's `::` casts as bind parameters."""
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    await_only(driver.execute(sql))


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    _run_script(SchemaManager.get_schema())
    _run_script(TASK_JOB_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    _run_script(DROP_ALL)

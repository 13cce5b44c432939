"""`insert_rows`, the hot writes' inserts: on SQLite's inline writer straight to the DBAPI cursor, storing what
SQLAlchemy's execution stores, raising what it raises, heard by the statement listeners."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from storyloom.store.db import Database, insert_rows
from storyloom.store.models import TaskEventRow, TaskRow
from storyloom.store.tasks import EVENTS, TASKS
from tests.support.sql_counter import counting_statements

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
INSERT_TASK = insert(TASKS)
INSERT_EVENTS = insert(EVENTS)


def task_values(task_id: str) -> dict[str, Any]:
    return dict(id=task_id, user_id="u", kind="k", state="RUNNING", stage="", percent=0, message="m", eta=None,
                target="", params={"message_id": "r", "nested": [1, None]}, checkpoint={}, result_type=None,
                result_payload=None, error=None, last_sequence=2, attempt=1, request_id=None, create_time=T0,
                update_time=T0, start_time=T0, end_time=None, owner="w1", heartbeat_time=T0, interruptions=0)


def event_values(task_id: str, sequence: int) -> dict[str, Any]:
    return dict(task_id=task_id, sequence=sequence, create_time=T0 + dt.timedelta(seconds=sequence),
                state="RUNNING", stage="s", percent=sequence, message="", eta=None,
                error={"code": "X", "reason": "Y"} if sequence == 2 else None, part=None)


async def stored(db: Database, task_id: str) -> tuple[Any, list[Any]]:
    async with db.begin() as session:
        task = (await session.execute(select(TaskRow.__table__).where(TaskRow.id == task_id))).one()
        events = (await session.execute(select(TaskEventRow.__table__).where(TaskEventRow.task_id == task_id)
                                        .order_by(TaskEventRow.sequence))).all()
        return tuple(task), [tuple(e) for e in events]


async def test_rows_inserted_are_stored_as_sqlalchemy_stores_them(db):
    executed: list[str] = []  # statements SQLAlchemy executed (not only heard at the cursor)

    def insert_both(use_rows: bool, task_id: str):
        def work(connection: Connection) -> None:
            event.listen(connection, "before_execute", lambda *args: executed.append(str(args[1])))
            rows = [event_values(task_id, 1), event_values(task_id, 2)]
            if use_rows:
                insert_rows(connection, INSERT_TASK, [task_values(task_id)])
                insert_rows(connection, INSERT_EVENTS, rows)
            else:
                connection.execute(INSERT_TASK, [task_values(task_id)])
                connection.execute(INSERT_EVENTS, rows)
        return work

    await db.transaction(insert_both(False, "by-sqlalchemy"))
    executed.clear()
    with counting_statements(db.engine) as sql:
        await db.transaction(insert_both(True, "by-rows"))

    assert len([s for s in sql.statements if s.startswith("INSERT INTO task")]) == 2  # heard either way
    if db.is_sqlite:  # the inline writer: straight to the cursor
        assert executed == []
    task, events = await stored(db, "by-rows")
    expected_task, expected_events = await stored(db, "by-sqlalchemy")
    assert task[1:] == expected_task[1:] and task[0] == "by-rows"
    assert [e[1:] for e in events] == [e[1:] for e in expected_events] and len(events) == 2


async def test_a_row_that_breaks_a_constraint_raises_as_sqlalchemy_raises_it_and_stores_nothing(db):
    await db.transaction(lambda c: insert_rows(c, INSERT_TASK, [task_values("t1")]))

    def twice(connection: Connection) -> None:
        insert_rows(connection, INSERT_EVENTS, [event_values("t1", 1)])
        insert_rows(connection, INSERT_EVENTS, [event_values("t1", 1)])  # the same (task, sequence)

    with pytest.raises(IntegrityError):
        await db.transaction(twice)
    assert (await stored(db, "t1"))[1] == []

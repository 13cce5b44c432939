"""Tasks and their event logs in SQL."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.expression import CTE

from storyloom.domain.task_types import (
    LIVE_STATES,
    NewTask,
    Task,
    TaskClaim,
    TaskEnding,
    TaskError,
    TaskEvent,
    TaskFence,
    TaskFenced,
    TaskPart,
    TaskResult,
    TaskState,
    TaskUpdate,
)
from storyloom.store.db import (
    Database,
    bound_values,
    completes_when_cancelled,
    insert_rows,
    one_fetch,
    one_transaction,
    rows_as_arrays,
    unnested,
)
from storyloom.store.models import TaskEventRow, TaskRow
from storyloom.store.pages import newest_first
from storyloom.store.pg_notifier import notice

# The tasks table, for Core statements that return its rows (the ORM's UPDATE would track them in a session).
TASKS = cast("Table", TaskRow.__table__)

# The hot writes' inserts, built once (see `bound_values`; run by `insert_rows`).
_INSERT_TASKS = insert(TASKS)
EVENTS = cast("Table", TaskEventRow.__table__)
_INSERT_EVENTS = insert(EVENTS)

# The hot reads, built once (see `Database.fetch`): a task, and a page of a user's tasks for each combination of
# filters.
_GET = select(TASKS).where(TaskRow.id == bindparam("task_id"))
# A task's events after a sequence: what every watcher reads when it opens and each time it wakes.
_EVENTS_AFTER = (select(EVENTS)
                 .where(TaskEventRow.task_id == bindparam("task_id"), TaskEventRow.sequence > bindparam("after"))
                 .order_by(TaskEventRow.sequence).limit(bindparam("limit")))


@functools.cache
def _list_query(states: bool, kind: bool, after: bool) -> Select[Any]:
    query = select(TASKS).where(TaskRow.user_id == bindparam("user_id"))
    if states:
        query = query.where(TaskRow.state.in_(bindparam("states", expanding=True)))
    if kind:
        query = query.where(TaskRow.kind == bindparam("kind"))
    return newest_first(query, TaskRow.create_time, TaskRow.id,
                        (bindparam("after_time"), bindparam("after_id")) if after else None, bindparam("limit"))


@completes_when_cancelled
class SqlTaskRepository:
    def __init__(self, db: Database):
        self._db = db
        # On PostgreSQL an event's write and a claim announce their tasks in their own statement (a NOTIFY, heard
        # when it commits): a statement and a round trip fewer each. (SQLite serves one process: the runner tells
        # it.)
        self.announces_tasks = not db.is_sqlite

    async def create(self, task: Task, first_event: TaskEvent) -> tuple[Task, bool]:
        existing = await self._db.insert_once([_task_row(task), _event_row(first_event)], task.request_id)
        if existing is None:
            return task, True
        found = await self.get(existing)
        assert found is not None
        return found, False

    @one_fetch
    async def get(self, task_id: str) -> Task | None:
        rows = await self._db.fetch(_GET, {"task_id": task_id})
        return _task(rows[0]) if rows else None

    @one_transaction
    async def append_event(self, task_id: str, update: TaskUpdate, now: dt.datetime,
                           fence: TaskFence | None = None) -> tuple[Task, TaskEvent]:
        postgres = not self._db.is_sqlite

        def append(connection: Connection) -> tuple[Task, TaskEvent]:
            task, event = _append(connection, task_id, update, now, fence, with_event=postgres)
            if not postgres:
                insert_rows(connection, _INSERT_EVENTS, [_event_values(event)])
            return task, event

        # On PostgreSQL the update and its event are one statement: its own transaction, one round trip.
        return await self._db.transaction(append, one_statement=postgres)

    @one_transaction
    async def claim(self, claims: Sequence[tuple[str, int | None]], owner: str, now: dt.datetime,
                    messages: tuple[str, str]) -> builtins.list[tuple[Task, TaskEvent]]:
        if not claims:
            return []
        params = {"pairs": [(task_id, attempt) for task_id, attempt in claims if attempt is not None],
                  "ids": [task_id for task_id, attempt in claims if attempt is None], "set_owner": owner,
                  "now": now, "first_message": messages[0], "later_message": messages[1]}
        postgres = not self._db.is_sqlite

        def claim(connection: Connection) -> builtins.list[tuple[Task, TaskEvent]]:
            # One statement for the lot, events included on PostgreSQL (a round trip each, and its own transaction):
            # under load every statement waits its turn on the event loop, and the store's writer waits with it.
            if postgres:
                return [(task, TaskEvent.of(task, now))
                        for task in map(_task, connection.execute(_CLAIM_WITH_EVENTS, params))]
            claimed = [(task, TaskEvent.of(task, now)) for task in map(_task, connection.execute(_CLAIM, params))]
            if claimed:
                insert_rows(connection, _INSERT_EVENTS, [_event_values(event) for _task, event in claimed])
            return claimed

        return await self._db.transaction(claim, one_statement=postgres)

    @one_fetch
    async def events_after(self, task_id: str, after_sequence: int, limit: int) -> list[TaskEvent]:
        rows = await self._db.fetch(_EVENTS_AFTER, {"task_id": task_id, "after": after_sequence, "limit": limit})
        return [_event(r) for r in rows]

    @one_fetch
    async def list(
        self,
        user_id: str,
        *,
        states: tuple[TaskState, ...],
        kind: str,
        limit: int,
        after: tuple[dt.datetime, str] | None,
    ) -> list[Task]:
        params: dict[str, Any] = {"user_id": user_id, "states": [s.value for s in states], "kind": kind,
                                  "limit": limit}
        if after is not None:
            params.update(after_time=after[0], after_id=after[1])
        rows = await self._db.fetch(_list_query(bool(states), bool(kind), after is not None), params)
        return [_task(r) for r in rows]

    async def live(self) -> builtins.list[Task]:
        async with self._db.begin() as session:
            rows = await session.scalars(
                select(TaskRow).where(TaskRow.state.in_([s.value for s in LIVE_STATES])).order_by(TaskRow.create_time)
            )
            return [_task(r) for r in rows]

    async def claimable(self, kinds: tuple[str, ...], limit: int) -> builtins.list[Task]:
        async with self._db.begin() as session:
            rows = await session.scalars(
                select(TaskRow).where(TaskRow.state == TaskState.PENDING.value, TaskRow.owner.is_(None),
                                      TaskRow.kind.in_(kinds))
                .order_by(TaskRow.create_time, TaskRow.id).limit(limit))
            return [_task(r) for r in rows]

    async def orphans(self, owner: str) -> builtins.list[Task]:
        # A RUNNING task nobody holds was left by a version that did not record owners.
        query = select(TaskRow).where(TaskRow.state == TaskState.RUNNING.value,
                                      or_(TaskRow.owner != owner, TaskRow.owner.is_(None)))
        async with self._db.begin() as session:
            return [_task(r) for r in await session.scalars(query.order_by(TaskRow.create_time))]

    async def queue_stats(self, task: Task) -> tuple[int, int, float | None]:
        async with self._db.begin() as session:
            ahead = await session.scalar(select(func.count()).select_from(TaskRow).where(
                TaskRow.state == TaskState.PENDING.value, TaskRow.kind == task.kind,
                or_(TaskRow.create_time < task.create_time,
                    and_(TaskRow.create_time == task.create_time, TaskRow.id < task.id))))
            running = await session.scalar(select(func.count()).select_from(TaskRow).where(
                TaskRow.state == TaskState.RUNNING.value, TaskRow.kind == task.kind))
            recent = (await session.execute(
                select(TaskRow.start_time, TaskRow.end_time).where(
                    TaskRow.kind == task.kind, TaskRow.state == TaskState.SUCCEEDED.value,
                    TaskRow.start_time.is_not(None)).order_by(TaskRow.end_time.desc()).limit(20))).all()
        durations = [(end - start).total_seconds() for start, end in recent if start and end]
        return int(ahead or 0), int(running or 0), (sum(durations) / len(durations)) if durations else None
    async def count_live(self, user_id: str) -> int:
        async with self._db.begin() as session:
            count = await session.scalar(select(func.count()).select_from(TaskRow).where(
                TaskRow.user_id == user_id, TaskRow.state.in_([s.value for s in LIVE_STATES])))
            return int(count or 0)

    async def delete(self, task_id: str) -> None:
        async with self._db.write() as session:
            await session.execute(delete(TaskEventRow).where(TaskEventRow.task_id == task_id))
            await session.execute(delete(TaskRow).where(TaskRow.id == task_id))

    async def delete_finished_before(self, cutoff: dt.datetime) -> int:
        async with self._db.write() as session:
            ids = list(await session.scalars(select(TaskRow.id).where(TaskRow.end_time < cutoff).limit(1000)))
            if ids:
                await session.execute(delete(TaskEventRow).where(TaskEventRow.task_id.in_(ids)))
                await session.execute(delete(TaskRow).where(TaskRow.id.in_(ids)))
            return len(ids)


def _claim_statement() -> Update:
    """`claim`'s UPDATE, built once (see `bound_values`): the tasks `pairs` (id, attempt) and `ids` (any attempt)
    that are PENDING and unowned become RUNNING under `set_owner`, returned as they are then."""
    now = bindparam("now", type_=TASKS.c.start_time.type)
    return (sql_update(TASKS)
            .where(or_(tuple_(TaskRow.id, TaskRow.attempt).in_(bindparam("pairs", expanding=True)),
                       TaskRow.id.in_(bindparam("ids", expanding=True))),
                   TaskRow.state == TaskState.PENDING.value, TaskRow.owner.is_(None))
            .values(state=TaskState.RUNNING.value, attempt=TaskRow.attempt + 1, heartbeat_time=now,
                    start_time=func.coalesce(TaskRow.start_time, now), update_time=now,
                    message=case((TaskRow.attempt == 0, bindparam("first_message")),
                                 else_=bindparam("later_message")),
                    last_sequence=TaskRow.last_sequence + 1, **bound_values(TASKS, "owner"))
            .returning(*TASKS.c))


def _claim_with_events() -> Select[Any]:
    """`_CLAIM`, the insert of each claimed task's event (`TaskEvent.of` the task, now) and its notice in one
    statement, for PostgreSQL: a statement is a transaction of its own there, so the claim costs one round trip."""
    claimed = _claim_statement().cte("claimed")
    c = claimed.c
    events = insert(EVENTS).from_select(
        ["task_id", "sequence", "create_time", "state", "stage", "percent", "message", "eta", "error", "part"],
        select(c.id, c.last_sequence, bindparam("now", type_=EVENTS.c.create_time.type), c.state, c.stage,
               c.percent, c.message, c.eta, null(), null()))
    return select(claimed, notice("task", c.id)).add_cte(events.cte("claim_events"))


_CLAIM = _claim_statement()
_CLAIM_WITH_EVENTS = _claim_with_events()


def _append(connection: Connection, task_id: str, update: TaskUpdate, now: dt.datetime,
            fence: TaskFence | None, with_event: bool = False) -> tuple[Task, TaskEvent]:
    """Applies the update and takes the next sequence number in one UPDATE that returns the row (the event is for
    the caller to insert, unless `with_event`: then the statement inserts it too, PostgreSQL only). The UPDATE comes
    first: it takes the row lock on PostgreSQL and the database write lock on SQLite, so concurrent writers queue
    here and each sees the row as the one before it committed it. The fence is checked in the same statement, so no
    write slips in between the check and the write."""
    params, columns, shape = _append_params(task_id, update, now, fence, with_event)
    statement: Executable = (_append_with_event_statement(columns, shape) if with_event
                             else _append_statement(columns, shape))
    row = connection.execute(statement, params).one_or_none()
    if row is None:
        if fence is not None and connection.scalar(select(TaskRow.id).where(TaskRow.id == task_id)):
            raise TaskFenced(f"task {task_id} no longer matches {fence}")
        raise LookupError(f"task {task_id} does not exist")
    task = _task(row)
    return task, TaskEvent.of(task, now, update.error, update.part)


Shape = tuple[tuple[str, ...], bool, bool, bool]  # a fence's, as `_append_statement` takes it


def _append_params(task_id: str, update: TaskUpdate, now: dt.datetime, fence: TaskFence | None,
                   with_event: bool) -> tuple[dict[str, Any], tuple[str, ...], Shape | None]:
    """`_append`'s parameters, the columns it sets and the shape of its fence."""
    changes = _changes(update, now)
    params: dict[str, Any] = {f"set_{name}": value for name, value in changes.items()}
    params["task_id"] = task_id
    shape = None
    if fence is not None:
        shape = (tuple(sorted(state.value for state in fence.states)), fence.attempt is not None,
                 fence.owner is not None, fence.unowned)
        params.update(fence_attempt=fence.attempt, fence_owner=fence.owner)
    if with_event:
        params.update(event_create_time=now, event_error=_error_json(update.error) if update.error else None,
                      event_part=_part_json(update.part) if update.part else None)
    return params, tuple(sorted(changes)), shape


def ending_parts(ending: TaskEnding,
                 only_if: ColumnElement[bool] | None = None) -> tuple[CTE, CTE, dict[str, Any]]:
    """A handler's end of its task (`store_ending` with its event: PostgreSQL) as parts of a caller's own statement:
    the task's update under its fence, a CTE of the row as updated (none if refused or gone), the insert of its
    event, a CTE for the statement's WITH (both built once per shape), and their parameters. The caller's statement
    selects from the first, with the task's notice (`notice("task", ...)`). `only_if`: a condition on the
    statement's other parts (one object, built once), without which the task's end is not stored either."""
    params, columns, shape = _append_params(ending.task_id, ending.update, ending.now, ending.fence, True)
    # (Its id by another name: SQLAlchemy makes a parameter named after a column of another UPDATE of the statement
    # a value of that UPDATE, and a reply's row has a task_id.)
    params["ended_task_id"] = params.pop("task_id")
    updated, event = _ending_ctes(columns, shape, only_if)
    return updated, event, params


def ended_task(ending: TaskEnding, row: Any) -> tuple[Task, TaskEvent] | None:
    """`store_ending`'s outcome from the task's row as `ending_parts` updated it (attributes of its columns), None
    if there is none."""
    if row is None:
        return None
    task = _task(row)
    return task, TaskEvent.of(task, ending.now, ending.update.error, ending.update.part)


@functools.cache
def _ending_ctes(columns: tuple[str, ...], fence: Shape | None,
                 only_if: ColumnElement[bool] | None) -> tuple[CTE, CTE]:
    update = _append_statement(columns, fence, "ended_task_id")
    updated = (update if only_if is None else update.where(only_if)).cte("task_ended")
    return updated, _event_insert(updated).cte("task_end_event")


def _event_insert(updated: CTE, create_time: Any = None, error: Any = None, part: Any = None) -> Insert:
    """The insert of the event of a task's row as `updated` (`TaskEvent.of` it, at `create_time`, with `error` and
    `part`: by default the parameters `event_create_time`, `event_error` and `event_part`)."""
    c = updated.c
    return insert(EVENTS).from_select(
        ["task_id", "sequence", "create_time", "state", "stage", "percent", "message", "eta", "error", "part"],
        select(c.id, c.last_sequence,
               bindparam("event_create_time", type_=EVENTS.c.create_time.type) if create_time is None else create_time,
               c.state, c.stage, c.percent, c.message, c.eta,
               bindparam("event_error", type_=EVENTS.c.error.type) if error is None else error,
               bindparam("event_part", type_=EVENTS.c.part.type) if part is None else part))


@functools.cache
def _append_statement(columns: tuple[str, ...], fence: Shape | None, task_id: str = "task_id") -> Update:
    """`_append`'s UPDATE that sets these columns under a fence of this shape (its states; whether it checks the
    attempt, the owner, no owner), built once per shape (see `bound_values`): a few shapes cover every update.
    `task_id`: the name of the parameter of the task's id."""
    conditions = [TaskRow.id == bindparam(task_id)]
    if fence is not None:
        states, attempt, owner, unowned = fence
        conditions += _fence_conditions(states, bindparam("fence_attempt") if attempt else None,
                                        bindparam("fence_owner") if owner else None, unowned)
    return (sql_update(TASKS).where(*conditions)
            .values(last_sequence=TaskRow.last_sequence + 1, **bound_values(TASKS, *columns))
            .returning(*TASKS.c))


@functools.cache
def _append_with_event_statement(columns: tuple[str, ...],
                                 fence: Shape | None) -> Select[Any]:
    """`_append_statement` and the insert of its event (`TaskEvent.of` the row, at `event_create_time`, with
    `event_error` and `event_part`) and the task's notice in one statement, for PostgreSQL; it returns the row as
    updated."""
    updated = _append_statement(columns, fence).cte("updated")
    return select(updated, notice("task", updated.c.id)).add_cte(_event_insert(updated).cte("appended_event"))


def _changes(update: TaskUpdate, now: dt.datetime) -> dict[str, Any]:
    """The columns an update sets."""
    values: dict[str, Any] = {name: getattr(update, name) for name in (
        "stage", "percent", "message", "attempt", "start_time", "end_time", "checkpoint", "owner", "heartbeat_time",
        "interruptions") if getattr(update, name) is not None}
    if update.state is not None:
        values["state"] = update.state.value
    if update.eta is not None:
        values["eta"] = update.eta
    if update.clear_eta:
        values["eta"] = None
    if update.result is not None:
        values["result_type"], values["result_payload"] = update.result.type_name, update.result.payload
    if update.error is not None:
        values["error"] = _error_json(update.error)
    if update.clear_owner:
        values["owner"], values["heartbeat_time"] = None, None
    values["update_time"] = now
    return values


def _fenced(fence: TaskFence) -> list[ColumnElement[bool]]:
    return _fence_conditions(tuple(state.value for state in fence.states), fence.attempt, fence.owner, fence.unowned)


def _fence_conditions(states: tuple[str, ...], attempt: Any, owner: Any, unowned: bool) -> list[ColumnElement[bool]]:
    """What a fence asks of the task's row: a state among `states`, and this attempt and owner (values, or bind
    parameters in a statement built once) unless None, or no owner. The states are compared one by one, not with
    `in_`: SQLAlchemy expands an IN's list into the SQL text at every execution, even of a statement built once
    (about a fifth of the cost of a task's end on SQLite).

    A fence is checked on a task found by its id, so the state is read without its index (`_not_indexed`): by it,
    both databases read every task in the fence's state (under a burst, hundreds RUNNING), and a batch of ends
    compared each with every ending's row (~1.4 ms a statement on SQLite), where the id finds each at once."""
    state_of = _not_indexed(TASKS.c.state)
    conditions: list[ColumnElement[bool]] = [or_(*(state_of == state for state in states))]
    if attempt is not None:
        conditions.append(TaskRow.attempt == attempt)
    if owner is not None:
        conditions.append(TaskRow.owner == owner)
    if unowned:
        conditions.append(TaskRow.owner.is_(None))
    return conditions


def store_ending(connection: Connection, ending: TaskEnding, with_event: bool) -> tuple[Task, TaskEvent] | None:
    """Stores a handler's end of its task (`TaskContext.succeeding`) in the transaction of the handler's last write,
    as `append_event` stores an update (with its event in the statement, and its notice, when `with_event`:
    PostgreSQL); None, storing nothing, when the fence refuses it or the task is gone. (Such a refusal leaves the
    rest of the transaction as it is: the UPDATE changed nothing.)"""
    if not with_event:
        return store_endings(connection, [ending])[0]
    try:
        return _append(connection, ending.task_id, ending.update, ending.now, ending.fence, with_event=True)
    except (TaskFenced, LookupError):
        return None


def store_endings(connection: Connection, endings: Sequence[TaskEnding],
                  with_event: bool = False) -> builtins.list[tuple[Task, TaskEvent] | None]:
    """`store_ending` of several tasks, each under its own fence (one refused refuses only itself), in order. With
    their events in the statement (PostgreSQL): one statement for all the ends of a shape (`_endings_statement`),
    where each was one of its own. Else (SQLite) a statement each, their events in one insert."""
    if with_event:
        return _store_endings_announced(connection, endings)
    outcomes: dict[int, tuple[Task, TaskEvent] | None] = {}
    for (columns, shape), group in _by_shape(endings).items():
        rows = _inline_endings(connection, columns, shape, group) if len(group) > 1 else None
        for index, ending, _params in group:
            if rows is not None:
                outcomes[index] = ended_task(ending, rows.get(ending.task_id))
                continue
            try:
                outcomes[index] = _append(connection, ending.task_id, ending.update, ending.now, ending.fence)
            except (TaskFenced, LookupError):
                outcomes[index] = None
    ordered = [outcomes[index] for index in range(len(endings))]
    insert_rows(connection, _INSERT_EVENTS, [_event_values(outcome[1]) for outcome in ordered if outcome is not None])
    return ordered


_Group = builtins.list[tuple[int, TaskEnding, dict[str, Any]]]


def _by_shape(endings: Sequence[TaskEnding]) -> dict[tuple[tuple[str, ...], Shape | None], _Group]:
    """The endings (their index, with their `_append_params` with the event's) by the shape of their update: the
    columns it sets, its fence's."""
    shapes: dict[tuple[tuple[str, ...], Shape | None], _Group] = {}
    for index, ending in enumerate(endings):
        params, columns, shape = _append_params(ending.task_id, ending.update, ending.now, ending.fence, True)
        shapes.setdefault((columns, shape), []).append((index, ending, params))
    return shapes


def _inline_endings(connection: Connection, columns: tuple[str, ...], shape: Shape | None,
                    group: _Group) -> dict[str, Any] | None:
    """SQLite: the ends of a shape in one UPDATE ... FROM json_each(...) RETURNING (`_inline_endings_statement`), the
    rows of the tasks it ended by id (a refused one has none); None if a value has no JSON form (bytes: then each
    end is a statement of its own). Each value goes in as its column's type would bind it on SQLite, so what is
    stored is what an UPDATE of its own stores."""
    keys = _ending_keys(columns, shape)[:-3]  # (the event is inserted apart)
    dialect = connection.dialect
    processors = [_ENDING_TYPES.get(key, TASKS.c[key.removeprefix("set_")].type if key.startswith("set_") else None)
                  for key in keys]
    binds = [None if type_ is None else type_.dialect_impl(dialect).bind_processor(dialect) for type_ in processors]
    try:
        rows = json.dumps([[value if bind is None or value is None else bind(value)
                            for value, bind in zip((params[key] for key in keys), binds, strict=True)]
                           for _index, _ending, params in group])
    except (TypeError, ValueError):
        return None
    return {row.id: row for row in connection.execute(_inline_endings_statement(columns, shape), {"endings": rows})}


@functools.cache
def _inline_endings_statement(columns: tuple[str, ...], fence: Shape | None) -> Update:
    """`_append_statement` of any number of tasks whose updates set these columns under a fence of this shape, for
    SQLite (`_inline_endings`): each task's values are an array of `endings`, a JSON array, in the order of
    `_ending_keys` (without the event's). It returns the rows of the tasks it ended."""
    ending = func.json_each(bindparam("endings")).table_valued("value").alias("ending")
    # (json_extract, not `->>`: that needs SQLite 3.38, Ubuntu 22.04's is 3.37; for a scalar they are the same.)
    value = {key: func.json_extract(ending.c.value, f"$[{index}]")
             for index, key in enumerate(_ending_keys(columns, fence)[:-3])}
    conditions = [TaskRow.id == value["task_id"]]
    if fence is not None:
        states, attempt, owner, unowned = fence
        conditions += _fence_conditions(states, value["fence_attempt"] if attempt else None,
                                        value["fence_owner"] if owner else None, unowned)
    return (sql_update(TASKS).where(*conditions)
            .values(last_sequence=TaskRow.last_sequence + 1, **{name: value[f"set_{name}"] for name in columns})
            .returning(*TASKS.c))


def _not_indexed(column: ColumnElement[str]) -> ColumnElement[str]:
    """A text column's value (not null) as neither database looks it up by an index (with '' appended): a
    condition on it is then only checked on the rows the statement's other conditions find."""
    return column.concat(literal_column("''"))


def _store_endings_announced(connection: Connection,
                             endings: Sequence[TaskEnding]) -> builtins.list[tuple[Task, TaskEvent] | None]:
    """`store_endings` with their events and notices in the statement (PostgreSQL): the ends of a shape (the columns
    they set, their fence's) in one statement, their values as arrays; a refused one returns no row."""
    rows: dict[str, Any] = {}
    for (columns, shape), group in _by_shape(endings).items():
        params = rows_as_arrays("ending", [params for _index, _ending, params in group], _ending_keys(columns, shape))
        rows.update((row.id, row) for row in connection.execute(_endings_statement(columns, shape), params))
    return [ended_task(ending, rows.get(ending.task_id)) for ending in endings]


# The types of `_append_params`' parameters that are not a column's value (`set_<column>`).
_ENDING_TYPES = {"task_id": TASKS.c.id.type, "fence_attempt": TASKS.c.attempt.type,
                 "fence_owner": TASKS.c.owner.type, "event_create_time": EVENTS.c.create_time.type,
                 "event_error": EVENTS.c.error.type, "event_part": EVENTS.c.part.type}


def _ending_keys(columns: tuple[str, ...], fence: Shape | None) -> tuple[str, ...]:
    """The parameters of `_append_params` (with its event) for these columns and fence, in `_endings_statement`."""
    fenced = () if fence is None else (("fence_attempt",) if fence[1] else ()) + (("fence_owner",) if fence[2] else ())
    return ("task_id", *(f"set_{name}" for name in columns), *fenced, "event_create_time", "event_error",
            "event_part")


@functools.cache
def _endings_statement(columns: tuple[str, ...], fence: Shape | None) -> Select[Any]:
    """`_append_with_event_statement` of any number of tasks whose updates set these columns under a fence of this
    shape, built once per shape: each task's parameters are its row of `unnested("ending", ...)`. It returns each
    task's row as updated (none if refused or gone), with its notice."""
    types = {**_ENDING_TYPES, **{f"set_{name}": TASKS.c[name].type for name in columns}}
    ending = unnested("ending", [(key, types[key]) for key in _ending_keys(columns, fence)])
    conditions = [TaskRow.id == ending.c.task_id]
    if fence is not None:
        states, attempt, owner, unowned = fence
        conditions += _fence_conditions(states, ending.c.fence_attempt if attempt else None,
                                        ending.c.fence_owner if owner else None, unowned)
    updated = (sql_update(TASKS).where(*conditions)
               .values(last_sequence=TaskRow.last_sequence + 1, **{name: ending.c[f"set_{name}"] for name in columns})
               .returning(*TASKS.c, ending.c.event_create_time, ending.c.event_error, ending.c.event_part)
               .cte("tasks_ended"))
    events = _event_insert(updated, updated.c.event_create_time, updated.c.event_error, updated.c.event_part)
    return (select(*(updated.c[column.key] for column in TASKS.c), notice("task", updated.c.id))
            .add_cte(events.cte("tasks_ended_events")))


def claim_holds(claim: TaskClaim) -> ColumnElement[bool]:
    """True while the task still matches the claim's fence: the condition of a write of what the task works on (a
    story, a video), put in that write's own statement. On PostgreSQL it share-locks the task's row, so a change of
    the task (another worker's claim) either waits for the write's transaction to end, or, committed first, refuses
    the write (the locking read sees the newest row). SQLite has one writer at a time: the statement alone is
    enough."""
    return exists(select(TaskRow.id).where(TaskRow.id == claim.task_id, *_fenced(claim.fence))
                  .with_for_update(read=True))


def claim_conditions(claim: TaskClaim | None) -> list[ColumnElement[bool]]:
    """The conditions of a write made under `claim`: `claim_holds`, or none for a write from outside the task."""
    return [] if claim is None else [claim_holds(claim)]


def write_under_claim(statement: Executable, table: Table, row_id: str,
                      claim: TaskClaim | None) -> Callable[[Connection], None]:
    """A write of what a task works on, row `row_id` of `table` (a story, a video), for `Database.transaction`: one
    statement, its conditions `claim_conditions(claim)`. A write that changed nothing was refused by the fence
    (TaskFenced: the task moved on) or found no row (LookupError)."""
    def write(connection: Connection) -> None:
        if connection.execute(statement).rowcount:
            return
        if claim is not None and connection.scalar(select(table.c.id).where(table.c.id == row_id)) is not None:
            raise TaskFenced(f"{table.name} {row_id}: task {claim.task_id} no longer matches {claim.fence}")
        raise LookupError(row_id)

    return write


def task_rows(new: NewTask) -> list[Any]:
    """The rows of a new task and its first event, for a repository that stores them in its own transaction."""
    return [_task_row(new.task), *(_event_row(event) for event in _first_events(new))]


def insert_task(connection: Connection, new: NewTask) -> None:
    """Inserts a new task and its first event(s) (two statements), in a transaction of the caller's that stores what
    the task works on."""
    insert_rows(connection, _INSERT_TASKS, [_task_values(new.task)])
    insert_rows(connection, _INSERT_EVENTS, [_event_values(event) for event in _first_events(new)])


def task_inserts(events: int, only_if: ColumnElement[bool]) -> tuple[Insert, Insert]:
    """`insert_task`'s two inserts, for a task with `events` first events, with the bind parameters of `task_params`:
    for a caller that makes them part of a statement of its own (a CTE each, on PostgreSQL) and builds that once.
    They insert nothing unless `only_if` holds (a condition on the statement's other parts: what the task works on
    was stored)."""
    # (`_task_values` and `_event_values` set every column.)
    task = insert(TASKS).from_select([column.key for column in TASKS.c], select(
        *(bindparam(f"task_{column.key}", type_=column.type) for column in TASKS.c)).where(only_if))
    rows = [[bindparam(f"event{index}_{column.key}", type_=column.type) for column in EVENTS.c]
            for index in range(events)]
    # (Not `.values()` of several rows: SQLAlchemy caches no statement that holds one, and compiling this one anew
    # took milliseconds.)
    first = insert(EVENTS).from_select([column.key for column in EVENTS.c],
                                       union_all(*(select(*row).where(only_if) for row in rows)))
    return task, first


def task_params(new: NewTask) -> tuple[int, dict[str, Any]]:
    """How many first events the new task has, and the parameters of its `task_inserts`."""
    events = _first_events(new)
    params = {f"task_{name}": value for name, value in _task_values(new.task).items()}
    for index, event in enumerate(events):
        params.update({f"event{index}_{name}": value for name, value in _event_values(event).items()})
    return len(events), params


def _first_events(new: NewTask) -> list[TaskEvent]:
    return [new.first_event] if new.claim_event is None else [new.first_event, new.claim_event]


def _error_json(error: TaskError) -> dict[str, Any]:
    return dataclasses.asdict(error)


def _part_json(part: TaskPart) -> dict[str, Any]:
    return {"type": part.type, "ref": part.ref}


def _error(data: dict[str, Any] | None) -> TaskError | None:
    return TaskError(**data) if data else None


def _task_row(task: Task) -> TaskRow:
    return TaskRow(**_task_values(task))


def _task_values(task: Task) -> dict[str, Any]:
    return dict(
        id=task.id, user_id=task.user_id, kind=task.kind, state=task.state.value, stage=task.stage,
        percent=task.percent, message=task.message, eta=task.eta, target=task.target, params=task.params,
        checkpoint=task.checkpoint, result_type=None, result_payload=None, error=None,
        last_sequence=task.last_sequence, attempt=task.attempt, request_id=task.request_id or None,
        create_time=task.create_time, update_time=task.update_time, start_time=task.start_time,
        end_time=task.end_time, owner=task.owner, heartbeat_time=task.heartbeat_time,
        interruptions=task.interruptions,
    )


def _task(row: TaskRow | Row[Any]) -> Task:
    """The task of an ORM row or of a Core row of the tasks table (the reads), which have the same attributes."""
    return Task(
        id=row.id, user_id=row.user_id, kind=row.kind, state=TaskState(row.state), create_time=row.create_time,
        update_time=row.update_time, stage=row.stage, percent=row.percent, message=row.message, eta=row.eta,
        target=row.target, params=dict(row.params or {}), checkpoint=dict(row.checkpoint or {}),
        result=TaskResult(row.result_type, row.result_payload or b"") if row.result_type else None,
        error=_error(row.error), last_sequence=row.last_sequence, attempt=row.attempt,
        request_id=row.request_id or "", start_time=row.start_time, end_time=row.end_time, owner=row.owner,
        heartbeat_time=row.heartbeat_time, interruptions=row.interruptions or 0,
    )


def _event_row(event: TaskEvent) -> TaskEventRow:
    return TaskEventRow(**_event_values(event))


def _event_values(event: TaskEvent) -> dict[str, Any]:
    return dict(
        task_id=event.task_id, sequence=event.sequence, create_time=event.create_time, state=event.state.value,
        stage=event.stage, percent=event.percent, message=event.message, eta=event.eta,
        error=_error_json(event.error) if event.error else None,
        part=_part_json(event.part) if event.part else None,
    )


def _event(row: Row[Any]) -> TaskEvent:
    return TaskEvent(
        task_id=row.task_id, sequence=row.sequence, create_time=row.create_time, state=TaskState(row.state),
        stage=row.stage, percent=row.percent, message=row.message, eta=row.eta, error=_error(row.error),
        part=TaskPart(str(row.part["type"]), dict(row.part["ref"])) if row.part else None,
    )

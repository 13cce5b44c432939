"""The SQL store on every backend: Alembic migrations and the task, account and media repositories.

Every test takes `database_url`, so each runs on a fresh SQLite file and on a fresh database on
the PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from storyloom.domain.accounts import Accounts, User
from storyloom.domain.errors import Unauthenticated
from storyloom.domain.media import MediaItem
from storyloom.domain.tasks import (
    Task,
    TaskError,
    TaskEvent,
    TaskFence,
    TaskFenced,
    TaskPart,
    TaskResult,
    TaskState,
    TaskUpdate,
)
from storyloom.store.accounts import SqlAccountRepository
from storyloom.store.db import MIGRATIONS, Database
from storyloom.store.media import SqlMediaRepository
from storyloom.store.models import Base, TaskEventRow
from storyloom.store.tasks import SqlTaskRepository
from tests.support.sql_counter import counting_statements, hearing

UTC = dt.UTC
# A fixed, microsecond-precise moment, so round-trips can be compared exactly.
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))
# The tables the first revision creates; later ones add more.
TABLES = {"users", "api_keys", "tasks", "task_events", "media"}
# The full-text search structures the migrations create beside the models: FTS5 tables on SQLite, an expression
# GIN index on PostgreSQL.
SEARCH_TABLE_PREFIX = "memories_fts"


# procrastinate's job queue (PostgreSQL): its tables come from its own schema (migration 0015), not from our models.
NOT_OURS = (SEARCH_TABLE_PREFIX, "procrastinate_")


def model_tables(names: set[str]) -> set[str]:
    return {name for name in names if not name.startswith(NOT_OURS)}


def modelled(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    return not (name or "").startswith(NOT_OURS)


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@pytest.fixture
def tasks(db: Database) -> SqlTaskRepository:
    return SqlTaskRepository(db)


def new_task(user: str = "alice", *, at: dt.datetime = T0, state: TaskState = TaskState.PENDING,
             kind: str = "test.kind", request_id: str = "", **fields: Any) -> tuple[Task, TaskEvent]:
    task = Task(id=fields.pop("id", uuid.uuid4().hex), user_id=user, kind=kind, state=state, create_time=at,
                update_time=at, message="Waiting to start.", last_sequence=1, request_id=request_id, **fields)
    return task, TaskEvent(task.id, 1, at, state, "", 0, "Waiting to start.")


async def add_task(repo: SqlTaskRepository, user: str = "alice", **kwargs: Any) -> Task:
    stored, created = await repo.create(*new_task(user, **kwargs))
    assert created
    return stored


async def count_events(db: Database, task_id: str | None = None) -> int:
    query = select(func.count()).select_from(TaskEventRow)
    if task_id is not None:
        query = query.where(TaskEventRow.task_id == task_id)
    async with db.begin() as session:
        return int(await session.scalar(query) or 0)


# --- migrations --------------------------------------------------------------------------------


async def test_migrating_an_empty_database_creates_every_table_at_the_head_revision(database_url):
    database = Database(database_url)
    try:
        async with database.engine.connect() as conn:
            assert await conn.run_sync(lambda c: set(inspect(c).get_table_names())) == set()
        await database.migrate()
        async with database.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert model_tables(tables) == set(Base.metadata.tables) | {"alembic_version"}
        assert tables >= TABLES
        async with database.engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert versions == [head_revision()]
    finally:
        await database.close()


async def test_the_migrated_schema_matches_the_models(db):
    async with db.engine.connect() as conn:
        differences = await conn.run_sync(lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"include_name": modelled}), Base.metadata))
    assert differences == []


async def test_migrating_an_up_to_date_database_again_changes_nothing(database_url):
    first = Database(database_url)
    await first.migrate()
    await SqlAccountRepository(first).add_user(User("u1", "Ada", T0))
    await first.close()

    again = Database(database_url)  # as a restarted server would
    statements: list[str] = []
    event.listen(again.engine.sync_engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_: statements.append(statement))
    try:
        await again.migrate()
        writes = [s for s in statements if re.match(r"\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE)\b", s, re.I)]
        assert writes == []
        assert any("alembic_version" in s for s in statements), "the second migrate did not even look"
        async with again.engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert versions == [head_revision()]
        assert await SqlAccountRepository(again).get_user("u1") == User("u1", "Ada", T0)
    finally:
        await again.close()


# --- tasks: create, read, append ---------------------------------------------------------------


async def test_a_created_task_and_its_first_event_read_back_as_stored(tasks):
    at = dt.datetime(2026, 3, 1, 14, 0, 0, 654321, tzinfo=PLUS_TWO)  # 12:00 UTC, given in +02:00
    task, first = new_task(at=at, target="stories/s1", params={"steps": 3, "title": "Ünïcode ✓", "nested": {"a": [1]}},
                           request_id="req-1")
    stored, created = await tasks.create(task, first)
    assert created and stored == task

    got = await tasks.get(task.id)
    assert got == task
    assert got.create_time.utcoffset() == dt.timedelta(0) and got.update_time.utcoffset() == dt.timedelta(0)
    assert got.create_time == dt.datetime(2026, 3, 1, 12, 0, 0, 654321, tzinfo=UTC)
    assert got.checkpoint == {} and got.result is None and got.error is None and got.eta is None
    assert await tasks.events_after(task.id, 0, 10) == [first]
    assert await tasks.get("no-such-task") is None


async def test_a_fenced_task_write_is_not_rewritten_at_each_execution(tasks, db):
    """A task's writes under a fence (a claim, a chat reply's end) are statements built once: SQLAlchemy reuses
    their SQL as compiled, with nothing to expand into it per call (an IN of the fence's states was)."""
    task = await add_task(tasks)
    expanded: list[frozenset[Any]] = []

    def heard(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "WITH")):
            expanded.append(frozenset(context.compiled.post_compile_params))

    event.listen(db.engine.sync_engine, "before_cursor_execute", heard)
    try:
        await tasks.append_event(task.id, TaskUpdate(state=TaskState.RUNNING, attempt=1, owner="w"), T0,
                                 TaskFence(states=(TaskState.PENDING,)))
        await tasks.append_event(task.id, TaskUpdate(state=TaskState.SUCCEEDED, end_time=T0), T0,
                                 TaskFence(states=(TaskState.RUNNING,), attempt=1, owner="w"))
        with pytest.raises(TaskFenced):
            await tasks.append_event(task.id, TaskUpdate(message="late"), T0, TaskFence())  # (any live state)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", heard)
    assert len(expanded) == 3 and not any(expanded)


async def test_each_appended_event_takes_the_next_sequence_and_snapshots_the_task(tasks):
    task = await add_task(tasks)
    eta = dt.datetime(2026, 3, 1, 15, 30, 0, 1, tzinfo=PLUS_TWO)
    started = T0 + dt.timedelta(seconds=1)

    running, e2 = await tasks.append_event(task.id, TaskUpdate(state=TaskState.RUNNING, attempt=1, start_time=started,
                                                               message="Started."), T0 + dt.timedelta(seconds=1))
    assert e2.sequence == running.last_sequence == 2
    assert (running.state, running.attempt, running.start_time, running.message) == (
        TaskState.RUNNING, 1, started, "Started.")

    checkpoint = {"done": 2, "ran": [[1, 1], [1, 2]], "note": "ß"}
    progressed, e3 = await tasks.append_event(task.id, TaskUpdate(stage="step-2", percent=40, eta=eta,
                                                                  checkpoint=checkpoint), T0 + dt.timedelta(seconds=2))
    assert e3.sequence == 3
    assert (progressed.stage, progressed.percent, progressed.eta, progressed.checkpoint) == (
        "step-2", 40, eta, checkpoint)
    assert progressed.message == "Started."  # None leaves a field as it was
    assert e3 == TaskEvent(task.id, 3, T0 + dt.timedelta(seconds=2), TaskState.RUNNING, "step-2", 40, "Started.", eta)

    result = TaskResult("google.protobuf.Struct", bytes(range(256)))
    error = TaskError("ABORTED", "SOMETHING_ODD", "An odd thing.", {"step": "3", "why": "ünïcode"})
    ended = T0 + dt.timedelta(seconds=3)
    done, e4 = await tasks.append_event(task.id, TaskUpdate(state=TaskState.FAILED, result=result, error=error,
                                                            end_time=ended, clear_eta=True), ended)
    assert e4.sequence == 4 and e4.error == error and e4.eta is None and e4.state is TaskState.FAILED

    got = await tasks.get(task.id)
    assert got == done
    assert (got.result, got.error, got.checkpoint, got.eta, got.end_time) == (result, error, checkpoint, None, ended)
    assert got.update_time == ended and got.create_time == T0 and got.last_sequence == 4
    assert got.start_time.utcoffset() == got.end_time.utcoffset() == dt.timedelta(0)
    assert await tasks.events_after(task.id, 1, 10) == [e2, e3, e4]


async def test_an_event_keeps_the_part_it_announces_and_only_that_event(tasks):
    task = await add_task(tasks)
    part = TaskPart("SCENE_READY", {"story_id": "s1", "index": 2, "note": "ü"})
    _, announcing = await tasks.append_event(task.id, TaskUpdate(stage="scene_ready", part=part), T0)
    _, after = await tasks.append_event(task.id, TaskUpdate(message="next"), T0)
    assert announcing.part == part and after.part is None
    assert [e.part for e in await tasks.events_after(task.id, 1, 10)] == [part, None]


async def test_an_eta_comes_back_as_the_same_moment_in_utc(tasks):
    task = await add_task(tasks)
    eta = dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30)))
    await tasks.append_event(task.id, TaskUpdate(eta=eta), T0)
    got = await tasks.get(task.id)
    assert got.eta == eta and got.eta.tzinfo is not None and got.eta.utcoffset() == dt.timedelta(0)
    assert got.eta.isoformat() == "2026-03-02T05:29:59.999999+00:00"
    (stored_event,) = await tasks.events_after(task.id, 1, 10)
    assert stored_event.eta == eta


async def test_appending_to_a_missing_task_raises_lookup_error_and_stores_nothing(db, tasks):
    with pytest.raises(LookupError):
        await tasks.append_event("no-such-task", TaskUpdate(message="hello"), T0)
    assert await count_events(db) == 0


async def test_events_after_returns_the_log_after_a_sequence_up_to_a_limit(tasks):
    task = await add_task(tasks)
    for n in range(2, 8):
        await tasks.append_event(task.id, TaskUpdate(percent=n * 10, message=f"m{n}"), T0 + dt.timedelta(seconds=n))
    other = await add_task(tasks)
    await tasks.append_event(other.id, TaskUpdate(message="other"), T0)

    def seqs(events: list[TaskEvent]) -> list[int]:
        return [e.sequence for e in events]

    assert seqs(await tasks.events_after(task.id, 0, 100)) == [1, 2, 3, 4, 5, 6, 7]
    assert seqs(await tasks.events_after(task.id, 3, 100)) == [4, 5, 6, 7]
    assert seqs(await tasks.events_after(task.id, 3, 2)) == [4, 5]
    assert seqs(await tasks.events_after(task.id, 7, 100)) == []
    assert [e.message for e in await tasks.events_after(task.id, 5, 1)] == ["m6"]
    assert {e.task_id for e in await tasks.events_after(task.id, 0, 100)} == {task.id}


# --- tasks: listing ----------------------------------------------------------------------------


async def test_listing_pages_newest_first_through_the_create_time_and_id_cursor(tasks):
    # Two pairs share a create_time, so the id must break the tie for paging to be exact.
    times = [T0, T0 + dt.timedelta(microseconds=1), T0 + dt.timedelta(microseconds=1), T0 + dt.timedelta(seconds=1),
             T0 + dt.timedelta(seconds=1), T0 + dt.timedelta(days=1)]
    created = [await add_task(tasks, at=at, id=f"{i:02d}{uuid.uuid4().hex[:8]}") for i, at in enumerate(times)]
    await add_task(tasks, "bob", at=T0 + dt.timedelta(seconds=1))  # someone else's: never listed
    expected = sorted(created, key=lambda t: (t.create_time, t.id), reverse=True)

    for size in (1, 2, 4, 10):
        pages, after = [], None
        while True:
            page = await tasks.list("alice", states=(), kind="", limit=size, after=after)
            assert len(page) <= size
            pages += page
            if len(page) < size:
                break
            after = (page[-1].create_time, page[-1].id)
        assert [t.id for t in pages] == [t.id for t in expected], f"page size {size}"
    assert await tasks.list("carol", states=(), kind="", limit=10, after=None) == []


async def test_listing_filters_by_state_and_kind(tasks):
    pending = await add_task(tasks, at=T0, kind="story.render")
    running = await add_task(tasks, at=T0 + dt.timedelta(seconds=1), kind="voice.clone")
    await tasks.append_event(running.id, TaskUpdate(state=TaskState.RUNNING), T0)
    failed = await add_task(tasks, at=T0 + dt.timedelta(seconds=2), kind="story.render")
    await tasks.append_event(failed.id, TaskUpdate(state=TaskState.FAILED, end_time=T0), T0)

    async def ids(states: tuple[TaskState, ...] = (), kind: str = "") -> list[str]:
        return [t.id for t in await tasks.list("alice", states=states, kind=kind, limit=10, after=None)]

    assert await ids() == [failed.id, running.id, pending.id]
    assert await ids((TaskState.FAILED,)) == [failed.id]
    assert await ids((TaskState.PENDING, TaskState.RUNNING)) == [running.id, pending.id]
    assert await ids(kind="story.render") == [failed.id, pending.id]
    assert await ids((TaskState.RUNNING,), kind="story.render") == []
    assert await ids((TaskState.SUCCEEDED,)) == []


async def test_live_returns_pending_and_running_tasks_of_every_user_oldest_first(tasks):
    running = await add_task(tasks, "bob", at=T0 + dt.timedelta(seconds=2))
    await tasks.append_event(running.id, TaskUpdate(state=TaskState.RUNNING), T0)
    pending = await add_task(tasks, "alice", at=T0 + dt.timedelta(seconds=1))
    for n, state in enumerate((TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)):
        finished = await add_task(tasks, at=T0 + dt.timedelta(seconds=n))
        await tasks.append_event(finished.id, TaskUpdate(state=state, end_time=T0), T0)

    live = await tasks.live()
    assert [(t.id, t.state) for t in live] == [(pending.id, TaskState.PENDING), (running.id, TaskState.RUNNING)]


# --- tasks: deleting ---------------------------------------------------------------------------


async def test_deleting_a_task_deletes_its_events_and_nothing_else(db, tasks):
    doomed = await add_task(tasks)
    kept = await add_task(tasks)
    for task in (doomed, kept):
        await tasks.append_event(task.id, TaskUpdate(message="more"), T0)

    await tasks.delete(doomed.id)
    assert await tasks.get(doomed.id) is None
    assert await count_events(db, doomed.id) == 0
    assert (await tasks.get(kept.id)).last_sequence == 2
    assert await count_events(db, kept.id) == 2
    await tasks.delete(doomed.id)  # deleting again is harmless


async def test_delete_finished_before_removes_only_tasks_that_ended_before_the_cutoff(db, tasks):
    cutoff = T0 + dt.timedelta(hours=1)
    old = []
    for n, state in enumerate((TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)):
        task = await add_task(tasks)
        await tasks.append_event(task.id, TaskUpdate(state=state, end_time=cutoff - dt.timedelta(minutes=n + 1)), T0)
        old.append(task)
    recent = await add_task(tasks)
    await tasks.append_event(recent.id, TaskUpdate(state=TaskState.SUCCEEDED, end_time=cutoff), T0)  # not before
    live = await add_task(tasks, at=T0 - dt.timedelta(days=30))  # old, but still running
    await tasks.append_event(live.id, TaskUpdate(state=TaskState.RUNNING), T0)

    assert await tasks.delete_finished_before(cutoff) == 3
    for task in old:
        assert await tasks.get(task.id) is None
        assert await count_events(db, task.id) == 0
    assert (await tasks.get(recent.id)).state is TaskState.SUCCEEDED
    assert (await tasks.get(live.id)).state is TaskState.RUNNING
    assert await count_events(db) == 4
    assert await tasks.delete_finished_before(cutoff) == 0


# --- tasks: request_id dedupe ------------------------------------------------------------------


async def test_a_repeated_request_id_from_the_same_user_returns_the_first_task(db, tasks):
    first = await add_task(tasks, request_id="req-7", params={"n": 1})
    again, created = await tasks.create(*new_task(request_id="req-7", params={"n": 2}, at=T0 + dt.timedelta(seconds=5)))
    assert not created
    assert again == first
    assert [t.id for t in await tasks.list("alice", states=(), kind="", limit=10, after=None)] == [first.id]
    assert await count_events(db) == 1


async def test_different_users_may_use_the_same_request_id(tasks):
    alice = await add_task(tasks, "alice", request_id="req-7")
    bob, created = await tasks.create(*new_task("bob", request_id="req-7"))
    assert created and bob.id != alice.id
    assert (await tasks.get(bob.id)).user_id == "bob"


async def test_tasks_without_a_request_id_never_clash(tasks):
    one = await add_task(tasks, request_id="")
    two = await add_task(tasks, request_id="")
    assert one.id != two.id
    assert (await tasks.get(one.id)).request_id == (await tasks.get(two.id)).request_id == ""


async def test_concurrent_creates_with_one_request_id_store_exactly_one_task(tasks):
    results = await asyncio.gather(*(tasks.create(*new_task(request_id="same")) for _ in range(12)))
    assert sorted(created for _, created in results) == [False] * 11 + [True]
    (winner,) = [task for task, created in results if created]
    assert {task.id for task, _ in results} == {winner.id}
    assert [t.id for t in await tasks.list("alice", states=(), kind="", limit=20, after=None)] == [winner.id]


async def test_a_task_id_clash_is_not_mistaken_for_a_repeated_request(tasks):
    first = await add_task(tasks, request_id="req-1")
    with pytest.raises(IntegrityError):
        await tasks.create(*new_task(id=first.id, request_id="req-2"))
    assert (await tasks.get(first.id)).request_id == "req-1"


# --- tasks: concurrent writers -----------------------------------------------------------------


async def test_concurrent_appends_to_one_task_produce_a_gap_free_duplicate_free_sequence(db, tasks):
    task = await add_task(tasks)
    writers = 25  # more than either backend's connection pool holds, so they also queue for connections

    async def write(n: int) -> tuple[Task, TaskEvent]:
        return await tasks.append_event(task.id, TaskUpdate(message=f"writer {n}", percent=n),
                                        T0 + dt.timedelta(microseconds=n))

    results = await asyncio.gather(*(write(n) for n in range(writers)))

    assert sorted(written.sequence for _, written in results) == list(range(2, writers + 2))
    for n, (snapshot, written) in enumerate(results):
        # Each writer's event is the snapshot of its own update, at the sequence it was given.
        assert (written.message, written.percent) == (f"writer {n}", n)
        assert snapshot.last_sequence == written.sequence and snapshot.message == written.message
    stored = await tasks.events_after(task.id, 0, 1000)
    assert [e.sequence for e in stored] == list(range(1, writers + 2))
    assert sorted(e.message for e in stored[1:]) == sorted(f"writer {n}" for n in range(writers))
    final = await tasks.get(task.id)
    assert final.last_sequence == writers + 1
    assert final.message == stored[-1].message  # the row is the last event's snapshot
    assert await count_events(db, task.id) == writers + 1


# --- accounts ----------------------------------------------------------------------------------


async def test_users_read_back_and_are_counted(db):
    accounts = SqlAccountRepository(db)
    assert await accounts.count_users() == 0
    ada = User("u-ada", "Ada Lovelace ✓", dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=PLUS_TWO))
    await accounts.add_user(ada)
    await accounts.add_user(User("u-bob", "Bob", T0))
    assert await accounts.get_user("u-ada") == ada
    assert (await accounts.get_user("u-ada")).create_time.utcoffset() == dt.timedelta(0)
    assert await accounts.get_user("nobody") is None
    assert await accounts.count_users() == 2


async def test_a_key_finds_its_user_until_it_is_revoked(db):
    accounts = SqlAccountRepository(db)
    await accounts.add_user(User("u1", "Ada", T0))
    await accounts.add_key("k1", "u1", "a" * 64, T0)
    await accounts.add_key("k2", "u1", "b" * 64, T0)

    assert await accounts.user_for_key("a" * 64) == "u1"
    assert await accounts.user_for_key("c" * 64) is None

    assert await accounts.revoke_key("a" * 64, T0) is True
    assert await accounts.user_for_key("a" * 64) is None
    assert await accounts.user_for_key("b" * 64) == "u1"  # the user's other key still works
    assert await accounts.revoke_key("a" * 64, T0) is False  # already revoked
    assert await accounts.revoke_key("c" * 64, T0) is False  # no such key


async def test_a_key_s_user_is_one_read_outside_a_transaction(db):
    """A new key's first call waits for its user: one read (on PostgreSQL one round trip in autocommit, where a
    session's BEGIN, the read and its ROLLBACK were three; on SQLite inline), not a session's transaction."""
    accounts = SqlAccountRepository(db)
    await accounts.add_user(User("u1", "Ada", T0))
    await accounts.add_key("k1", "u1", "a" * 64, T0)

    with hearing(db.engine, "begin") as begun, counting_statements(db.engine) as sql:
        found = await accounts.user_for_key("a" * 64)

    assert (found, len(sql.statements), begun) == ("u1", 1, [])


async def test_a_key_hash_is_unique_and_a_key_needs_an_existing_user(db):
    accounts = SqlAccountRepository(db)
    await accounts.add_user(User("u1", "Ada", T0))
    await accounts.add_key("k1", "u1", "a" * 64, T0)
    with pytest.raises(IntegrityError):
        await accounts.add_key("k2", "u1", "a" * 64, T0)
    with pytest.raises(IntegrityError):
        await accounts.add_key("k3", "nobody", "d" * 64, T0)


async def test_accounts_refuse_a_revoked_key_at_once_even_when_it_was_cached(db):
    accounts = Accounts(SqlAccountRepository(db))
    user = await accounts.create_user("Ada")
    key, other = await accounts.create_key(user.id), await accounts.create_key(user.id)
    assert await accounts.authenticate(key) == user.id  # now cached

    assert await accounts.revoke_key(key) is True
    with pytest.raises(Unauthenticated) as refused:
        await accounts.authenticate(key)
    assert refused.value.reason == "API_KEY_INVALID"
    assert await accounts.authenticate(other) == user.id
    assert await accounts.revoke_key(key) is False


# --- media -------------------------------------------------------------------------------------


def media(user: str = "alice", *, parent_id: str | None = None, purpose: str = "", **fields: Any) -> MediaItem:
    values: dict[str, Any] = dict(id=uuid.uuid4().hex, user_id=user, sha256=uuid.uuid4().hex * 2,
                                  content_type="image/png", size_bytes=5 * 1024 ** 3, create_time=T0,
                                  width=640, height=480, parent_id=parent_id, purpose=purpose)
    values.update(fields)
    return MediaItem(**values)


async def test_media_reads_back_with_its_renditions(db):
    repo = SqlMediaRepository(db)
    picture = media(create_time=dt.datetime(2026, 3, 1, 14, 0, tzinfo=PLUS_TWO))
    assert await repo.add(picture, "") == (picture, True)
    thumbnail = media(parent_id=picture.id, purpose="thumbnail", width=64, height=48, size_bytes=900)
    preview = media(parent_id=picture.id, purpose="preview", width=320, height=240, size_bytes=9000)
    for rendition in (thumbnail, preview):
        assert await repo.add(rendition, "") == (rendition, True)
    audio = media(content_type="audio/L16;rate=16000", width=None, height=None, duration_ms=1500,
                  sample_rate_hertz=16000, channel_count=1)
    await repo.add(audio, "")

    got = await repo.get(picture.id)
    assert got == dataclasses.replace(picture, renditions=(preview, thumbnail))  # ordered by purpose
    assert got.create_time == dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert got.create_time.utcoffset() == dt.timedelta(0)
    assert got.size_bytes == 5 * 1024 ** 3  # past 32 bits
    assert await repo.get(thumbnail.id) == thumbnail  # a rendition knows its parent, and has none of its own
    assert await repo.get(audio.id) == audio
    assert await repo.get("no-such-media") is None


async def test_a_rendition_of_missing_media_is_refused(db):
    repo = SqlMediaRepository(db)
    with pytest.raises(IntegrityError):
        await repo.add(media(parent_id="no-such-media", purpose="thumbnail"), "")
    with pytest.raises(IntegrityError):
        await repo.add(media(parent_id="no-such-media", purpose="thumbnail"), "req-1")


async def test_a_repeated_media_request_id_returns_the_first_item_with_its_renditions(db):
    repo = SqlMediaRepository(db)
    first = media()
    assert await repo.add(first, "upload-1") == (first, True)
    thumbnail = media(parent_id=first.id, purpose="thumbnail")
    await repo.add(thumbnail, "")

    again, created = await repo.add(media(sha256="f" * 64), "upload-1")
    assert not created
    assert again == dataclasses.replace(first, renditions=(thumbnail,))

    bobs, created = await repo.add(media("bob"), "upload-1")  # another user may reuse it
    assert created and bobs.id != first.id
    other, created = await repo.add(media(), "upload-2")
    assert created and other.id != first.id

"""PostgreSQL's hot one-statement writes straight to the driver (`Database.direct`): a chat send and the chunk writer's
chunks. Each returns the rows SQLAlchemy's execution of the same statement and parameters returns (stored, refused,
failed alike), runs no SQLAlchemy execution (still heard by the statement listeners), and a statement whose
connection the server ended runs once more on a new one. One at a time, they keep to a connection of their own
without a pool checkout each; one that comes while it is busy takes one of the pool's."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import Integer, String, bindparam, column, event, select, text, values
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql import Executable

from storyloom.domain.conversations import MessageQuota, QuotaExceeded, Sendable
from storyloom.domain.errors import FailedPrecondition
from storyloom.store.db import Database
from tests.support.conversations import T0, conversation_of, reply_task
from tests.support.sql_counter import counting_statements

pytestmark = pytest.mark.postgres


@dataclasses.dataclass
class Compared:
    """What a statement returned (or raised) through SQLAlchemy, and straight to the driver."""

    statement: Executable
    through_sqlalchemy: list[tuple[Any, ...]] | BaseException
    direct: list[tuple[Any, ...]] | BaseException | None = None


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """`db` (the integration tests' fresh database) on PostgreSQL only: `direct` is PostgreSQL's."""
    return postgres_url


def comparing(db: Database) -> list[Compared]:
    """Runs every statement `db.direct` is given through SQLAlchemy first, in a transaction rolled back (so the
    direct run finds the database as it was), and records both outcomes."""
    seen: list[Compared] = []
    direct = db.direct

    async def both(statement: Executable, params: Mapping[str, Any]) -> list[Any]:
        async with db.engine.connect() as connection:
            transaction = await connection.begin()
            try:
                rows: list[tuple[Any, ...]] | BaseException = [
                    tuple(row) for row in (await connection.execute(statement, params)).all()]
            except DBAPIError as exc:
                rows = exc
            await transaction.rollback()
        compared = Compared(statement, rows)
        seen.append(compared)
        try:
            got = await direct(statement, params)
        except DBAPIError as exc:
            compared.direct = exc
            raise
        compared.direct = [tuple(row) for row in got]
        return got

    db.direct = both  # type: ignore[method-assign]
    return seen


def same(compared: Compared) -> None:
    if isinstance(compared.through_sqlalchemy, BaseException):
        assert isinstance(compared.direct, BaseException), compared
        assert type(compared.direct) is type(compared.through_sqlalchemy)
        assert type(compared.direct.orig) is type(compared.through_sqlalchemy.orig)  # type: ignore[attr-defined]
    else:
        assert compared.direct == compared.through_sqlalchemy
        assert compared.direct, "a statement that returned nothing compares nothing"


async def test_a_send_and_its_chunks_return_what_sqlalchemy_returns_stored_refused_or_failed(db):
    repo = await conversation_of(db, "alice")
    seen = comparing(db)
    quota = MessageQuota("alice", 2, T0 - dt.timedelta(minutes=1))

    _conversation, _user, reply = await repo.add_exchange(
        "alice-chat", "one", reply_task(db, "alice"), "reply-1", "req-1", T0, quota=quota, accept=Sendable("alice"))
    await repo.append_chunks([(reply.id, 1, "Once upon a time."), (reply.id, 2, " An otter.")])
    await repo.add_exchange("alice-chat", "two", reply_task(db, "alice"), "reply-2", "", T0, title="Otters")
    with pytest.raises(QuotaExceeded):  # refused: the conversation as it was, and the quota's count
        await repo.add_exchange("alice-chat", "three", reply_task(db, "alice"), "reply-3", "", T0, quota=quota)
    with pytest.raises(IntegrityError):  # failed: that reply is there already
        await repo.add_exchange("alice-chat", "four", reply_task(db, "alice"), "reply-1", "", T0)
    with pytest.raises(IntegrityError):
        await repo.append_chunks([(reply.id, 2, " Again.")])
    await repo.update("alice-chat", status="ARCHIVED")
    with pytest.raises(FailedPrecondition):
        await repo.add_exchange("alice-chat", "five", reply_task(db, "alice"), "reply-5", "", T0,
                                accept=Sendable("alice"))

    assert len(seen) == 7
    for compared in seen:
        same(compared)
    stored = await repo.get("alice-chat")
    assert stored is not None and (stored.message_count, stored.title) == (4, "Otters")
    assert await repo.chunks("reply-1", 0) == ["Once upon a time.", " An otter."]


async def test_a_send_and_a_chunk_run_no_sqlalchemy_execution_and_are_still_heard(db):
    repo = await conversation_of(db, "bob")
    executions: list[object] = []

    def executed(*args: Any) -> None:
        executions.append(args[1])

    assert db._autocommit is not None
    event.listen(db._autocommit.sync_engine, "before_execute", executed)
    try:
        with counting_statements(db.engine) as sql:
            _conversation, _user, reply = await repo.add_exchange(
                "bob-chat", "one", reply_task(db, "bob"), "reply-1", "req-1", T0,
                quota=MessageQuota("bob", 10, T0 - dt.timedelta(minutes=1)), accept=Sendable("bob"))
            await repo.append_chunks([(reply.id, 1, "Once upon a time.")])
    finally:
        event.remove(db._autocommit.sync_engine, "before_execute", executed)

    assert executions == []
    assert len(sql.statements) == 2, sql.statements


async def test_a_statement_whose_connection_the_server_ended_runs_once_more_on_a_new_one(db):
    """The first run ends its own connection (as a restart of the server would, before the pool heard of it); the
    second, on a new connection, returns. One that ends every connection it is given fails on the second."""
    await db.transaction(lambda connection: connection.execute(text("CREATE SEQUENCE runs")), one_statement=True)
    ends_first_run = text("SELECT CASE WHEN nextval('runs') = 1 THEN pg_terminate_backend(pg_backend_pid()) "
                          "ELSE true END AS survived, pg_backend_pid() AS pid")

    rows = await db.direct(ends_first_run, {})

    assert [row.survived for row in rows] == [True]
    assert (await db.fetch(text("SELECT last_value FROM runs")))[0][0] == 2
    with pytest.raises(DBAPIError) as failed:
        await db.direct(text("SELECT pg_terminate_backend(pg_backend_pid())"), {})
    assert failed.value.connection_invalidated
    assert (await db.direct(text("SELECT 1 AS one"), {}))[0].one == 1  # and the pool goes on


async def test_a_statement_sqlalchemy_must_expand_per_call_goes_through_it(db):
    numbers = values(column("n", Integer), column("name", String), name="numbers").data(
        [(1, "one"), (2, "two"), (3, "x")])
    expanding = select(numbers.c.name).where(numbers.c.n.in_(bindparam("wanted", expanding=True)))
    unnamed = select(numbers.c.n.label("_n"), numbers.c.n.label("n2")).where(numbers.c.n == bindparam("wanted"))

    assert [row.name for row in await db.direct(expanding, {"wanted": [1, 3]})] == ["one", "x"]
    assert [tuple(row) for row in await db.direct(unnamed, {"wanted": 2})] == [(2, 2)]


async def test_statements_keep_one_connection_and_one_that_comes_while_it_is_busy_takes_another(db):
    """One after another, statements take no connection from the pool (a checkout and a return each cost the event
    loop more than the statement's own work); one that comes while the kept connection runs a statement does, as
    the driver runs one statement a connection at a time. One whose connection the server ended meanwhile runs."""
    assert db._autocommit is not None
    pid = text("SELECT pg_backend_pid() AS pid")
    kept = (await db.direct(pid, {}))[0].pid
    checkouts: list[object] = []
    sent = asyncio.Event()

    def checked_out(*_args: Any) -> None:
        checkouts.append(None)

    def heard(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "pg_advisory_lock" in statement:
            sent.set()

    event.listen(db._autocommit.sync_engine, "checkout", checked_out)
    event.listen(db._autocommit.sync_engine, "before_cursor_execute", heard)
    try:
        assert [(await db.direct(pid, {}))[0].pid for _ in range(3)] == [kept] * 3
        assert checkouts == []

        async with db.engine.connect() as holder:  # holds the lock the first statement waits for
            await holder.execute(text("SELECT pg_advisory_lock(15)"))
            waiting = asyncio.ensure_future(db.direct(text(
                "SELECT pg_advisory_lock(15) IS NULL AS locked, pg_backend_pid() AS pid"), {}))
            await sent.wait()
            meanwhile = (await db.direct(pid, {}))[0].pid
            await holder.execute(text("SELECT pg_advisory_unlock(15)"))
            blocked = (await waiting)[0]
        assert blocked.pid == kept and meanwhile != kept
        assert len(checkouts) == 1

        kept = (await db.direct(pid, {}))[0].pid  # (the one that ran meanwhile, free first, is kept now)
        async with db.engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": kept})
            await other.commit()
        assert (await db.direct(text("SELECT 1 AS one"), {}))[0].one == 1
    finally:
        event.remove(db._autocommit.sync_engine, "checkout", checked_out)
        event.remove(db._autocommit.sync_engine, "before_cursor_execute", heard)

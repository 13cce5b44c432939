"""The database: an async engine for SQLite (default) or PostgreSQL, migrated by Alembic at start.

Every transaction is short and awaits nothing but the database, and a cancelled caller never cuts one short: see
`completes_when_cancelled`, which every repository class wears.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import inspect
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    ARRAY,
    BindParameter,
    Insert,
    Table,
    bindparam,
    column,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy import inspect as orm_state
from sqlalchemy.engine import Connection, CursorResult, Engine, Row, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable
from sqlalchemy.sql.expression import TableValuedAlias
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import await_, greenlet_spawn

from storyloom.store.faults import fault_point

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"

# How long a SQLite writer waits for another's transaction to end. Transactions last milliseconds, so this is only
# reached when something is wrong; it is the most one write may wait before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL ends a session left idle inside a transaction this long, so a leaked one cannot hold row locks for ever.
POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000

# How many inline commits (a few pages each) between two checkpoints of the write-ahead log: about the 1000 pages
# after which SQLite would do one itself.
CHECKPOINT_EVERY_COMMITS = 200
# The most PostgreSQL connections of a process's pools: the main one and the autocommit one (hot reads, one-statement
# writes). Each keeps all it opens: with connections over a smaller size (closed on their return whenever that many
# were idle), a busy server opened and closed about a thousand for 500 chat replies, each a TCP connection, a login
# and a backend PostgreSQL starts.
POSTGRES_POOL_SIZE = 20
POSTGRES_AUTOCOMMIT_POOL_SIZE = 15

T = TypeVar("T")
C = TypeVar("C", bound=type)


async def run_to_completion(work: Awaitable[T]) -> T:
    """Awaits `work` to its end even if the caller is cancelled meanwhile, then passes the cancellation on.

    A database call cut short by a cancellation leaves its connection mid-statement: SQLAlchemy then discards the
    connection, and an SQLite connection closed while a statement is still open stays alive as a "zombie" holding
    its write lock until that statement is garbage-collected, which can take minutes (every other writer fails with
    "database is locked" meanwhile). Letting the short transaction finish (commit, or roll back on error) before the
    caller sees its CancelledError keeps every connection clean; the wait is bounded by the transaction itself.
    """
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: the caller was cancelled and no longer wants the outcome
        raise cancelled
    return task.result()


def completes_when_cancelled(cls: C) -> C:
    """Class decorator for repositories: each public coroutine method runs to completion when its caller is
    cancelled (`run_to_completion`), so no transaction is ever cut short by a cancellation. Methods marked
    `one_fetch` or `one_transaction` are left as they are: `Database.fetch` and `Database.transaction` complete by
    themselves."""
    for name, method in list(vars(cls).items()):
        if (not name.startswith("_") and inspect.iscoroutinefunction(method)
                and not getattr(method, "_completes_by_itself", False)):
            setattr(cls, name, _completing(method))
    return cls


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def one_fetch(method: F) -> F:
    """Marks a repository method whose only database work is one `Database.fetch`. The hot reads wear it: they
    then cost no task of their own per call (`run_to_completion` makes one), and on SQLite none at all."""
    method._completes_by_itself = True  # type: ignore[attr-defined]
    return method


def one_transaction(method: F) -> F:
    """Marks a repository method whose only database work is one `Database.transaction`, awaited last. The hot writes
    wear it: on SQLite they then run inline with no task of their own (`run_to_completion` made one per call, and
    two more passes of the event loop before the caller went on)."""
    method._completes_by_itself = True  # type: ignore[attr-defined]
    return method


def _completing(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(method)
    async def completing(*args: Any, **kwargs: Any) -> T:
        return await run_to_completion(method(*args, **kwargs))

    return completing


async def changed_rows(session: AsyncSession, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE changed. (The session returns a CursorResult for those, but its type says
    only Result, which has no rowcount.)"""
    result = await session.execute(statement)
    return cast("CursorResult[Any]", result).rowcount


# SQLite's `synchronous` levels a setting may choose: NORMAL (in WAL mode) loses nothing to a crash of the process,
# only the last commits to a power loss; FULL loses nothing to either, at an fsync per commit.
SQLITE_SYNCHRONOUS = ("NORMAL", "FULL")


class Database:
    def __init__(self, url: str, sqlite_synchronous: str = "NORMAL"):
        if sqlite_synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {}
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            options.update(connect_args={"factory": RollbackOnCloseConnection})
        else:
            # No pool_pre_ping: with asyncpg it costs three round trips a checkout (BEGIN, a ping, ROLLBACK), the
            # most of a one-statement write. A connection the server closed (a restart, a terminated backend) is
            # known closed without asking (`_closed_on_checkout`), and `transaction` takes a new one when its
            # connection dies before the commit.
            options.update(pool_size=POSTGRES_POOL_SIZE, max_overflow=0, connect_args={"server_settings": {
                "idle_in_transaction_session_timeout": str(POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS)}})
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", functools.partial(_sqlite_pragmas, sqlite_synchronous))
        else:
            event.listen(self.engine.sync_engine, "checkout", _closed_on_checkout)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite's hot reads (`fetch`) run inline on the event loop, on one read-only connection: a short indexed
        # read takes microseconds there, where a statement through the async engine (pool checkout, aiosqlite's
        # thread hops, the reset on return) costs about a millisecond of CPU. In WAL mode a reader does not wait
        # for the writer; in the rare moment it would (busy), the read goes the threaded way instead.
        self._inline: Engine | None = None
        if self.is_sqlite and self.url.database and self.url.database != ":memory:":
            self._inline = self._inline_engine(_inline_pragmas)
        # PostgreSQL's hot reads, and the writes of one statement (`transaction(one_statement=True)`), take their
        # own small pool in autocommit, unpinged: through the main pool a read cost BEGIN, the query and ROLLBACK,
        # and a write BEGIN, the write and COMMIT; here each costs one round trip, and nothing to reset on return
        # (no transaction). A read that finds its connection dead is retried once on a new one (`fetch`).
        self._autocommit: AsyncEngine | None = None
        if not self.is_sqlite:
            # Last in, first out: after a burst opened the whole pool, the statements of a quieter moment keep to the
            # connection just used, whose session has their prepared statements and plans (a chat send's first on a
            # connection took ~4 ms on the server, its next four ~1 ms, then 0.5 ms), where first in, first out
            # spread them over every connection the burst opened.
            self._autocommit = create_async_engine(
                self.url, pool_size=POSTGRES_AUTOCOMMIT_POOL_SIZE, max_overflow=0, isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None, pool_use_lifo=True, connect_args=options["connect_args"])
            event.listen(self._autocommit.sync_engine, "before_cursor_execute", self._heard_inline)
            event.listen(self._autocommit.sync_engine, "checkout", _closed_on_checkout)
        # PostgreSQL's hot one-statement writes (`direct`, each statement compiled once for the driver: `_direct_of`)
        # run on the connection kept for them when it is free (`_run_direct`).
        self._direct_connection: Connection | None = None
        self._writers: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self.is_sqlite else contextlib.nullcontext())
        # SQLite's hot writes (`transaction`) run inline too, on a connection of their own, for the same reason: a
        # send's five statements took about 4 ms through the async engine and take a tenth of that inline. Only where
        # a commit does not wait on the disk (WAL with synchronous=NORMAL: it fsyncs only when it checkpoints, which
        # this connection leaves to `_checkpoint` in a thread); with FULL every commit fsyncs, so they take the
        # threaded way. This process's writers take turns (`_writers`), so only another process can make it wait.
        self._inline_writer: Engine | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._inline_commits = 0
        self._writing: Connection | None = None
        if self._inline is not None and sqlite_synchronous == "NORMAL":
            self._inline_writer = self._inline_engine(_inline_writer_pragmas)

    def _inline_engine(self, pragmas: Callable[[Any, Any], None]) -> Engine:
        """An engine whose statements run on the event loop: pysqlite on one connection, set up by `pragmas`.
        Statement listeners on the async engine (tests count statements there) hear its statements too."""
        engine = create_engine(self.url.set(drivername="sqlite+pysqlite"), poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
        event.listen(engine, "connect", pragmas)
        event.listen(engine, "before_cursor_execute", self._heard_inline)
        return engine

    def pool_status(self) -> dict[str, int]:
        """The connection pool now: its size, connections checked out, idle in it, and over its size."""
        pool = self.engine.pool
        status = {"checked_out": 0, "idle": 0, "overflow": 0, "size": 0}
        for name, attribute in (("checked_out", "checkedout"), ("idle", "checkedin"), ("overflow", "overflow"),
                                ("size", "size")):
            read = getattr(pool, attribute, None)
            if callable(read):
                status[name] = max(0, int(read()))
        return status

    async def migrate(self) -> None:
        """Brings the schema to the newest Alembic revision."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        if self._checkpointing is not None:
            await self._checkpointing
        if self._writing is not None:
            self._writing.close()
        if self._inline_writer is not None:
            self._inline_writer.dispose()
        if self._inline is not None:
            self._inline.dispose()
        if self._direct_connection is not None:
            kept, self._direct_connection = self._direct_connection, None
            await greenlet_spawn(kept.close)
        if self._autocommit is not None:
            await self._autocommit.dispose()
        await self.engine.dispose()

    def _heard_inline(self, *args: Any) -> None:
        """Passes a statement of the inline (SQLite) or autocommit (PostgreSQL) engine to the main engine's
        listeners."""
        self.engine.sync_engine.dispatch.before_cursor_execute(*args)

    def begin(self) -> AsyncSession:
        return self.session()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that writes, committed at the end of the block. On SQLite the writes of this
        process take turns here: SQLite has one writer at a time anyway, and a writer waiting on this lock starts
        as soon as the one before it ends, where one waiting on the database's lock sleeps in its busy handler
        (up to 100 ms a nap). Do not open another write inside the block."""
        async with self._writers, self.session() as session, session.begin():
            yield session

    async def transaction(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """Runs `work` (Core statements on a synchronous connection, nothing else: it may run twice) in one write
        transaction, committed when it returns and rolled back if it raises. On SQLite it runs inline on the event
        loop where it can (see `__init__`): one call instead of a thread hop or more per statement; when the database
        is busy (another process writes), and elsewhere, on a connection of the async engine.

        `one_statement`: `work` writes in one statement (an executemany counts as one: asyncpg makes it atomic),
        and may only read after it; on PostgreSQL that statement is then its own transaction (autocommit): one round
        trip instead of three (BEGIN, it, COMMIT).

        It completes when its caller is cancelled (the caller hears of it after the commit or the rollback), so a
        repository method whose only database work it is needs no `run_to_completion` of its own
        (`one_transaction`)."""
        if one_statement and self._autocommit is not None:
            return await run_to_completion(self._autocommitted(work))
        # A caller cancelled while it waits for its turn has started nothing; the inline transaction awaits nothing
        # (no cancellation can cut it short), and the threaded one runs to completion.
        async with self._writers:
            if self._inline_writer is not None:
                try:
                    inline = self._inline_connection()
                    with inline.begin():
                        done = work(inline)
                except OperationalError as exc:  # busy: never wait on the event loop (nothing was stored)
                    if not _is_busy(exc):
                        raise
                else:
                    self._checkpoint_if_due()
                    return done
            return await run_to_completion(self._threaded(work))

    async def _autocommitted(self, work: Callable[[Connection], T]) -> T:
        assert self._autocommit is not None
        return await greenlet_spawn(_on_a_connection, self._autocommit.sync_engine, work)

    async def direct(self, statement: Executable, params: Mapping[str, Any]) -> list[Any]:
        """PostgreSQL: one statement (built once) in autocommit, its own transaction, as `transaction(...,
        one_statement=True)` runs it, and its rows (attributes of its columns, no `_mapping`). It goes straight to
        the pooled connection's asyncpg connection, as the positional SQL and the parameters' and columns' processing
        SQLAlchemy compiled once: SQLAlchemy's execution around a statement (an execution context, the parameters'
        processing, the adapted cursor, the result's set-up) cost a chat send and its first chunk ~0.3-0.5 ms of the
        event loop each on the way to the first text. Errors are SQLAlchemy's (mapped, a dead connection
        invalidated, with the pool's connections of then); a statement SQLAlchemy must expand per call goes
        through it. It completes when its caller is cancelled.

        A statement whose connection turns out dead runs once more on a new one: only for statements that cannot
        store anything twice (each row they write has a key the caller gave; if the connection died after the
        commit, which is rare but possible, the second run fails on those keys instead)."""
        assert self._autocommit is not None
        engine = self._autocommit.sync_engine
        compiled = _direct_of(statement, engine.dialect)
        if not compiled.sql:  # (not one the driver can take as it is)
            return await self.transaction(lambda connection: list(connection.execute(statement, params).all()),
                                          one_statement=True)
        arguments = compiled.arguments(params)
        return await _once_more_if_dead(
            lambda: run_to_completion(greenlet_spawn(self._run_direct, engine, compiled, arguments)))

    def _run_direct(self, engine: Engine, compiled: _Direct, arguments: list[Any]) -> list[Any]:
        """`_direct_on` on the connection kept checked out for direct statements, when no other one runs on it; else
        on one of the pool's, kept in its place if there is none (a checkout and a return through the pool cost a
        chat's send and its first chunk ~0.1 ms of the event loop each). One the server closed is let go unused,
        as a checkout refuses it (`_closed_on_checkout`); one that failed as dead is invalidated by `_direct_on`."""
        connection, self._direct_connection = self._direct_connection, None
        if connection is not None:
            driver: Any = None if connection.invalidated else connection.connection.driver_connection
            if driver is None or driver.is_closed():
                connection.invalidate()
                connection.close()
                connection = None
        if connection is None:
            connection = engine.connect()
        try:
            return _direct_on(connection, compiled, arguments)
        finally:
            if self._direct_connection is None and not connection.invalidated and not connection.closed:
                self._direct_connection = connection
            else:
                connection.close()

    async def _threaded(self, work: Callable[[Connection], T]) -> T:
        for retry in (True, False):
            async with self.engine.connect() as connection:
                await connection.begin()
                try:
                    done = await connection.run_sync(work)
                except DBAPIError as exc:
                    # The connection died before the commit (the server restarted, or ended it): nothing was
                    # stored, and the pool was emptied of the connections it had then. Once more on a new one.
                    if retry and exc.connection_invalidated:
                        continue
                    raise
                await connection.commit()
                return done
        raise AssertionError("unreachable")  # (the last try returns or raises)

    def _inline_connection(self) -> Connection:
        """The inline writer's connection, kept open between transactions (a checkout and a reset each cost more
        than the statements of a small transaction)."""
        assert self._inline_writer is not None
        if self._writing is None or self._writing.closed or self._writing.invalidated:
            self._writing = self._inline_writer.connect()
        return self._writing

    def _checkpoint_if_due(self) -> None:
        """Copies the write-ahead log into the database in a thread every so many inline commits (the inline writer
        never does it on the event loop: it fsyncs). The threaded writers still do it on their own as well."""
        self._inline_commits += 1
        if self._inline_commits % CHECKPOINT_EVERY_COMMITS or self._checkpointing is not None:
            return
        self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint(), name="sqlite-checkpoint")

    async def _checkpoint(self) -> None:
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the next commit past the threshold tries again
            log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            self._checkpointing = None

    async def fetch(self, statement: Executable, params: Mapping[str, Any] | None = None) -> list[Row[Any]]:
        """The rows of one read-only statement, on a pooled connection without an ORM session: the hot reads
        (Get/List of stories, tasks, media) use this, one statement each. Hot statements are built once, with
        `bindparam`s filled from `params`: SQLAlchemy then reuses the compiled form and its result map as they
        are, where a statement built per call costs more to build, key and map than SQLite takes to run it."""
        if self._inline is not None:
            try:
                with self._inline.connect() as inline:
                    return list(inline.execute(statement, params).all())
            except OperationalError as exc:  # busy: never wait on the event loop
                if not _is_busy(exc):
                    raise
        return await run_to_completion(self._fetch(statement, params))

    async def _fetch(self, statement: Executable, params: Mapping[str, Any] | None) -> list[Row[Any]]:
        engine = (self._autocommit or self.engine).sync_engine

        def read(connection: Connection) -> list[Row[Any]]:
            return list(connection.execute(statement, params).all())

        return await _once_more_if_dead(lambda: greenlet_spawn(_on_a_connection, engine, read))

    async def insert_once(self, rows: Sequence[Any], request_id: str | None, fault: str = "") -> str | None:
        """Inserts `rows` in one transaction (in order, so foreign keys resolve), the first of
        which carries `user_id` and `request_id` columns unique together (AIP-155).

        Returns None when inserted. When that request id was used before, inserts nothing and
        returns the id of the row that holds it, so a retried create returns the first result.

        `fault` names the fault point between the first row and the rest (see `store.faults`), where tests kill
        the process to show that a crash there leaves nothing half-made.
        """
        first = rows[0]

        def insert_rows(connection: Connection) -> None:
            for index, row in enumerate(rows):
                table, values = _insert_values(row)
                connection.execute(insert(table), [values])
                if index == 0 and fault:
                    fault_point(fault)

        try:
            # One row (a conversation, a story...): one statement, on PostgreSQL its own transaction, one round trip
            # where BEGIN, the INSERT and COMMIT were three.
            await self.transaction(insert_rows, one_statement=len(rows) == 1)
        except IntegrityError:
            if not request_id:
                raise
            model = type(first)
            async with self.session() as session:
                existing = await session.scalar(select(model.id).where(
                    model.user_id == first.user_id, model.request_id == request_id))
            if existing is None:
                raise
            return str(existing)
        return None


class RollbackOnCloseConnection(sqlite3.Connection):
    """An SQLite connection that rolls back before it closes.

    sqlite3 closes a connection that still has an unfinished statement (a SELECT whose rows were not all read when
    its caller was cancelled) as a zombie that keeps its open transaction, and so the database's write lock, until
    the statement object is freed. Rolling back first ends the transaction and releases the lock at once.
    """

    def close(self) -> None:
        try:
            if self.in_transaction:
                self.rollback()
        finally:
            super().close()


def bound_values(table: Table, *columns: str) -> dict[str, BindParameter[Any]]:
    """`.values()` of a hot write statement built once: each column set from the parameter `set_<column>`, processed
    as its column's type. (A statement built anew per call costs SQLAlchemy its cache key, a walk of the whole
    statement, each time: 0.5 ms for the claim of a chat send, against 0.06 ms when built once.)"""
    return {name: bindparam(f"set_{name}", type_=table.c[name].type) for name in columns}


def unnested(name: str, columns: Sequence[tuple[str, TypeEngine[Any]]]) -> TableValuedAlias:
    """PostgreSQL: rows given as one array parameter a column (`<name>_<column>`, a list of the column's values, one
    a row), as a derived table `name` with those columns and types: a statement built once then writes or joins
    any number of rows (`rows_as_arrays` makes the parameters)."""
    return (func.unnest(*(bindparam(f"{name}_{key}", type_=ARRAY(type_)) for key, type_ in columns))
            .table_valued(*(column(key, type_) for key, type_ in columns)).render_derived(name))


def rows_as_arrays(name: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, list[Any]]:
    """The parameters of `unnested(name, ...)` for `rows` (each with a value of every key)."""
    return {f"{name}_{key}": [row[key] for row in rows] for key in keys}


def insert_rows(connection: Connection, statement: Insert, rows: Sequence[Mapping[str, Any]]) -> None:
    """Runs `statement`, an INSERT built once (`insert(table)`), for `rows` (each with the same columns) in the
    transaction of `connection`. On SQLite's inline writer (pysqlite) it goes straight to the DBAPI cursor, as the
    SQL and the parameters' processing SQLAlchemy compiled once for those columns: SQLAlchemy's execution around it
    (an execution context, a cache look-up, the parameters' processing and the result's set-up, per call) cost about
    40 us a statement, twice what SQLite takes to insert a row or two, and a chat reply's hot writes run five such
    inserts on the event loop. Elsewhere, and for rows that leave a column to its default, through SQLAlchemy. The
    statement listeners hear it either way (tests count statements)."""
    if not rows:
        return
    compiled = (_inline_insert(statement, tuple(rows[0]), connection.dialect)
                if connection.dialect.driver == "pysqlite" else None)
    if compiled is None:
        connection.execute(statement, list(rows))
        return
    sql, names, processors = compiled
    params = [tuple(value if process is None else process(value)
                    for value, process in zip((row[name] for name in names), processors, strict=True))
              for row in rows]
    many = len(params) > 1
    cursor = connection.connection.cursor()
    try:
        connection.dispatch.before_cursor_execute(connection, cursor, sql, params if many else params[0], None, many)
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params[0])
    except sqlite3.Error as exc:  # as SQLAlchemy raises it (IntegrityError, OperationalError...)
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error, dialect=connection.dialect) from exc
    finally:
        cursor.close()


@functools.cache
def _inline_insert(statement: Insert, columns: tuple[str, ...],
                   dialect: Any) -> tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...]] | None:
    """`insert_rows`' SQL for these columns, its parameters' names in order and each one's processing (None: as it
    is); None if the statement has parameters of other columns (defaults, which SQLAlchemy fills in), or where
    SQLAlchemy's table of processing (not public) is not there or has a parameter's as more than one function."""
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    names = tuple(compiled.positiontup or ())
    if not set(names) <= set(columns):
        return None
    processors = getattr(compiled, "_bind_processors", None)  # (what SQLAlchemy's execution applies to each one)
    if processors is None:
        return None
    applied = [processors.get(name) for name in names]
    if not all(process is None or callable(process) for process in applied):
        return None
    return compiled.string, names, tuple(cast("Callable[[Any], Any] | None", process) for process in applied)


def _on_a_connection(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work` on a connection of `engine`'s pool, checked out and returned within it: run by `greenlet_spawn`, the
    checkout, the statement and the return take one greenlet, where the async engine's `connect()`, `run_sync` (or
    `execute`) and `close()` took one each, and an async connection object (about 0.1 ms of the event loop a
    statement, on the way to every chat reply's first text)."""
    with engine.connect() as connection:
        return work(connection)


@dataclasses.dataclass(frozen=True)
class _Direct:
    """A statement as `Database.direct` runs it: its positional SQL (empty: SQLAlchemy must run it), its
    parameters in order (name, value if bound in the statement, processing), and its rows' class and each column's
    processing (None: none has any)."""

    sql: str
    parameters: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    row: type
    results: tuple[Callable[[Any], Any] | None, ...] | None

    @classmethod
    def of(cls, statement: Executable, dialect: Any) -> _Direct:
        compiled: Any = cast(Any, statement).compile(dialect=dialect)
        processors = getattr(compiled, "_bind_processors", None)  # (what SQLAlchemy's execution applies to each)
        columns = getattr(compiled, "_result_columns", None)
        if (processors is None or columns is None or compiled.positiontup is None or compiled.post_compile_params
                or compiled.literal_execute_params or not set(compiled.positiontup) <= set(compiled.binds) or not all(
                    process is None or callable(process) for process in processors.values())):
            return cls("", (), tuple, None)
        parameters = tuple((name, compiled.binds[name].value if not compiled.binds[name].required else _REQUIRED,
                            processors.get(name)) for name in compiled.positiontup)
        results = tuple(column.type._cached_result_processor(dialect, None) for column in columns)
        # (A textual statement's columns are not known before it runs: its rows read the driver's by name.)
        try:
            row = collections.namedtuple("DirectRow", [column.keyname for column in columns]) if columns else _ByName
        except ValueError:  # a column whose name is no attribute's (or twice)
            return cls("", (), tuple, None)
        return cls(compiled.string, parameters, row, results if any(results) else None)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The statement's positional arguments from `params` (by name), processed."""
        values = []
        for name, bound, process in self.parameters:
            value = params[name] if bound is _REQUIRED else params.get(name, bound)
            values.append(value if process is None else process(value))
        return values


_REQUIRED = object()


@functools.cache
def _direct_of(statement: Executable, dialect: Any) -> _Direct:
    """`_Direct.of`, once a statement built once (as `_inline_insert` compiles `insert_rows`' statements)."""
    return _Direct.of(statement, dialect)


class _ByName:
    """A row of a textual statement's (`Database.direct`), whose columns are known only once it ran: the driver's
    record, its values by position and each as an attribute of its column's name."""

    __slots__ = ("_record",)

    def __init__(self, record: Any):
        self._record = record

    @classmethod
    def _make(cls, record: Any) -> _ByName:
        return cls(record)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, index: int) -> Any:
        return self._record[index]

    def __len__(self) -> int:
        return len(self._record)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._record)


async def _once_more_if_dead(run: Callable[[], Awaitable[T]]) -> T:
    """`run()`, and once more if its connection turned out dead (the server ended it, and the pool had not heard
    yet): the pool was emptied of the connections it had then, so the second run takes a new one. Only for work that
    cannot store anything twice: a read, or a statement whose rows have keys the caller gave."""
    try:
        return await run()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await run()


def _direct_on(connection: Connection, compiled: _Direct, arguments: list[Any]) -> list[Any]:
    """`Database.direct`'s statement on `connection` (of the autocommit engine's pool), run by `greenlet_spawn`
    (`Database._run_direct`: its connection, statement and return in one greenlet, as `_on_a_connection`)."""
    pooled = connection.connection
    driver: Any = pooled.driver_connection  # (asyncpg's connection)
    dispatch = connection.engine.dispatch
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(connection, None, compiled.sql, arguments, None, False)
    try:
        try:
            records = await_(driver.fetch(compiled.sql, *arguments))
        except Exception as exc:  # noqa: BLE001 -- raised again as the driver's adapter raises it (DB-API classes)
            pooled.dbapi_connection._handle_exception(exc)  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 -- raised again as SQLAlchemy does: mapped, a dead connection invalidated
        connection._handle_dbapi_exception(exc, compiled.sql, arguments, None, None)
    row = compiled.row
    if compiled.results is None:
        return [row._make(record) for record in records]  # type: ignore[attr-defined]
    return [row._make(value if process is None else process(value)  # type: ignore[attr-defined]
                      for value, process in zip(record, compiled.results, strict=True)) for record in records]


def _closed_on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Refuses a pooled PostgreSQL connection the server has closed (a restart, a terminated backend: the socket's
    end was heard), without a round trip; the pool then hands out a new one."""
    if record.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def _is_busy(exc: OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock it needs: SQLITE_BUSY or SQLITE_LOCKED, in any
    of their extended forms (SQLITE_BUSY_SNAPSHOT...), which keep the primary code in their low byte. The code, not
    the message: the message of a wrapped error holds the statement's text too."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _insert_values(row: Any) -> tuple[Table, dict[str, Any]]:
    """The table of an ORM row not in any session, and the column values set on it (as the ORM would insert them:
    the columns left unset get their defaults)."""
    state = orm_state(row)
    values = {prop.columns[0].key: state.dict[prop.key] for prop in state.mapper.column_attrs
              if prop.key in state.dict}
    return cast("Table", state.mapper.local_table), values


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _inline_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # reads only, on the event loop
    cursor.execute("PRAGMA busy_timeout=0")  # busy: answer at once (fetch then takes the threaded way)
    cursor.close()


def _inline_writer_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=0")  # busy: answer at once (`transaction` then takes the threaded way)
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # never an fsync on the event loop: `_checkpoint` does it
    cursor.close()


def _sqlite_pragmas(synchronous: str, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (watchers) run beside the writer; `synchronous` is how durable a commit is when acknowledged
    # (SQLITE_SYNCHRONOUS); foreign keys make deletes cascade to events.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()

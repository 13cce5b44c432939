"""PostgreSQL connections the server ends (a restart, a terminated backend) cost no write and no read: the pools
check out no connection the server closed, and a transaction whose connection dies before its commit runs again on
a new one. (No pre-ping does it: with asyncpg that is three round trips a checkout.)"""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from storyloom.store.db import Database

pytestmark = pytest.mark.postgres

COUNT = text("SELECT count(*) FROM scratch")


def insert(connection: Connection) -> None:
    connection.execute(text("INSERT INTO scratch VALUES (1)"))


async def end_every_connection_but_this(database: str, dsn: str) -> int:
    """Ends every other session on `database`, as a restart of the server would, and waits until they are gone."""
    admin = await asyncpg.connect(dsn)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
            "pg_backend_pid()", database)
        while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                                   "pg_backend_pid()", database):
            await admin.execute("SELECT pg_sleep(0.01)")
        return int(ended)
    finally:
        await admin.close()


async def test_writes_and_reads_go_on_after_the_server_ended_every_pooled_connection(postgres_url):
    db = Database(postgres_url)
    url = make_url(postgres_url)
    try:
        await db.transaction(lambda connection: connection.execute(text("CREATE TABLE scratch (n integer)")))
        await db.transaction(insert)  # a connection in each pool
        await db.transaction(insert, one_statement=True)
        async with db.begin() as session:
            await session.execute(COUNT)

        ended = await end_every_connection_but_this(
            str(url.database), url.set(drivername="postgresql").render_as_string(hide_password=False))

        assert ended >= 2
        await db.transaction(insert)
        await db.transaction(insert, one_statement=True)
        async with db.write() as session:
            await session.execute(text("INSERT INTO scratch VALUES (1)"))
        assert (await db.fetch(COUNT))[0][0] == 5
    finally:
        await db.close()


async def test_a_transaction_whose_connection_dies_before_its_commit_runs_again_on_a_new_one(postgres_url):
    db = Database(postgres_url)
    runs: list[int] = []

    def insert_then_lose_the_connection_once(connection: Connection) -> None:
        runs.append(connection.scalar(text("SELECT pg_backend_pid()")))
        insert(connection)
        if len(runs) == 1:
            connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    try:
        await db.transaction(lambda connection: connection.execute(text("CREATE TABLE scratch (n integer)")))

        await db.transaction(insert_then_lose_the_connection_once)

        assert len(runs) == 2 and runs[0] != runs[1]  # once more, on a new connection
        assert (await db.fetch(COUNT))[0][0] == 1  # the first run's insert died with its connection
    finally:
        await db.close()

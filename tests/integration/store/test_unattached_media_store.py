"""Media marked as the task that stored them until attached, in the SQL store on every backend: which are
unattached (their task ended or gone), and migration 0017, which adds the mark, up and down."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, select

from storyloom.domain.media import MediaItem
from storyloom.domain.tasks import Task, TaskEvent, TaskState
from storyloom.store.db import MIGRATIONS, Database
from storyloom.store.media import SqlMediaRepository, attaching
from storyloom.store.models import MediaRow
from storyloom.store.tasks import SqlTaskRepository

T0 = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)


async def stored_item(repo: SqlMediaRepository, media_id: str, made_by_task: str = "", **fields: object) -> None:
    item = MediaItem(id=media_id, user_id="u1", sha256=media_id.ljust(64, "0"), content_type="image/png",
                     size_bytes=3, create_time=T0, **fields)  # type: ignore[arg-type]
    await repo.pin_blob(item.sha256, 3)
    await repo.add(item, "", made_by_task=made_by_task)


async def test_unattached_media_are_those_marked_by_a_task_that_ended_or_is_gone(db: Database) -> None:
    tasks, repo = SqlTaskRepository(db), SqlMediaRepository(db)
    for state in TaskState:
        await tasks.create(Task(id=state.value.lower(), user_id="u1", kind="k", state=state, create_time=T0,
                                update_time=T0, last_sequence=1),
                           TaskEvent(state.value.lower(), 1, T0, state, "", 0, ""))
        await stored_item(repo, f"by-{state.value.lower()}", made_by_task=state.value.lower())
    await stored_item(repo, "by-gone", made_by_task="gone")
    await stored_item(repo, "upload")
    await stored_item(repo, "rendition", parent_id="by-gone", purpose="thumbnail")
    await stored_item(repo, "attached", made_by_task="succeeded")
    await db.transaction(attaching(lambda connection: None, ["attached"]))

    found = await repo.unattached(10)
    assert sorted(found) == [("u1", f"by-{s}") for s in ("cancelled", "failed", "gone", "succeeded")]
    assert len(await repo.unattached(2)) == 2


def alembic(connection: Connection, verb: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    getattr(command, verb)(config, revision)


def media_columns(connection: Connection) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns("media")}


def media_indexes(connection: Connection) -> set[str]:
    return {i["name"] or "" for i in inspect(connection).get_indexes("media")}


async def test_0017_downgrades_to_0016_and_upgrades_again_keeping_the_media(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.migrate()
        repo = SqlMediaRepository(db)
        item = MediaItem(id="m1", user_id="u1", sha256="0" * 64, content_type="image/png", size_bytes=3,
                         create_time=dt.datetime(2026, 12, 6, tzinfo=dt.UTC))
        await repo.pin_blob(item.sha256, 3)
        await repo.add(item, "", made_by_task="t1")
        async with db.engine.begin() as conn:
            assert "made_by_task" in await conn.run_sync(media_columns)
            assert "ix_media_made_by_task" in await conn.run_sync(media_indexes)
            await conn.run_sync(alembic, "downgrade", "0016_scene_units")
            assert "made_by_task" not in await conn.run_sync(media_columns)
            assert "ix_media_made_by_task" not in await conn.run_sync(media_indexes)
            assert (await conn.execute(select(MediaRow.id))).scalars().all() == ["m1"]
        await db.migrate()
        async with db.engine.begin() as conn:
            assert "ix_media_made_by_task" in await conn.run_sync(media_indexes)
            assert (await conn.execute(select(MediaRow.id, MediaRow.made_by_task))).all() == [("m1", None)]
        assert await repo.unattached(10) == []
    finally:
        await db.close()

"""Learned stage costs in SQL (SQLite and PostgreSQL): stored per task kind, overwritten, read back."""

from __future__ import annotations

from storyloom.domain.progress import StageClock, StageTiming
from storyloom.store.db import Database
from storyloom.store.progress import SqlStageTimingRepository


async def test_stage_costs_are_kept_per_kind_and_the_latest_save_wins(database_url: str):
    db = Database(database_url)
    try:
        await db.migrate()
        repository = SqlStageTimingRepository(db)
        assert await repository.load("story.create") == {}
        await repository.save("story.create", {"narration": StageTiming(0.2, 3), "premise": StageTiming(0.05, 3)})
        await repository.save("other.kind", {"narration": StageTiming(9.0, 1)})
        await repository.save("story.create", {"narration": StageTiming(0.25, 4)})
        assert await repository.load("story.create") == {"narration": StageTiming(0.25, 4),
                                                         "premise": StageTiming(0.05, 3)}

        clock = StageClock("story.create", {"narration": 0.1, "scenes": 0.05}, repository)
        await clock.load()
        assert clock.seconds_per_unit("narration") == 0.25 and clock.seconds_per_unit("scenes") == 0.05
    finally:
        await db.close()

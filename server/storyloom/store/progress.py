"""Learned stage costs (domain/progress.py) in SQL: one row per task kind and stage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storyloom.domain.progress import StageTiming
from storyloom.store.db import Database, completes_when_cancelled
from storyloom.store.models import StageTimingRow


@completes_when_cancelled
class SqlStageTimingRepository:
    def __init__(self, db: Database):
        self._db = db

    async def load(self, kind: str) -> dict[str, StageTiming]:
        async with self._db.begin() as session:
            rows = (await session.scalars(select(StageTimingRow).where(StageTimingRow.kind == kind))).all()
        return {row.stage: StageTiming(row.seconds_per_unit, row.samples) for row in rows}

    async def save(self, kind: str, timings: Mapping[str, StageTiming]) -> None:
        """Writes the given costs over the stored ones (the latest learner wins: the costs are estimates)."""
        now = dt.datetime.now(dt.UTC)
        try:
            async with self._db.write() as session:
                for stage, timing in timings.items():
                    await session.merge(StageTimingRow(kind=kind, stage=stage, seconds_per_unit=timing.seconds_per_unit,
                                                       samples=timing.samples, update_time=now))
        except IntegrityError:
            pass  # another replica stored its row first: its estimate is as good as ours

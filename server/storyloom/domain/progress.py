"""Honest progress: percent weighted by how long each stage really takes, and an ETA that follows the work.

A task's work is units of stages (a premise, five scenes, five pictures, five narrations). Each stage has a
learned cost in seconds per unit, kept per task kind: measured on every unit done (a moving average), stored when
a task finishes, and read back by the next process, with sane defaults before anything was measured. So percent is
the share of the expected seconds already done (narrating five scenes is most of a story, not a third of it), and
the ETA is the expected seconds left, scaled by how this run's pace compares with the expectation so far.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

# How much of a new measurement goes into the average: enough to follow a machine that got slower or faster within
# a few units, little enough that one slow unit does not swing the estimate.
LEARNING_RATE = 0.3
# The expected seconds of a run's pace estimate that its prior (pace 1) counts for: early on, the few units done
# say little about the pace; later they say most.
PACE_PRIOR_SECONDS = 3.0
PACE_LIMITS = (0.33, 3.0)


@dataclasses.dataclass(frozen=True)
class StageTiming:
    """The learned cost of one stage of a task kind."""

    seconds_per_unit: float
    samples: int = 0


class StageTimingRepository(Protocol):
    """Where learned stage costs are kept (store/progress.py)."""

    async def load(self, kind: str) -> dict[str, StageTiming]: ...

    async def save(self, kind: str, timings: Mapping[str, StageTiming]) -> None: ...


@dataclasses.dataclass(frozen=True)
class StageWork:
    """One stage of one task: how many units it has in all, and how many are left."""

    stage: str
    total: float
    remaining: float


class StageClock:
    """The learned seconds per unit of each stage of one task kind."""

    def __init__(self, kind: str, defaults: Mapping[str, float], repository: StageTimingRepository | None = None):
        self.kind = kind
        # A default counts as one measurement: the first real one (perhaps slowed by loading a model) moves the
        # estimate halfway.
        self._timings = {stage: StageTiming(seconds, 1) for stage, seconds in defaults.items()}
        self._repository = repository
        self._loaded = repository is None

    async def load(self) -> None:
        """Reads what earlier processes learned (once; a failure keeps the defaults)."""
        if self._loaded or self._repository is None:
            return
        self._loaded = True
        try:
            stored = await self._repository.load(self.kind)
        except Exception:
            log.warning("stage timings could not be read; using defaults", exc_info=True)
            return
        self._timings.update({stage: timing for stage, timing in stored.items() if timing.seconds_per_unit > 0})

    async def save(self) -> None:
        if self._repository is None:
            return
        try:
            await self._repository.save(self.kind, dict(self._timings))
        except Exception:
            log.warning("stage timings could not be stored", exc_info=True)

    def seconds_per_unit(self, stage: str) -> float:
        timing = self._timings.get(stage)
        return timing.seconds_per_unit if timing else 1.0

    def record(self, stage: str, seconds: float) -> None:
        """One unit of `stage` took `seconds`: the average moves toward it."""
        old = self._timings.get(stage)
        if old is None or old.samples == 0:
            self._timings[stage] = StageTiming(seconds, 1)
            return
        rate = max(LEARNING_RATE, 1 / (old.samples + 1))
        self._timings[stage] = StageTiming((1 - rate) * old.seconds_per_unit + rate * seconds, old.samples + 1)

    def expected(self, work: Sequence[StageWork], *, remaining: bool) -> float:
        return sum(self.seconds_per_unit(w.stage) * (w.remaining if remaining else w.total) for w in work)

    def percent(self, work: Sequence[StageWork]) -> int:
        """The share of the expected seconds that is done, 0-99 (100 is for the end)."""
        total = self.expected(work, remaining=False)
        if total <= 0:
            return 0
        return min(99, max(0, round(100 * (1 - self.expected(work, remaining=True) / total))))


class RunEstimate:
    """One run (attempt) of a task: the ETA from the expected seconds left and this run's measured throughput.

    Units that run concurrently each take longer than alone (their costs are measured in wall time, so they learn
    that), but several finish per second: the throughput (expected seconds of work done per second of this run) is
    measured, starting from `parallelism` as its prior, so the ETA follows what the run really achieves.
    """

    def __init__(self, clock: StageClock, started: float, *, parallelism: float = 1.0):
        self._clock = clock
        self._started = started
        self._parallelism = parallelism
        self._work_at_start: Sequence[StageWork] | None = None

    def throughput(self, work: Sequence[StageWork], now: float) -> float:
        """Expected seconds of work done per second of this run: the prior weighs PACE_PRIOR_SECONDS of work. Only
        units done count, priced at the current costs: a cost learned meanwhile, or work found smaller than guessed
        (scenes shorter than the average before they were written), is not work done."""
        if self._work_at_start is None:
            self._work_at_start = list(work)
        done = max(0.0, self._done(work) - self._done(self._work_at_start))
        elapsed = max(0.0, now - self._started)
        measured = (done + PACE_PRIOR_SECONDS) / (elapsed + PACE_PRIOR_SECONDS / self._parallelism)
        low, high = PACE_LIMITS
        return min(self._parallelism * high, max(low, measured))

    def _done(self, work: Sequence[StageWork]) -> float:
        return self._clock.expected(work, remaining=False) - self._clock.expected(work, remaining=True)

    def seconds_left(self, work: Sequence[StageWork], now: float) -> float:
        """The expected seconds of the work left, by the costs learned so far (they follow this run's units as
        they are measured), over this run's throughput."""
        return self._clock.expected(work, remaining=True) / self.throughput(work, now)

    def eta(self, work: Sequence[StageWork], now_monotonic: float, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self.seconds_left(work, now_monotonic))

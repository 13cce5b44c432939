"""Honest progress: percent weighted by what stages cost, costs learned from measurements and kept, and the ETA
from the work left."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from storyloom.domain.ports.story import OutlineScene
from storyloom.domain.progress import RunEstimate, StageClock, StageTiming, StageWork
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Scene, Story, StoryOptions, _work

NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


class MemoryTimings:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, StageTiming]] = {}

    async def load(self, kind: str) -> dict[str, StageTiming]:
        return dict(self.rows.get(kind, {}))

    async def save(self, kind: str, timings: Mapping[str, StageTiming]) -> None:
        self.rows[kind] = dict(timings)


def story(scenes: int = 5, written: int = 0, painted: int = 0, narrated: int = 0, words: int = 100) -> Story:
    made = tuple(Scene(index=i, title=f"s{i}", text="word " * words, mood="calm", illustration_prompt="",
                       picture_state="READY" if i < painted else "PENDING",
                       narration_state="READY" if i < narrated else "PENDING") for i in range(written))
    return Story(id="s", user_id="u", state="GENERATING", requirements=StoryRequirements(title="t"),
                 options=StoryOptions(scene_count=scenes), create_time=NOW, update_time=NOW,
                 premise="p" if written else "", scenes=made, planned_scene_count=scenes,
                 outline=tuple(OutlineScene(f"s{i}", "") for i in range(scenes)) if written else ())


COSTS = {"requirements": 0.3, "premise": 0.1, "outline": 0.1, "scenes": 0.2, "illustrations": 0.5, "narration": 0.1}


def test_percent_is_the_share_of_expected_seconds_so_narration_is_most_of_a_story():
    clock = StageClock("story.create", COSTS)
    # Everything written and painted (3.7 s), nothing narrated: 5 x 100 words at 0.1 s is 50 s of 53.7 in all.
    assert clock.percent(_work(story(written=5, painted=5))) == 7
    assert clock.percent(_work(story(written=5, painted=5, narrated=4))) == 81
    assert clock.percent(_work(story())) == 0


def test_a_long_scene_counts_for_more_narration_than_a_short_one():
    work = {w.stage: w for w in _work(story(written=2, words=50))}
    assert work["narration"].total == 5 * 50  # unwritten scenes count as long as the written ones
    long_first = story(written=2, words=50)
    long_first = dataclasses.replace(long_first, scenes=(
        dataclasses.replace(long_first.scenes[0], text="word " * 200), long_first.scenes[1]))
    assert {w.stage: w for w in _work(long_first)}["narration"].remaining == 200 + 50 + 3 * 125


def test_skipped_assets_are_no_work():
    skipped = dataclasses.replace(story(written=5), options=StoryOptions(scene_count=5, skip_narration=True,
                                                                         skip_illustrations=True))
    work = {w.stage: w for w in _work(skipped)}
    assert work["narration"].total == work["illustrations"].total == 0


def test_measurements_move_the_cost_and_the_first_one_only_halfway_from_the_default():
    clock = StageClock("story.create", {"narration": 0.1})
    clock.record("narration", 0.5)  # a first narration that loaded the voice model
    assert abs(clock.seconds_per_unit("narration") - 0.3) < 1e-9
    for _ in range(20):
        clock.record("narration", 0.2)
    assert abs(clock.seconds_per_unit("narration") - 0.2) < 0.01


async def test_learned_costs_are_stored_and_read_back_by_the_next_process():
    timings = MemoryTimings()
    first = StageClock("story.create", {"narration": 0.1}, timings)
    await first.load()
    first.record("narration", 0.3)
    await first.save()
    later = StageClock("story.create", {"narration": 0.1}, timings)
    assert later.seconds_per_unit("narration") == 0.1
    await later.load()
    assert abs(later.seconds_per_unit("narration") - 0.2) < 1e-9
    assert timings.rows["story.create"]["narration"].samples == 2


def test_the_eta_is_the_expected_seconds_of_the_work_left():
    clock = StageClock("story.create", {"a": 1.0, "b": 10.0})
    run = RunEstimate(clock, started=0.0)
    work = [StageWork("a", 2, 1), StageWork("b", 3, 3)]
    assert run.eta(work, 0.0, NOW) == NOW + dt.timedelta(seconds=31)
    clock.record("b", 20.0)  # slower than thought: the estimate follows
    assert run.eta(work, 0.0, NOW) > NOW + dt.timedelta(seconds=31)


def test_the_eta_follows_the_measured_throughput_of_units_run_at_once():
    clock = StageClock("story.create", {"narration": 10.0})
    run = RunEstimate(clock, started=0.0, parallelism=2.0)
    start = [StageWork("narration", 8, 8)]
    assert run.seconds_left(start, 0.0) == 40.0  # 80 s of work, two units at a time
    # Four units done in 10 s: twice as fast as the prior said; the ETA follows (most of the way: the prior stays).
    later = [StageWork("narration", 8, 4)]
    assert 10.0 < run.seconds_left(later, 10.0) < 20.0
    # Nothing done for long: slower than the prior.
    stuck = RunEstimate(clock, started=0.0, parallelism=2.0)
    stuck.seconds_left(start, 0.0)
    assert stuck.seconds_left(start, 30.0) > 40.0


def test_work_found_smaller_than_guessed_is_not_work_done():
    clock = StageClock("story.create", {"narration": 1.0})
    run = RunEstimate(clock, started=0.0)
    assert run.seconds_left([StageWork("narration", 600, 600)], 0.0) == 600.0
    # The scenes came out shorter than guessed: less narration in all, and none of it done yet, so no faster pace.
    assert run.seconds_left([StageWork("narration", 150, 150)], 10.0) >= 150.0
    # Half of it narrated in those 10 s: a faster pace than thought, which the ETA follows (within its limits).
    assert run.seconds_left([StageWork("narration", 150, 75)], 10.0) < 75.0

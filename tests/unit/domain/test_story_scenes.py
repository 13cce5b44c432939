"""The scene-first story pipeline on fakes: scene 1 first (its narration asked for first, at the first priority),
every picture painted while narrations run, at most `scene_concurrency` narrations at once, each scene announced
once by a SCENE_READY event, and a resumed run that redoes and re-announces nothing finished."""

from __future__ import annotations

import asyncio
import dataclasses

from storyloom.domain.media import Inspection, MediaLibrary
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import SCENE_READY, Stories, StoryEngines, StoryOptions
from storyloom.domain.tasks import TaskContext, TaskRunner, TaskUpdate
from tests.support.fakes import (
    FakeIllustrator,
    FakeNarrator,
    InMemoryBlobStore,
    InMemoryMediaRepository,
    InMemoryStoryRepository,
    InMemoryTaskRepository,
    ScriptedTextEngine,
    until,
)


class Inspector:
    def inspect(self, data: bytes, content_type: str) -> Inspection:
        return Inspection(content_type)


@dataclasses.dataclass
class World:
    tasks: InMemoryTaskRepository
    stories: Stories
    repo: InMemoryStoryRepository
    illustrator: FakeIllustrator
    narrator: FakeNarrator

    async def start(self, scenes: int) -> str:
        task = await self.stories.create("u1", requirements=StoryRequirements(setting="the moon"),
                                         options=StoryOptions(scene_count=scenes))
        return task.id

    async def run(self, task_id: str) -> None:
        """Runs the story's handler as a worker would, from the task's stored checkpoint."""
        task = await self.tasks.get(task_id)
        assert task is not None

        async def record(update: TaskUpdate) -> None:
            await self.tasks.append_event(task_id, update, task.update_time)

        await self.stories._write(TaskContext(task, record=record, cancel_requested=lambda: False))

    def pictures_stored(self) -> int:
        return sum(s.picture_state == "READY" for story in self.repo.stories.values() for s in story.scenes)

    def announced(self, task_id: str) -> list[int]:
        return [e.part.ref["index"] for e in self.tasks.events[task_id] if e.part and e.part.type == SCENE_READY]


def world(concurrency: int) -> World:
    tasks = InMemoryTaskRepository()
    repo = InMemoryStoryRepository(tasks)
    illustrator, narrator = FakeIllustrator(), FakeNarrator()
    stories = Stories(repo, TaskRunner(tasks), MediaLibrary(InMemoryMediaRepository(), InMemoryBlobStore(),
                                                            Inspector()),
                      None,  # type: ignore[arg-type]  # no story here comes from a conversation
                      StoryEngines(ScriptedTextEngine(), illustrator, narrator), scene_concurrency=concurrency)
    return World(tasks, stories, repo, illustrator, narrator)


async def test_scene_one_first_pictures_while_narrating_two_narrations_at_once_each_announced_once():
    w = world(concurrency=2)
    task_id = await w.start(scenes=5)
    w.narrator.gate, w.narrator.gate_after = asyncio.Event(), 1  # after scene 1, narrations are held
    run = asyncio.create_task(w.run(task_id))
    # Scene 1 done; scenes 2 and 3 narrating (held), and meanwhile every picture is painted.
    await until(lambda: w.announced(task_id) == [0] and w.narrator.running == 2 and w.illustrator.calls == 5)
    w.narrator.gate.set()
    await run

    assert w.announced(task_id)[0] == 0 and sorted(w.announced(task_id)) == [0, 1, 2, 3, 4]
    assert "(1)" in w.narrator.texts[0]
    assert w.narrator.priorities == [0, 1, 2, 3, 4]  # each scene's narration at its own priority, in order
    assert w.narrator.peak == 2  # never more than two
    story = next(iter(w.repo.stories.values()))
    assert story.state == "READY" and all(s.picture_id and s.narration_id for s in story.scenes)


async def test_concurrency_one_is_one_scene_after_the_other():
    w = world(concurrency=1)
    task_id = await w.start(scenes=3)
    await w.run(task_id)

    assert w.announced(task_id) == [0, 1, 2] and w.narrator.peak == 1
    assert ["(1)" in t for t in w.narrator.texts] == [True, False, False]


async def test_a_resumed_story_redoes_and_re_announces_no_finished_scene():
    w = world(concurrency=2)
    task_id = await w.start(scenes=4)
    w.narrator.gate, w.narrator.gate_after = asyncio.Event(), 2  # scenes 3 and 4 are held mid-narration
    first_run = asyncio.create_task(w.run(task_id))
    # Two scenes announced, and the other two held mid-narration with their pictures stored.
    await until(lambda: len(w.announced(task_id)) == 2 and w.narrator.running == 2 and w.pictures_stored() == 4)
    first_run.cancel()  # the worker dies
    await asyncio.gather(first_run, return_exceptions=True)
    assert w.illustrator.calls == 4 and (await w.tasks.get(task_id)).checkpoint["scenes_ready"] == [0, 1]

    w.narrator.gate = None
    events_before = len(w.tasks.events[task_id])
    await w.run(task_id)

    assert sorted(w.announced(task_id)) == [0, 1, 2, 3]
    again = [e.part.ref["index"] for e in w.tasks.events[task_id][events_before:] if e.part]
    assert sorted(again) == [2, 3]  # only the scenes not finished before
    assert w.illustrator.calls == 4  # every picture was stored before: none painted again
    finished = [text for kind, text in w.narrator.log if kind == "end"]
    assert sorted(finished) == sorted(set(finished)) and len(finished) == 4  # each scene narrated to the end once

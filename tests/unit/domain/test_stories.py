"""Stories on in-memory fakes and a clock the test moves: the stages, resuming from what is stored, reuse of an
equal request within the window, assets that fail, validation, export and delete."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from storyloom.domain.conversations import Conversations
from storyloom.domain.errors import InvalidArgument
from storyloom.domain.media import MediaLibrary
from storyloom.domain.ports.story import OutlineScene
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.domain.stories import (
    CREATE_KIND,
    EASY_WORDS_PER_MINUTE,
    SLOW_WORDS_PER_MINUTE,
    Stories,
    StoryEngines,
    StoryOptions,
    narration_request,
)
from storyloom.domain.tasks import Task, TaskRunner, TaskState
from tests.support.fakes import (
    FakeClock,
    FakeIllustrator,
    FakeNarrator,
    InMemoryBlobStore,
    InMemoryConversationRepository,
    InMemoryMediaRepository,
    InMemoryStoryRepository,
    InMemoryTaskRepository,
    ScriptedTextEngine,
)

USER = "u1"
FOX = StoryRequirements(characters=(Character("Luna", "a little fox"),), setting="a forest", tone="CALM",
                        length="SHORT", audience_age_group="EARLY_READER")


@dataclasses.dataclass
class World:
    clock: FakeClock
    tasks: TaskRunner
    stories: Stories
    repo: InMemoryStoryRepository
    writer: ScriptedTextEngine
    illustrator: FakeIllustrator
    narrator: FakeNarrator
    blobs: InMemoryBlobStore

    async def finished(self, task: Task) -> Task:
        async for _event in self.tasks.watch(USER, task.id):
            pass
        return await self.tasks.get(USER, task.id)


@pytest_asyncio.fixture
async def world() -> AsyncIterator[World]:
    clock = FakeClock()
    tasks = TaskRunner(InMemoryTaskRepository(), clock=clock)
    writer, illustrator, narrator, blobs = ScriptedTextEngine(), FakeIllustrator(), FakeNarrator(), InMemoryBlobStore()
    conversations = Conversations(InMemoryConversationRepository(), tasks, writer, clock=clock)
    media = MediaLibrary(InMemoryMediaRepository(), blobs, thumbnailer=lambda data, side: data, clock=clock)
    repo = InMemoryStoryRepository()
    stories = Stories(repo, tasks, media, conversations, StoryEngines(writer, illustrator, narrator),
                      asset_retry_delay=0.0, clock=clock)
    yield World(clock, tasks, stories, repo, writer, illustrator, narrator, blobs)
    await tasks.stop()


async def test_a_story_is_written_scene_by_scene_then_painted_and_read(world: World) -> None:
    task = await world.stories.create(USER, requirements=FOX)

    done = await world.finished(task)
    story = await world.stories.get(USER, task.target.rsplit("/", 1)[1])

    assert done.state is TaskState.SUCCEEDED
    assert (story.state, story.title, story.planned_scene_count) == ("READY", "The Fox and the Moon", 3)  # SHORT
    assert [s.title for s in story.scenes] == ["Scene 1", "Scene 2", "Scene 3"]
    assert all(s.picture_state == s.narration_state == "READY" for s in story.scenes)
    media = await world.stories.media(USER, story)
    assert {m.content_type for m in media.values()} == {"image/png", "audio/wav"}
    assert world.narrator.paces == [SLOW_WORDS_PER_MINUTE] * 3  # a calm story is read at bedtime pace


async def test_a_resumed_story_writes_only_the_scenes_not_stored_yet(world: World) -> None:
    task = await world.stories.create(USER, requirements=FOX, options=StoryOptions(skip_illustrations=True,
                                                                                   skip_narration=True))
    await world.finished(task)
    story_id = task.target.rsplit("/", 1)[1]
    story = world.repo.stories[story_id]
    # As if the process had died after scene 2: the third scene is gone, the task is live again.
    world.repo.stories[story_id] = dataclasses.replace(story, state="GENERATING", scenes=story.scenes[:2])
    world.writer.scenes_written.clear()

    again = await world.tasks.submit(USER, CREATE_KIND, {"story_id": story_id})
    await world.finished(again)

    assert world.writer.scenes_written == [2]
    assert [s.index for s in world.repo.stories[story_id].scenes] == [0, 1, 2]


async def test_an_equal_request_within_the_window_gets_the_first_task(world: World) -> None:
    first = await world.stories.create(USER, requirements=FOX)

    world.clock.advance(Stories.REUSE_WINDOW.total_seconds() - 1)
    assert (await world.stories.create(USER, requirements=FOX)).id == first.id
    assert (await world.stories.create(USER, requirements=FOX, regenerate=True)).id != first.id

    world.clock.advance(2)
    assert (await world.stories.create(USER, requirements=FOX)).id != first.id


async def test_a_repeated_request_id_returns_the_first_task(world: World) -> None:
    first = await world.stories.create(USER, requirements=FOX, request_id="r-1")
    other = dataclasses.replace(FOX, setting="the sea")

    assert (await world.stories.create(USER, requirements=other, request_id="r-1", regenerate=True)).id == first.id


async def test_a_picture_that_fails_twice_is_retried_and_one_that_always_fails_is_marked_failed(
        world: World) -> None:
    world.illustrator.failures = 2  # the third attempt works
    task = await world.stories.create(USER, requirements=FOX, options=StoryOptions(scene_count=1,
                                                                                   skip_narration=True))
    await world.finished(task)
    assert world.repo.stories[task.target.rsplit("/", 1)[1]].scenes[0].picture_state == "READY"

    world.illustrator.failures, world.illustrator.calls = 1000, 0
    task = await world.stories.create(USER, requirements=FOX, options=StoryOptions(scene_count=1,
                                                                                   skip_narration=True),
                                      regenerate=True)
    done = await world.finished(task)
    story = world.repo.stories[task.target.rsplit("/", 1)[1]]

    assert done.state is TaskState.SUCCEEDED and story.state == "READY"  # the text is fine without a picture
    assert story.scenes[0].picture_state == "FAILED"
    assert world.illustrator.calls == Stories.ASSET_ATTEMPTS


async def test_a_story_from_a_text_keeps_its_words_in_scenes(world: World) -> None:
    text = "Luna woke up.\n\nShe ran to the pond.\n\nThe moon smiled."

    task = await world.stories.create(USER, text=text, options=StoryOptions(skip_illustrations=True,
                                                                            skip_narration=True))
    await world.finished(task)
    story = world.repo.stories[task.target.rsplit("/", 1)[1]]

    assert [s.text for s in story.scenes] == ["Luna woke up.", "She ran to the pond.", "The moon smiled."]
    assert story.premise == ""  # a given text needs no idea of its own


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"requirements": StoryRequirements()}, "REQUIREMENTS_EMPTY"),
    ({}, "STORY_SOURCE_MISSING"),
    ({"text": "   "}, "STORY_SOURCE_MISSING"),
    ({"requirements": FOX, "options": StoryOptions(scene_count=13)}, "INVALID_ARGUMENT"),
])
async def test_a_request_that_cannot_make_a_story_is_refused(world: World, kwargs: dict[str, object],
                                                             reason: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await world.stories.create(USER, **kwargs)  # type: ignore[arg-type]
    assert refused.value.reason == reason
    assert world.repo.stories == {}


@pytest.mark.parametrize(("requirements", "pace"), [
    (StoryRequirements(audience_age_group="PRESCHOOL"), SLOW_WORDS_PER_MINUTE),
    (StoryRequirements(audience_age_group="TWEEN", tone="CALM"), SLOW_WORDS_PER_MINUTE),
    (StoryRequirements(audience_age_group="TWEEN", genre="Bedtime adventure"), SLOW_WORDS_PER_MINUTE),
    (StoryRequirements(audience_age_group="TWEEN", tone="FUNNY"), EASY_WORDS_PER_MINUTE),
])
def test_little_ones_and_bedtime_stories_are_read_slowly(requirements: StoryRequirements, pace: float) -> None:
    assert narration_request("Text.", requirements) == ("Text.", {"words_per_minute": pace})


async def test_markdown_export_shows_html_in_a_title_as_text(world: World) -> None:
    task = await world.stories.create(USER, requirements=FOX, options=StoryOptions(scene_count=1,
                                                                                   skip_narration=True))
    await world.finished(task)
    story_id = task.target.rsplit("/", 1)[1]
    await world.repo.update(story_id, title="<script>alert(1)</script> [link](x)")

    content_type, body = await world.stories.export(USER, story_id, "MARKDOWN")

    assert content_type.startswith("text/markdown")
    first_line = body.decode().splitlines()[0]
    assert first_line == "# &lt;script&gt;alert(1)&lt;/script&gt; \\[link\\](x)"
    assert "](/v1/media/" in body.decode()  # the scene's picture


async def test_deleting_a_story_deletes_its_media_and_their_bytes(world: World) -> None:
    task = await world.stories.create(USER, requirements=FOX, options=StoryOptions(scene_count=1))
    await world.finished(task)
    story_id = task.target.rsplit("/", 1)[1]
    assert world.blobs.blobs

    await world.stories.delete(USER, story_id)

    assert story_id not in world.repo.stories
    assert world.blobs.blobs == {}


async def test_the_progress_reports_a_share_of_the_work_and_an_eta_from_stage_times(world: World) -> None:
    task = await world.stories.create(USER, requirements=FOX, options=StoryOptions(skip_illustrations=True,
                                                                                   skip_narration=True))
    events = [e async for e in world.tasks.watch(USER, task.id)]
    writing = [e for e in events if e.stage == "scenes"]

    assert [e.percent for e in writing] == [40, 60, 80]  # 2 of 5 units (premise, outline), then a scene each
    assert all(e.eta is not None and e.eta > e.create_time for e in writing)
    assert events[-1].state is TaskState.SUCCEEDED and events[-1].percent == 100
    assert world.repo.stories[task.target.rsplit("/", 1)[1]].outline == tuple(
        OutlineScene(f"Scene {i}", f"what happens in scene {i}") for i in (1, 2, 3))

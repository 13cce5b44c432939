"""Stories: illustrated, narrated scenes written in the background as a resumable task.

The story row is the checkpoint. After the premise and the outline, each scene is a unit of its own: its text,
its picture, its narration, each stored when made, so a task resumed after a crash skips everything already stored
and never writes a scene twice. Units of several scenes run at once (scene 1 first), and each finished scene is
announced by a SCENE_READY task event; GetStory shows the story growing while it is written.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import html
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

from storyloom.domain.conversations import Conversations
from storyloom.domain.errors import FieldViolation, InvalidArgument, NotFound
from storyloom.domain.media import MediaItem, MediaLibrary, made_by_task
from storyloom.domain.picture_spec import PictureSpec
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.notifier import CHANGED, LocalNotifier, Notifier
from storyloom.domain.ports.story import Illustrator, Narrator, OutlineScene, SceneText, StoryWriter
from storyloom.domain.ports.telemetry import Telemetry
from storyloom.domain.progress import RunEstimate, StageClock, StageTimingRepository, StageWork
from storyloom.domain.requirements import StoryRequirements, checked, with_defaults
from storyloom.domain.tasks import NewTask, Task, TaskClaim, TaskContext, TaskError, TaskPart, TaskRunner, TaskState

log = logging.getLogger(__name__)

T = TypeVar("T")

CREATE_KIND = "story.create"
# The task event type that announces a finished scene, and the measured wait for a story's first one.
SCENE_READY = "SCENE_READY"
FIRST_SCENE_STAGE = "first_scene_ready"
MAX_SCENES = 12
MAX_SOURCE_TEXT = 100_000
PICTURE_SIZE = (768, 512)
THUMBNAIL_SIDE = 256

StoryState = Literal["GENERATING", "READY", "FAILED", "CANCELLED"]
AssetState = Literal["PENDING", "READY", "FAILED", "SKIPPED"]
SCENES_FOR_LENGTH = {"SHORT": 3, "MEDIUM": 5, "LONG": 8, "": 5}
# The stages the text engine does (the others paint and narrate).
WRITER_STAGES = ("requirements", "premise", "outline", "scenes")
# Seconds per unit of each stage before any was measured: the offline engines on a busy 2-core machine, where one
# scene's narration (piper) is most of a story. Learned values replace them (domain/progress.py).
STAGE_DEFAULTS = {"requirements": 0.3, "premise": 0.05, "outline": 0.05, "scenes": 0.05, "illustrations": 0.3,
                  "narration": 0.15}  # narration: seconds per word
# Words of a scene not written yet, for the narration estimate.
WORDS_PER_SCENE = 120


@dataclasses.dataclass(frozen=True)
class Scene:
    index: int
    title: str
    text: str
    mood: str
    illustration_prompt: str
    picture_id: str | None = None
    picture_state: AssetState = "PENDING"
    narration_id: str | None = None
    narration_state: AssetState = "PENDING"
    picture_spec: PictureSpec | None = None

    def as_text(self) -> SceneText:
        return SceneText(self.title, self.text, self.mood, self.illustration_prompt, self.picture_spec)


@dataclasses.dataclass(frozen=True)
class StoryOptions:
    scene_count: int = 0  # 0: from the requirements' length
    skip_illustrations: bool = False
    skip_narration: bool = False


@dataclasses.dataclass(frozen=True)
class Story:
    id: str
    user_id: str
    state: StoryState
    requirements: StoryRequirements
    options: StoryOptions
    create_time: dt.datetime
    update_time: dt.datetime
    title: str = ""
    premise: str = ""
    outline: tuple[OutlineScene, ...] = ()
    scenes: tuple[Scene, ...] = ()
    planned_scene_count: int = 0
    task_id: str = ""
    conversation_id: str = ""
    source_text: str = ""
    fingerprint: str = ""
    error: TaskError | None = None  # why the story is FAILED or CANCELLED: its task's error

    @property
    def name(self) -> str:
        return f"users/{self.user_id}/stories/{self.id}"


# A story follows its task: it leaves GENERATING when the task ends, however it ends.
_STORY_STATE_OF_TASK: dict[TaskState, StoryState] = {
    TaskState.SUCCEEDED: "READY", TaskState.FAILED: "FAILED", TaskState.CANCELLED: "CANCELLED"}


def story_changes(story_id: str) -> str:
    """The key under which every change of a story's content is announced on CHANGED (its fields, a scene): what
    keeps a copy of the story, even one still being written, depends on it."""
    return f"stories/{story_id}"


class StoryRepository(Protocol):
    async def create(self, story: Story, request_id: str, task: NewTask) -> tuple[Story, bool]:
        """Stores a new story and its task in one transaction; on a (user, request_id) clash stores nothing and
        returns the existing story and False."""

    async def generating(self) -> builtins.list[Story]:
        """The stories still GENERATING, without scenes."""

    async def get(self, story_id: str) -> Story | None: ...

    async def scene(self, story_id: str, index: int) -> tuple[str, Scene] | None:
        """Who owns the story, and its scene `index` (one short read); None if either is missing."""

    async def list(self, user_id: str, *, states: tuple[StoryState, ...], limit: int,
                   after: tuple[dt.datetime, str] | None) -> list[Story]:
        """Newest first, without scenes."""

    async def find_recent(self, user_id: str, fingerprint: str, since: dt.datetime) -> Story | None:
        """The newest story from an identical request since `since` that did not fail or get cancelled."""

    async def update(self, story_id: str, *, claim: TaskClaim | None = None, **fields: Any) -> None:
        """Changes the story's fields. With a `claim` (its task's writes), only while the task still holds it, checked
        in the write itself: else raises TaskFenced and changes nothing. LookupError if there is no story."""

    async def put_scene(self, story_id: str, scene: Scene, *, claim: TaskClaim | None = None,
                        attach: Sequence[str] = ()) -> None:
        """Inserts or replaces scene `scene.index`; with a `claim`, fenced as `update` is. `attach`: media the scene
        now refers to, unmarked as their task's in the same transaction (MediaRepository.add)."""

    async def delete(self, story_id: str) -> builtins.list[str]:
        """Deletes the story and its scenes; returns the media ids its scenes used."""


@dataclasses.dataclass(frozen=True)
class StoryEngines:
    writer: StoryWriter
    illustrator: Illustrator
    narrator: Narrator


def require_something(requirements: StoryRequirements, field: str = "requirements") -> None:
    if requirements == StoryRequirements():
        raise InvalidArgument(FieldViolation(field, "must say something about the story: at least one field"),
                              reason="REQUIREMENTS_EMPTY")


class Stories:
    # An identical request within this window reuses the earlier story unless asked to regenerate.
    REUSE_WINDOW = dt.timedelta(minutes=10)
    ASSET_ATTEMPTS = 3

    def __init__(self, repository: StoryRepository, tasks: TaskRunner, media: MediaLibrary,
                 conversations: Conversations, engines: StoryEngines, *,
                 reuse_window: dt.timedelta = REUSE_WINDOW, asset_retry_delay: float = 0.5,
                 clock: Clock = SYSTEM_CLOCK, stage_timings: StageTimingRepository | None = None,
                 scene_concurrency: int = 2, notifier: Notifier | None = None):
        if scene_concurrency < 1:
            raise ValueError("scene_concurrency must be at least 1")
        self._repo = repository
        # Scenes whose picture and narration are made at once, per story: the worker's CPU budget (1: one scene
        # after the other, the sequential pipeline).
        self._scene_concurrency = scene_concurrency
        self._clock = clock
        self._tasks = tasks
        self._media = media
        self._conversations = conversations
        self._engines = engines
        self._reuse_window = reuse_window
        self._asset_retry_delay = asset_retry_delay
        # What each stage costs, learned from the stories written (and stored, when given a repository).
        self.clock = StageClock(CREATE_KIND, STAGE_DEFAULTS, stage_timings)
        self._deletion_hooks: list[Callable[[str, str], Awaitable[None]]] = []
        # Every change of a story is announced (CHANGED): its fields and scenes (`story_changes`), its task's end
        # recorded on it and its deletion (its name), so copies of it kept anywhere go.
        self._notifier: Notifier = notifier or LocalNotifier()
        tasks.register(CREATE_KIND, self._write, on_end=self._follow)

    def on_delete(self, hook: Callable[[str, str], Awaitable[None]]) -> None:
        """Calls `hook(user_id, story_id)` before a story is deleted: what other services made of it goes too."""
        self._deletion_hooks.append(hook)

    # --- step by step (unary) ----------------------------------------------------------------

    @property
    def writer(self) -> StoryWriter:
        return self._engines.writer

    # --- whole stories -----------------------------------------------------------------------

    async def create(
        self, user_id: str, *, requirements: StoryRequirements | None = None, conversation_id: str = "",
        text: str = "", options: StoryOptions = StoryOptions(), regenerate: bool = False, request_id: str = "",
    ) -> Task:
        """Stores the story and starts its task, or returns the task of an equal earlier request."""
        if options.scene_count < 0 or options.scene_count > MAX_SCENES:
            raise InvalidArgument(FieldViolation("scene_count",
                                                 f"must be from 1 to {MAX_SCENES}, or 0 for the default"))
        source_version = ""
        if requirements is not None:
            require_something(requirements)
            requirements = checked(requirements)
        elif conversation_id:
            # A failure to start is an ordinary error; a conversation that moved on is a new request.
            conversation = await self._conversations.get(user_id, conversation_id)
            source_version = str(conversation.message_count)
        elif not text.strip():
            raise InvalidArgument(FieldViolation("requirements", "give requirements, a conversation or a text"),
                                  reason="STORY_SOURCE_MISSING")
        elif len(text) > MAX_SOURCE_TEXT:
            raise InvalidArgument(FieldViolation("text", f"must be at most {MAX_SOURCE_TEXT} characters"))
        fingerprint = _fingerprint(requirements, f"{conversation_id}@{source_version}", text, options)
        if not regenerate:
            earlier = await self._repo.find_recent(user_id, fingerprint, self._clock.now() - self._reuse_window)
            if earlier is not None:
                return await self._tasks.get(user_id, earlier.task_id)
        async with self._tasks.admit(user_id):  # over the user's task limit: RESOURCE_EXHAUSTED, nothing stored
            now = self._clock.now()
            story = Story(
                id=uuid.uuid4().hex, user_id=user_id, state="GENERATING",
                requirements=requirements or StoryRequirements(), options=options, create_time=now, update_time=now,
                task_id=uuid.uuid4().hex, conversation_id=conversation_id, source_text=text, fingerprint=fingerprint,
            )
            new = self._tasks.new_task(user_id, CREATE_KIND, {"story_id": story.id}, target=story.name,
                                       task_id=story.task_id, message="Waiting to start writing.")
            stored, created = await self._repo.create(story, request_id, new)
            if not created:
                return await self._tasks.get(user_id, stored.task_id)
        await self._tasks.accepted(CREATE_KIND)
        return new.task

    async def get(self, user_id: str, story_id: str) -> Story:
        story = await self._repo.get(story_id)
        if story is None or story.user_id != user_id:
            raise NotFound(f"users/{user_id}/stories/{story_id}")
        return story

    async def scene(self, user_id: str, story_id: str, index: int) -> Scene | None:
        """One scene of the user's story (one short read); None if the story or the scene is missing."""
        found = await self._repo.scene(story_id, index)
        return found[1] if found is not None and found[0] == user_id else None

    async def find(self, story_id: str) -> Story | None:
        return await self._repo.get(story_id)

    async def list(self, user_id: str, *, states: tuple[StoryState, ...], limit: int,
                   after: tuple[dt.datetime, str] | None) -> list[Story]:
        return await self._repo.list(user_id, states=states, limit=limit, after=after)

    async def media(self, user_id: str, story: Story) -> dict[str, MediaItem]:
        """The media items of the story's scenes, by id."""
        return await self.media_items(user_id, [i for s in story.scenes for i in (s.picture_id, s.narration_id) if i])

    async def media_items(self, user_id: str, ids: builtins.list[str]) -> dict[str, MediaItem]:
        return await self._media.get_many(user_id, ids)

    async def delete(self, user_id: str, story_id: str) -> None:
        story = await self.get(user_id, story_id)
        if story.state == "GENERATING":
            with contextlib.suppress(NotFound):
                await self._tasks.cancel(user_id, story.task_id)
        for hook in self._deletion_hooks:
            await hook(user_id, story_id)
        media_ids = await self._repo.delete(story_id)
        await self._notifier.publish(CHANGED, story.name)
        await self._media.delete(user_id, media_ids)

    async def export(self, user_id: str, story_id: str, fmt: Literal["MARKDOWN", "PLAIN_TEXT"]) -> tuple[str, bytes]:
        return export_text(await self.get(user_id, story_id), fmt)

    # --- the task ----------------------------------------------------------------------------

    async def _update(self, claim: TaskClaim | None, story_id: str, **fields: Any) -> None:
        """Stores a change of the story being written, under its task's claim (a worker that lost the task is refused:
        TaskFenced), announced (`story_changes`): copies of the story kept anywhere go, on every replica. Announced
        even when the caller is cancelled meanwhile (the change may be stored); an announcement too many costs only a
        read."""
        try:
            await self._repo.update(story_id, claim=claim, **fields)
        finally:
            await self._notifier.publish(CHANGED, story_changes(story_id))

    async def _put_scene(self, claim: TaskClaim | None, story_id: str, scene: Scene,
                         attach: Sequence[str] = ()) -> None:
        """Stores a scene of the story being written, fenced and announced like `_update`, attaching `attach`."""
        try:
            await self._repo.put_scene(story_id, scene, claim=claim, attach=attach)
        finally:
            await self._notifier.publish(CHANGED, story_changes(story_id))

    async def _write(self, ctx: TaskContext) -> None:
        await self._run_stages(ctx, str(ctx.params["story_id"]))

    async def _follow(self, task: Task, state: TaskState, error: TaskError | None,
                      claim: TaskClaim | None = None) -> None:
        """The story's task is ending: the story ends with it, with its reason (under the claim the end is recorded
        with: a worker that lost the task does not end the story another attempt writes)."""
        story_id = str(task.params.get("story_id", ""))
        with contextlib.suppress(LookupError):  # the story was deleted
            await self._repo.update(story_id, claim=claim, state=_STORY_STATE_OF_TASK[state], error=error,
                                    update_time=self._clock.now())
            await self._notifier.publish(CHANGED, f"users/{task.user_id}/stories/{story_id}")

    async def recover(self) -> None:
        """Ends the stories left GENERATING whose task ended (or is gone) without them hearing of it: a crash
        between the two writes, or a task that ended where this kind was not registered."""
        for story in await self._repo.generating():
            task = await self._tasks.find(story.task_id)
            if task is None:
                await self._follow(Task(id=story.task_id, user_id=story.user_id, kind=CREATE_KIND,
                                        state=TaskState.FAILED, create_time=story.create_time,
                                        update_time=story.update_time, params={"story_id": story.id}),
                                   TaskState.FAILED, TaskError("ABORTED", "STORY_TASK_MISSING",
                                                               "The story's task no longer exists.", {}))
            elif task.state.terminal:
                await self._follow(task, task.state, task.error)

    async def _run_stages(self, ctx: TaskContext, story_id: str) -> None:
        claim = ctx.claim  # every write of the story below is this attempt's: refused once the task moved on
        story = await self._load(story_id)
        writer = self._engines.writer
        await self.clock.load()
        progress = _Progress(ctx, self.clock, self._clock, self._tasks.telemetry, RunEstimate(
            self.clock, self._clock.monotonic(), parallelism=self._scene_concurrency))

        if story.conversation_id and story.requirements == StoryRequirements():
            async with progress.step(story, "requirements", "Reading the conversation."):
                extracted = await self._timed("requirements", self._conversations.extract_requirements(
                    story.user_id, story.conversation_id))
                require_something(extracted, "conversation")
                await self._update(claim, story_id, requirements=extracted)
            story = await self._load(story_id)

        requirements = with_defaults(story.requirements)
        if story.requirements != requirements:
            await self._update(claim, story_id, requirements=requirements)
        count = story.options.scene_count or requirements.scene_count or SCENES_FOR_LENGTH[requirements.length]

        if story.source_text and not story.scenes:
            async with progress.step(story, "scenes", "Splitting the text into scenes."):
                parts = await self._timed("scenes", writer.split_story(requirements, story.source_text, count))
                for i, part in enumerate(parts):
                    await self._put_scene(claim, story_id, _scene(i, part, story.options))
                await self._update(claim, story_id, title=story.title or parts[0].title,
                                   planned_scene_count=len(parts),
                                   outline=[OutlineScene(p.title, p.text[:120]) for p in parts])
            story = await self._load(story_id)

        if not story.premise and not story.source_text:
            async with progress.step(story, "premise", "Thinking of the idea."):
                premise = await self._timed("premise", writer.premise(requirements))
                await self._update(claim, story_id, premise=premise.premise,
                                   title=story.title or requirements.title or premise.title)
            story = await self._load(story_id)

        if not story.outline:
            async with progress.step(story, "outline", "Planning the scenes."):
                outline = await self._timed("outline", writer.outline(requirements, story.premise, count))
                await self._update(claim, story_id, outline=list(outline), planned_scene_count=len(outline))
            story = await self._load(story_id)

        await self._scene_units(progress, story, requirements, claim)

        await self.clock.save()
        # Reported first: the report is fenced, so a worker that lost the task stops here and marks nothing.
        await ctx.progress(stage="done", percent=100, message="The story is ready.")
        await self._update(claim, story_id, state="READY", update_time=self._clock.now())

    async def _scene_units(self, progress: _Progress, story: Story, requirements: StoryRequirements,
                           claim: TaskClaim | None) -> None:
        """Each scene is a unit: its text, then its picture and its narration, stored step by step (the
        checkpoints: a resumed story redoes no finished step), announced (SCENE_READY) once complete, and then its
        renditions made. Texts are written in order, as each follows the ones before.

        With a CPU budget of one (`scene_concurrency` 1), the sequential pipeline: one scene after the other, its
        picture, then its narration. With more, every scene's picture is painted (one at a time, in order, the first
        unfinished scene's first and the others once it is out; as many at once as the budget in a story without
        narration) while narrations run, up to `scene_concurrency` of them at once, each at its scene's priority:
        the narrator gives the lowest scene number all the CPU it can use (its sentences in parallel) and the next
        scenes what is left, so scene 1 is ready first and no core waits for a scene to end."""
        story_id, total = story.id, len(story.outline)
        texts = [asyncio.Event() for _ in range(total)]
        for scene in story.scenes:
            texts[scene.index].set()
        overlap = self._scene_concurrency > 1
        narrating = asyncio.Semaphore(self._scene_concurrency)
        # Pictures one at a time beside the narrations (which keep the cores busy), as many as scenes when unnarrated.
        painting = asyncio.Semaphore(self._scene_concurrency if story.options.skip_narration else 1)
        writes = asyncio.Lock()  # a scene's picture and narration are stored from two tasks: one read-change-write
        # The other pictures wait until the first unfinished scene is out: they take CPU from its narration, and are
        # not wanted before their own narrations, which come after its.
        lead = next((s.index for s in story.scenes if not _complete(s)), len(story.scenes))
        lead_out = asyncio.Event()

        async def write_texts() -> None:
            for index in range(len(story.scenes), total):
                current = await self._load(story_id)
                async with progress.step(current, "scenes", f"Writing scene {index + 1} of {total}."):
                    written = [s.as_text() for s in current.scenes]
                    part = await self._timed("scenes", self._engines.writer.scene(
                        requirements, current.premise, current.outline, index, written))
                    await self._put_scene(claim, story_id, _scene(index, part, current.options))
                texts[index].set()

        async def unit(index: int) -> None:
            await texts[index].wait()
            picture = functools.partial(self._scene_picture, progress, story_id, index, requirements, writes, claim)
            narration = functools.partial(self._scene_narration, progress, story_id, index, requirements, writes,
                                          claim)
            if not overlap:
                async with narrating:
                    await picture()
                    await narration()
                    await progress.scene_ready(await self._load(story_id), index)
            else:
                async def paint() -> None:
                    if index > lead:  # (the scenes before it are finished: nothing to paint)
                        await lead_out.wait()
                    async with painting:
                        await picture()

                painted = asyncio.create_task(paint(), name=f"story-picture-{index}")
                try:
                    # Announced before the slot is free: a scene ready is news before the next one narrates.
                    async with narrating:
                        await narration()
                        await painted
                        await progress.scene_ready(await self._load(story_id), index)
                finally:
                    if index == lead:
                        lead_out.set()
                    painted.cancel()
                    await asyncio.gather(painted, return_exceptions=True)
            await self._scene_renditions(await self._load(story_id), index)

        jobs = [asyncio.create_task(write_texts(), name="story-texts")]
        jobs += [asyncio.create_task(unit(i), name=f"story-scene-{i}") for i in range(total)]
        try:
            await asyncio.gather(*jobs)  # the first failure (a fenced write, an engine error) ends the story's run
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)

    async def _scene_picture(self, progress: _Progress, story_id: str, index: int, requirements: StoryRequirements,
                             writes: asyncio.Lock, claim: TaskClaim | None) -> None:
        """The scene's picture, unless it is stored already."""
        story = await self._load(story_id)
        scene = next(s for s in story.scenes if s.index == index)
        if scene.picture_state != "PENDING":
            return
        async with progress.step(story, "illustrations", f"Painting scene {index + 1}."):
            media_id = await self._asset("illustrations", functools.partial(
                self._picture, story.user_id, scene, requirements, made_by_task(claim)))
            async with self._media.attaching(story.user_id, [media_id]) as attach:  # refused: the picture goes
                await self._update_scene(claim, story_id, index, writes, attach, picture_id=media_id,
                                         picture_state="READY" if media_id else "FAILED")

    async def _scene_narration(self, progress: _Progress, story_id: str, index: int,
                               requirements: StoryRequirements, writes: asyncio.Lock, claim: TaskClaim | None) -> None:
        """The scene's narration, unless it is stored already."""
        story = await self._load(story_id)
        scene = next(s for s in story.scenes if s.index == index)
        if scene.narration_state != "PENDING":
            return
        async with progress.step(story, "narration", f"Reading scene {index + 1} aloud.", units=_words(scene.text)):
            media_id = await self._asset("narration", functools.partial(
                self._narration, story.user_id, scene, requirements, made_by_task(claim)))
            async with self._media.attaching(story.user_id, [media_id]) as attach:  # refused: the narration goes
                await self._update_scene(claim, story_id, index, writes, attach, narration_id=media_id,
                                         narration_state="READY" if media_id else "FAILED")

    async def _update_scene(self, claim: TaskClaim | None, story_id: str, index: int, writes: asyncio.Lock,
                            attach: Sequence[str], **fields: Any) -> None:
        """Changes some fields of a stored scene: reads that scene alone, writes it back whole (`_put_scene`),
        attaching the media `attach`."""
        async with writes:
            found = await self._repo.scene(story_id, index)
            if found is None:
                raise NotFound(f"stories/{story_id}")
            await self._put_scene(claim, story_id, dataclasses.replace(found[1], **fields), attach)

    async def _scene_renditions(self, story: Story, index: int) -> None:
        """The renditions of the scene's picture and narration (made after the scene is announced: an app shows the
        scene without them, a bundle wants them)."""
        scene = next(s for s in story.scenes if s.index == index)
        ids = [i for i in (scene.picture_id, scene.narration_id) if i]
        for item in (await self._media.get_many(story.user_id, ids)).values():
            await self._renditions(item)

    async def _timed(self, stage: str, work: Awaitable[T]) -> T:
        """One step of a stage, timed for metrics, as a trace span (the writer's calls as engine spans: the painter
        and narrator make their own)."""
        telemetry = self._tasks.telemetry
        started = self._clock.monotonic()
        with telemetry.span(f"stage {stage}", {"storyloom.stage": stage}):
            if stage in WRITER_STAGES:
                with telemetry.engine_call(f"text.{stage}"):
                    result = await work
            else:
                result = await work
        seconds = self._clock.monotonic() - started
        telemetry.stage_unit(CREATE_KIND, stage, seconds)
        return result

    async def _asset(self, stage: str, make: Callable[[], Awaitable[str]]) -> str | None:
        """Makes a picture or narration, retrying; a persistent failure is reported, not fatal."""
        for attempt in range(1, self.ASSET_ATTEMPTS + 1):
            try:
                return await self._timed(stage, make())
            except asyncio.CancelledError:
                raise
            except Exception:  # the scene's text is fine without this asset
                log.warning("asset failed", extra={"stage": stage, "attempt": attempt}, exc_info=True)
                if attempt < self.ASSET_ATTEMPTS:
                    await asyncio.sleep(self._asset_retry_delay * 2 ** (attempt - 1))
        return None

    async def _picture(self, user_id: str, scene: Scene, requirements: StoryRequirements, made_by: str) -> str:
        width, height = PICTURE_SIZE
        picture = await self._engines.illustrator.illustrate(scene.as_text(), requirements, width=width, height=height)
        item = await self._media.store(user_id, picture.png, "image/png", thumbnail_side=THUMBNAIL_SIDE,
                                       made_by_task=made_by)
        return item.id  # its medium rendition, for apps that cache the story (bundles), once the scene is out

    async def _narration(self, user_id: str, scene: Scene, requirements: StoryRequirements, made_by: str) -> str:
        text, options = narration_request(scene.text, requirements)
        narration = await self._engines.narrator.narrate(text, words_per_minute=options["words_per_minute"],
                                                         priority=scene.index)
        item = await self._media.store(user_id, narration.wav, "audio/wav", made_by_task=made_by)
        return item.id  # its 30-second Ogg/Opus preview once the scene is out

    async def _renditions(self, item: MediaItem) -> None:
        """Renditions are a convenience: one that fails is made again when a bundle asks for it."""
        try:
            await self._media.complete_renditions(item)
        except Exception:  # the picture or narration itself is stored and fine
            log.warning("renditions failed", extra={"media": item.id}, exc_info=True)

    async def _load(self, story_id: str) -> Story:
        story = await self._repo.get(story_id)
        if story is None:
            raise NotFound(f"stories/{story_id}")
        return story


class _Progress:
    """One run's reports: each step says what it does (percent of the expected seconds done, an ETA from the run's
    throughput) and, when it ends, how long it took (a unit's cost: the engine call and storing what it made); each
    finished scene is announced with its own event, and the first one's delay is measured (`first_scene_ready`)."""

    def __init__(self, ctx: TaskContext, costs: StageClock, clock: Clock, telemetry: Telemetry, run: RunEstimate):
        self._ctx = ctx
        self._costs = costs
        self._clock = clock
        self._telemetry = telemetry
        self._run = run
        self._started = clock.monotonic()
        # Scenes whose SCENE_READY event is stored (in the task's checkpoint, written with each such event).
        self._announced: set[int] = set(ctx.checkpoint.get("scenes_ready", []))
        self._first_measured = bool(self._announced)
        # The steps under way (several at once): (stage, units, started).
        self._active: dict[int, tuple[str, float, float]] = {}

    async def report(self, story: Story, stage: str, message: str, **fields: Any) -> None:
        work = self._in_flight(_work(story))
        eta = self._run.eta(work, self._clock.monotonic(), self._clock.now())
        await self._ctx.progress(stage=stage, percent=self._costs.percent(work), message=message, eta=eta, **fields)

    def _in_flight(self, work: list[StageWork]) -> list[StageWork]:
        """The work left, less what the steps under way have done by their expected cost (at most 90 % of each:
        a step is done when it is stored). With several scenes at once, much of the work is under way at any time."""
        now, credit = self._clock.monotonic(), dict.fromkeys((w.stage for w in work), 0.0)
        for stage, units, started in self._active.values():
            expected = self._costs.seconds_per_unit(stage) * units
            if stage in credit and expected > 0:
                credit[stage] += units * min(0.9, (now - started) / expected)
        return [dataclasses.replace(w, remaining=max(0.0, w.remaining - credit[w.stage])) for w in work]

    @contextlib.asynccontextmanager
    async def step(self, story: Story, stage: str, message: str, units: float = 1.0) -> AsyncIterator[None]:
        await self.report(story, stage, message)
        started = self._clock.monotonic()
        key = id(asyncio.current_task())
        self._active[key] = (stage, units, started)
        try:
            yield
        finally:
            self._active.pop(key, None)
        self._costs.record(stage, (self._clock.monotonic() - started) / max(units, 1e-6))

    async def scene_ready(self, story: Story, index: int) -> None:
        """Announces a complete scene (once, across resumptions)."""
        if index in self._announced:
            return
        self._announced.add(index)
        if not self._first_measured:  # the wait for the first scene, from this run's start
            self._first_measured = True
            seconds = self._clock.monotonic() - self._started
            self._costs.record(FIRST_SCENE_STAGE, seconds)
            self._telemetry.stage_unit(CREATE_KIND, FIRST_SCENE_STAGE, seconds)
        checkpoint = {**self._ctx.checkpoint, "scenes_ready": sorted(self._announced)}
        await self.report(story, "scene_ready", f"Scene {index + 1} of {len(story.outline)} is ready.",
                          checkpoint=checkpoint, part=TaskPart(SCENE_READY, {"story_id": story.id, "index": index}))


# Reading pace: little ones and bedtime stories slowly, everyone else at an easy reading-aloud pace.
SLOW_WORDS_PER_MINUTE = 140.0
EASY_WORDS_PER_MINUTE = 160.0


def narration_request(text: str, requirements: StoryRequirements) -> tuple[str, dict[str, float]]:
    """What a scene's narration reads (its text: the title is shown, not read) and at what pace."""
    bedtime = requirements.tone == "CALM" or requirements.persona == "BEDTIME_STORYTELLER" or (
        "bedtime" in requirements.genre.lower())
    young = requirements.audience_age_group in ("PRESCHOOL", "")
    pace = SLOW_WORDS_PER_MINUTE if bedtime or young else EASY_WORDS_PER_MINUTE
    return text, {"words_per_minute": pace}


def _scene(index: int, part: SceneText, options: StoryOptions) -> Scene:
    """A newly written scene; assets the caller did not ask for are SKIPPED from the start."""
    return Scene(index=index, title=part.title, text=part.text, mood=part.mood,
                 illustration_prompt=part.illustration_prompt, picture_spec=part.picture,
                 picture_state="SKIPPED" if options.skip_illustrations else "PENDING",
                 narration_state="SKIPPED" if options.skip_narration else "PENDING")


def _complete(scene: Scene) -> bool:
    return scene.picture_state != "PENDING" and scene.narration_state != "PENDING"


def _words(text: str) -> int:
    return len(text.split())


def _work(story: Story) -> list[StageWork]:
    """The work of each stage of the story's task, in all and still to do: one unit per step, except narration,
    whose unit is a word (a long scene takes longer to read; scenes not written yet count as long as the average
    written one, or WORDS_PER_SCENE)."""
    scenes = story.planned_scene_count or story.options.scene_count or 5
    planned = bool(story.source_text)  # a given text is split into scenes: no premise, no outline
    pictures = 0 if story.options.skip_illustrations else scenes
    asking = bool(story.conversation_id)
    written = [_words(s.text) for s in story.scenes]
    average = sum(written) / len(written) if written else WORDS_PER_SCENE
    unwritten = max(0, scenes - len(written)) * average
    if story.options.skip_narration:
        words = words_left = 0.0
    else:
        words = sum(written) + unwritten
        words_left = unwritten + sum(_words(s.text) for s in story.scenes if s.narration_state == "PENDING")
    work = [
        StageWork("requirements", int(asking), int(asking and story.requirements == StoryRequirements())),
        StageWork("premise", int(not planned), int(not (story.premise or planned))),
        StageWork("outline", int(not planned), int(not (story.outline or planned))),
        StageWork("scenes", scenes, scenes - len(story.scenes)),
        StageWork("illustrations", pictures, pictures - sum(s.picture_state != "PENDING" for s in story.scenes)),
        StageWork("narration", words, words_left),
    ]
    return [dataclasses.replace(w, remaining=min(w.total, max(0, w.remaining))) for w in work]


def _fingerprint(requirements: StoryRequirements | None, conversation_id: str, text: str, options: StoryOptions) -> str:
    source = {"requirements": dataclasses.asdict(requirements) if requirements else None,
              "conversation": conversation_id, "text": text, "options": dataclasses.asdict(options)}
    return hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()


def markdown_text(text: str) -> str:
    """Text as it reads, for a Markdown document: HTML's special characters as entities (a `<script>` in a title
    shows as written), and the brackets that would close an image's alt text or open a link escaped."""
    return html.escape(text, quote=False).replace("[", "\\[").replace("]", "\\]")


def _download_path(media_id: str) -> str:
    return f"/v1/media/{media_id}:download"


def export_text(story: Story, fmt: Literal["MARKDOWN", "PLAIN_TEXT"],
                picture_link: Callable[[str], str] = _download_path) -> tuple[str, bytes]:
    """The story as Markdown or plain text. `picture_link` gives the Markdown's link to a picture (by media id):
    the gateway's download path by default, a path relative to the archive in a bundle."""
    title = story.title or "Untitled story"
    if fmt == "PLAIN_TEXT":
        parts = [title, "=" * len(title), ""]
        for scene in story.scenes:
            parts += [scene.title, "", scene.text.strip(), ""]
        return "text/plain; charset=utf-8", "\n".join(parts).encode()
    # Text from users and models is text: escaped, so that no renderer of the Markdown runs HTML in it.
    md = markdown_text
    parts = [f"# {md(title)}", ""]
    if story.premise:
        parts += [f"*{md(story.premise.strip())}*", ""]
    for scene in story.scenes:
        parts += [f"## {md(scene.title)}", ""]
        if scene.picture_id:
            parts += [f"![{md(scene.title)}]({picture_link(scene.picture_id)})", ""]
        parts += [md(scene.text.strip()), ""]
    return "text/markdown; charset=utf-8", "\n".join(parts).encode()

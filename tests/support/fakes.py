"""In-memory fakes of the domain's ports, for the unit tests: a clock the test moves, repositories in dicts that keep
the promises their protocols make (request ids, ordering, cursors, quotas), and engines that answer from a script.

They hold no locks and do no I/O: a unit test on them runs in milliseconds. What only a real database can show
(transactions, concurrent writers, PostgreSQL vs SQLite) is tested in tests/integration/store on the real ones.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import datetime as dt
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from storyloom.domain.media import Inspection, MediaItem
from storyloom.domain.ports.story import Narration, OutlineScene, Picture, Premise, SceneText
from storyloom.domain.ports.text import ChatEvent, ChatRequest, ChatTurn, ReplyEnd, TextDelta
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Scene, Story, StoryState
from storyloom.domain.tasks import (
    LIVE_STATES,
    NewTask,
    Task,
    TaskClaim,
    TaskEvent,
    TaskState,
    TaskUpdate,
)
from tests.support.media import png_bytes, wav_bytes

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class FakeClock:
    """A clock that moves only when the test says: `advance(seconds)`. Both readings move together."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self._now = start
        self._monotonic = 1000.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._monotonic += seconds


# --- accounts -----------------------------------------------------------------------------------------------------


class InMemoryAccountRepository:
    def __init__(self) -> None:
        self.users: dict[str, Any] = {}
        self.keys: dict[str, tuple[str, dt.datetime | None]] = {}  # hash -> (user, revoke time)
        self.lookups = 0  # how often a key was looked up (what the cache spares)

    async def add_user(self, user: Any) -> None:
        self.users[user.id] = user

    async def get_user(self, user_id: str) -> Any | None:
        return self.users.get(user_id)

    async def count_users(self) -> int:
        return len(self.users)

    async def add_key(self, key_id: str, user_id: str, key_hash: str, now: dt.datetime) -> None:
        self.keys[key_hash] = (user_id, None)

    async def user_for_key(self, key_hash: str) -> str | None:
        self.lookups += 1
        user_id, revoked = self.keys.get(key_hash, ("", None))
        return user_id if user_id and revoked is None else None

    async def revoke_key(self, key_hash: str, now: dt.datetime) -> bool:
        user_id, revoked = self.keys.get(key_hash, ("", None))
        if not user_id or revoked is not None:
            return False
        self.keys[key_hash] = (user_id, now)
        return True


# --- tasks --------------------------------------------------------------------------------------------------------


class InMemoryTaskRepository:
    """SqlTaskRepository's behaviour: a task and its events, the next event a snapshot after each update."""

    announces_tasks = False  # one process: the runner tells its watchers itself

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.events: dict[str, list[TaskEvent]] = {}

    async def create(self, task: Task, first_event: TaskEvent) -> tuple[Task, bool]:
        if task.request_id:
            for other in self.tasks.values():
                if other.user_id == task.user_id and other.request_id == task.request_id:
                    return other, False
        self.tasks[task.id] = task
        self.events[task.id] = [first_event]
        return task, True

    async def get(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)

    async def append_event(self, task_id: str, update: TaskUpdate, now: dt.datetime) -> tuple[Task, TaskEvent]:
        task = self.tasks.get(task_id)
        if task is None:
            raise LookupError(f"task {task_id} does not exist")
        changes: dict[str, Any] = {name: getattr(update, name) for name in (
            "stage", "percent", "message", "attempt", "start_time", "end_time", "checkpoint", "result", "error",
            "eta", "state") if getattr(update, name) is not None}
        if update.clear_eta:
            changes["eta"] = None
        task = dataclasses.replace(task, **changes, update_time=now, last_sequence=task.last_sequence + 1)
        event = TaskEvent(task_id, task.last_sequence, now, task.state, task.stage, task.percent, task.message,
                          task.eta, update.error, update.part)
        self.tasks[task_id] = task
        self.events[task_id].append(event)
        return task, event

    async def claim(self, claims: Sequence[tuple[str, int | None]], owner: str, now: dt.datetime,
                    messages: tuple[str, str]) -> builtins.list[tuple[Task, TaskEvent]]:
        claimed = []
        for task_id, attempt in claims:
            task = self.tasks.get(task_id)
            if (task is None or task.state is not TaskState.PENDING or task.owner
                    or attempt is not None and task.attempt != attempt):
                continue
            claimed.append(await self.append_event(task_id, TaskUpdate(
                state=TaskState.RUNNING, attempt=task.attempt + 1, start_time=task.start_time or now,
                message=messages[0] if task.attempt == 0 else messages[1]), now))
            self.tasks[task_id] = dataclasses.replace(self.tasks[task_id], owner=owner, heartbeat_time=now)
        return claimed

    async def events_after(self, task_id: str, after_sequence: int, limit: int) -> list[TaskEvent]:
        return [e for e in self.events.get(task_id, []) if e.sequence > after_sequence][:limit]

    async def list(self, user_id: str, *, states: tuple[TaskState, ...], kind: str, limit: int,
                   after: tuple[dt.datetime, str] | None) -> list[Task]:
        found = [t for t in self.tasks.values() if t.user_id == user_id and (not states or t.state in states)
                 and (not kind or t.kind == kind) and (after is None or (t.create_time, t.id) < after)]
        return sorted(found, key=lambda t: (t.create_time, t.id), reverse=True)[:limit]

    async def live(self) -> builtins.list[Task]:
        return sorted((t for t in self.tasks.values() if t.state in LIVE_STATES), key=lambda t: t.create_time)

    async def delete(self, task_id: str) -> None:
        self.tasks.pop(task_id, None)
        self.events.pop(task_id, None)

    async def delete_finished_before(self, cutoff: dt.datetime) -> int:
        old = [t.id for t in self.tasks.values() if t.end_time is not None and t.end_time < cutoff]
        for task_id in old:
            await self.delete(task_id)
        return len(old)


# --- stories and media --------------------------------------------------------------------------------------------


class InMemoryStoryRepository:
    """Stories in memory. Writes under a task's claim are not fenced here (the fake task repository keeps no fences):
    the real store's fencing is tested on it (tests/integration/store/test_story_fencing.py)."""

    def __init__(self, tasks: InMemoryTaskRepository | None = None) -> None:
        self.stories: dict[str, Story] = {}
        self.requests: dict[tuple[str, str], str] = {}
        self.updates: list[tuple[str, dict[str, Any]]] = []  # every update, to see what a stage stored
        self.tasks = tasks if tasks is not None else InMemoryTaskRepository()  # stories' tasks, stored with them

    async def create(self, story: Story, request_id: str, task: NewTask) -> tuple[Story, bool]:
        if request_id and (story.user_id, request_id) in self.requests:
            return self.stories[self.requests[story.user_id, request_id]], False
        self.stories[story.id] = story
        await self.tasks.create(task.task, task.first_event)
        if request_id:
            self.requests[story.user_id, request_id] = story.id
        return story, True

    async def get(self, story_id: str) -> Story | None:
        return self.stories.get(story_id)

    async def scene(self, story_id: str, index: int) -> tuple[str, Scene] | None:
        story = self.stories.get(story_id)
        found = next((s for s in story.scenes if s.index == index), None) if story is not None else None
        return (story.user_id, found) if story is not None and found is not None else None

    async def list(self, user_id: str, *, states: tuple[StoryState, ...], limit: int,
                   after: tuple[dt.datetime, str] | None) -> list[Story]:
        found = [dataclasses.replace(s, scenes=()) for s in self.stories.values() if s.user_id == user_id
                 and (not states or s.state in states) and (after is None or (s.create_time, s.id) < after)]
        return sorted(found, key=lambda s: (s.create_time, s.id), reverse=True)[:limit]

    async def find_recent(self, user_id: str, fingerprint: str, since: dt.datetime) -> Story | None:
        found = [s for s in self.stories.values() if s.user_id == user_id and s.fingerprint == fingerprint
                 and s.create_time >= since and s.state in ("GENERATING", "READY")]
        return max(found, key=lambda s: s.create_time, default=None)

    async def update(self, story_id: str, *, claim: TaskClaim | None = None, **fields: Any) -> None:
        self.updates.append((story_id, fields))
        if "outline" in fields:
            fields["outline"] = tuple(fields["outline"])
        self.stories[story_id] = dataclasses.replace(self.stories[story_id], **fields)

    async def put_scene(self, story_id: str, scene: Scene, *, claim: TaskClaim | None = None,
                        attach: Sequence[str] = ()) -> None:
        story = self.stories[story_id]
        scenes = {s.index: s for s in story.scenes} | {scene.index: scene}
        self.stories[story_id] = dataclasses.replace(story, scenes=tuple(scenes[i] for i in sorted(scenes)))

    async def delete(self, story_id: str) -> builtins.list[str]:
        story = self.stories.pop(story_id, None)
        if story is None:
            return []
        return [i for s in story.scenes for i in (s.picture_id, s.narration_id) if i]


class InMemoryMediaRepository:
    """Media rows and blob reference counts (rows plus pins), as MediaRepository describes them."""

    def __init__(self) -> None:
        self.items: dict[str, MediaItem] = {}
        self.requests: dict[tuple[str, str], str] = {}
        self.pins: dict[str, int] = {}
        self.made_by_task: dict[str, str] = {}  # media id: the task that stored it (not attached yet)

    def references(self, sha256: str) -> int:
        return self.pins.get(sha256, 0) + sum(1 for item in self.items.values() if item.sha256 == sha256)

    async def add(self, item: MediaItem, request_id: str, made_by_task: str = "") -> tuple[MediaItem, bool]:
        if request_id and (item.user_id, request_id) in self.requests:
            return self.items[self.requests[item.user_id, request_id]], False
        self.items[item.id] = item
        if made_by_task:
            self.made_by_task[item.id] = made_by_task
        self.pins[item.sha256] -= 1  # the row takes over the upload's pin
        if request_id:
            self.requests[item.user_id, request_id] = item.id
        return item, True

    async def get(self, media_id: str) -> MediaItem | None:
        item = self.items.get(media_id)
        if item is None:
            return None
        renditions = tuple(i for i in self.items.values() if i.parent_id == media_id)
        return dataclasses.replace(item, renditions=renditions)

    async def get_many(self, media_ids: list[str]) -> dict[str, MediaItem]:
        found = {i: await self.get(i) for i in media_ids}
        return {i: item for i, item in found.items() if item is not None}

    async def delete(self, user_id: str, media_ids: list[str]) -> list[str]:
        doomed = [i for i in self.items.values() if i.user_id == user_id
                  and (i.id in media_ids or i.parent_id in media_ids)]
        for item in doomed:
            del self.items[item.id]
            self.made_by_task.pop(item.id, None)
        return sorted({i.sha256 for i in doomed if self.references(i.sha256) == 0})

    async def pin_blob(self, sha256: str, size_bytes: int) -> None:
        self.pins[sha256] = self.pins.get(sha256, 0) + 1

    async def release_pin(self, sha256: str, media_id: str) -> bool:
        if media_id not in self.items:
            self.pins[sha256] -= 1
        return self.references(sha256) == 0

    async def remove_blob_if_unreferenced(self, sha256: str, remove: Callable[[str], Awaitable[None]]) -> bool:
        if self.references(sha256):
            return False
        await remove(sha256)
        self.pins.pop(sha256, None)
        return True

    async def unreferenced_blobs(self, pins_older_than: dt.timedelta) -> list[str]:
        return [sha for sha in self.pins if self.references(sha) == 0]

    async def unattached(self, limit: int) -> list[tuple[str, str]]:
        return []  # no tasks here to have ended: the store's sweep is tested on it (tests/integration)


class InMemoryBlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        self.blobs.setdefault(sha256, data)
        return sha256

    async def read(self, sha256: str, offset: int, limit: int, chunk_size: int) -> AsyncIterator[bytes]:
        data = self.blobs[sha256][offset:offset + limit]
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]

    async def delete(self, sha256: str) -> None:
        self.blobs.pop(sha256, None)

    async def recover(self) -> None:
        pass


# --- engines ------------------------------------------------------------------------------------------------------


class TrustingInspector:
    """A media inspector that takes the declared content type as it is (the fakes' media are what they say)."""

    def inspect(self, data: bytes, content_type: str, field: str = "") -> Inspection:
        return Inspection(content_type)


class ScriptedTextEngine:
    """A text engine and story writer that answers from what the test sets, and records what it was asked.

    `reply` is the chat reply, streamed one word per TextDelta; `gate`, when set, holds the stream after its first
    delta until the test sets it (a reply "being written"); `fail_with` makes chat raise after `fail_after` deltas.
    Every message counts `tokens_per_text` tokens.
    """

    name = "scripted"

    def __init__(self, reply: str = "Once upon a time there was a fox.") -> None:
        self.reply = reply
        self.gate: asyncio.Event | None = None
        self.fail_with: BaseException | None = None
        self.fail_after = 0
        self.tokens_per_text = 10
        self.requirements = StoryRequirements()
        self.requests: list[ChatRequest] = []
        self.summaries: list[tuple[list[ChatTurn], str]] = []
        self.extractions = 0
        self.scenes_written: list[int] = []
        self.closed_streams = 0

    async def chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent]:
        self.requests.append(request)
        try:
            for i, word in enumerate(self.reply.split(" ")):
                if self.fail_with is not None and i >= self.fail_after:
                    raise self.fail_with
                yield TextDelta(word if i == 0 else " " + word)
                if i == 0 and self.gate is not None:
                    await self.gate.wait()
            yield ReplyEnd("STOP", 7, len(self.reply.split(" ")))
        finally:
            self.closed_streams += 1

    async def extract_requirements(self, turns: Sequence[ChatTurn], known: StoryRequirements) -> StoryRequirements:
        self.extractions += 1
        return self.requirements

    async def summarize(self, turns: Sequence[ChatTurn], previous_summary: str) -> str:
        self.summaries.append((list(turns), previous_summary))
        return f"summary of {len(turns)} turns"

    def count_tokens(self, text: str) -> int:
        return self.tokens_per_text if text else 0

    async def aclose(self) -> None:
        pass

    # the story writer

    async def premise(self, requirements: StoryRequirements) -> Premise:
        return Premise("The Fox and the Moon", "A fox looks for the moon.")

    async def outline(self, requirements: StoryRequirements, premise: str, scene_count: int) -> list[OutlineScene]:
        return [OutlineScene(f"Scene {i + 1}", f"what happens in scene {i + 1}") for i in range(scene_count)]

    async def scene(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene], index: int,
                    story_so_far: Sequence[SceneText]) -> SceneText:
        assert len(story_so_far) == index, "a scene is written after all the ones before it"
        self.scenes_written.append(index)
        return SceneText(outline[index].title, f"The fox walked on ({index + 1}).", "cozy", "a fox under the moon")

    async def opening(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene]) -> str:
        return "Once upon a time."

    async def continue_story(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene],
                             story_so_far: str) -> tuple[str, bool]:
        return "The end.", True

    async def split_story(self, requirements: StoryRequirements, text: str, scene_count: int) -> list[SceneText]:
        parts = [p.strip() for p in text.split("\n\n") if p.strip()][:scene_count]
        return [SceneText(f"Part {i + 1}", part, "calm", part[:60]) for i, part in enumerate(parts)]


class FakeIllustrator:
    """Paints a tiny PNG; fails its first `failures` calls."""

    name = "fake"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0

    async def illustrate(self, scene: SceneText, requirements: StoryRequirements, *, width: int,
                         height: int) -> Picture:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("the painter is out of paint")
        return Picture(png_bytes(8, 6), 8, 6)

    async def aclose(self) -> None:
        pass


class FakeNarrator:
    """Reads a tenth of a second of silence; remembers each pace and text it was asked for, and how many narrations
    ran at once (each lets the event loop run a few times, so concurrent callers overlap)."""

    name = "fake"

    def __init__(self) -> None:
        self.paces: list[float] = []
        self.texts: list[str] = []
        self.priorities: list[int] = []
        self.log: list[tuple[str, str]] = []  # ("start" | "end", text)
        self.running = 0
        self.peak = 0
        # When set, narrations after the first `gate_after` wait for it (work "in progress" a test can interrupt).
        self.gate: asyncio.Event | None = None
        self.gate_after = 0

    async def narrate(self, text: str, *, voice: str = "", words_per_minute: float = 0.0,
                      priority: int = 0) -> Narration:
        self.paces.append(words_per_minute)
        self.priorities.append(priority)
        self.texts.append(text)
        self.log.append(("start", text))
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if self.gate is not None and len(self.texts) > self.gate_after:
                await self.gate.wait()
            for _ in range(20):
                await asyncio.sleep(0)
        finally:
            self.running -= 1
        self.log.append(("end", text))
        return Narration(wav_bytes(0.1), 16000, 0.1)

    async def warm_up(self) -> None:
        pass

    async def aclose(self) -> None:
        pass



async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Lets the event loop run until `condition()` holds. On fakes, every step is the loop's own work, so this
    returns after a few passes; the deadline is generous, and only reports a condition that never comes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {condition}")
        await asyncio.sleep(0.001)

"""The story pipeline's engine ports: a writer, an illustrator and a narrator.

The writer is implemented by the text engines (Gemini, the offline storyteller); pictures by
Gemini image generation or a procedural Pillow illustrator; narration by piper-tts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from storyloom.domain.picture_spec import PictureSpec
from storyloom.domain.requirements import StoryRequirements


@dataclasses.dataclass(frozen=True)
class OutlineScene:
    title: str
    summary: str


@dataclasses.dataclass(frozen=True)
class Premise:
    title: str
    premise: str


@dataclasses.dataclass(frozen=True)
class SceneText:
    title: str
    text: str  # plain text, a few short paragraphs
    mood: str  # one word the picture follows: cozy, bright, mysterious, tense, joyful, calm...
    # What the picture should show, in one sentence (characters, place, action).
    illustration_prompt: str
    # The same, structured (who with species, colour, gender and age; key objects; setting; time of day), when
    # the writer knows it; painters derive it from the text otherwise.
    picture: PictureSpec | None = None


class StoryWriter(Protocol):
    """Writes stories for the audience and content rating in the requirements, never above them.

    Unknown requirements are filled with safe defaults (see StoryRequirements' field docs).
    """

    async def premise(self, requirements: StoryRequirements) -> Premise: ...

    async def outline(self, requirements: StoryRequirements, premise: str, scene_count: int) -> list[OutlineScene]:
        """Exactly `scene_count` scenes: a beginning, a middle and an end that follows the ending preference."""

    async def scene(
        self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene], index: int,
        story_so_far: Sequence[SceneText],
    ) -> SceneText:
        """Writes scene `index` (0-based) of the outline, continuing from the scenes before it."""

    async def opening(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene]) -> str: ...

    async def continue_story(
        self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene], story_so_far: str,
    ) -> tuple[str, bool]:
        """The next part of the story and whether the story has now reached its ending."""

    async def split_story(self, requirements: StoryRequirements, text: str, scene_count: int) -> list[SceneText]:
        """Splits a story written elsewhere into at most `scene_count` scenes, keeping its words."""


@dataclasses.dataclass(frozen=True)
class Picture:
    png: bytes
    width: int
    height: int


class Illustrator(Protocol):
    name: str

    async def illustrate(self, scene: SceneText, requirements: StoryRequirements, *, width: int,
                         height: int) -> Picture:
        """A picture for the scene in the requirements' illustration style, as PNG."""

    async def aclose(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class Narration:
    wav: bytes  # 16-bit mono PCM WAV
    sample_rate_hertz: int
    duration_seconds: float


class Narrator(Protocol):
    name: str

    async def narrate(self, text: str, *, voice: str = "", words_per_minute: float = 0.0,
                      priority: int = 0) -> Narration:
        """Reads the text aloud, at about `words_per_minute` when given, loudness-normalized; CPU work runs off
        the event loop. Among narrations waiting for the CPU at once, a lower `priority` goes first (a story's
        scene 1 before its scene 2); a narrator that runs one at a time may ignore it."""

    async def warm_up(self) -> None:
        """Loads the voice and speaks once, so the first story is as fast as the next."""

    async def aclose(self) -> None: ...

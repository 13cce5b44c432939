"""The text engine port: what the conversation and story features need from a language model."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Sequence
from typing import Literal, Protocol

from storyloom.domain.errors import DomainError, ResourceExhausted, Unavailable
from storyloom.domain.ports.story import StoryWriter
from storyloom.domain.requirements import StoryRequirements


@dataclasses.dataclass(frozen=True)
class ChatTurn:
    role: Literal["user", "assistant"]
    text: str


@dataclasses.dataclass(frozen=True)
class ChatRequest:
    """One assistant reply to write.

    `turns` is the recent history, oldest first, ending with the user's new message; what came
    before it is condensed in `summary`. `requirements` is what is known so far about the story.
    """

    system_instruction: str
    turns: Sequence[ChatTurn]
    summary: str = ""
    requirements: StoryRequirements = StoryRequirements()
    memories: Sequence[str] = ()
    max_output_tokens: int = 1024
    # False: words go out as fast as they are written, with no pause an engine adds so that streaming shows (a
    # spoken reply is heard at the voice's pace anyway, and its first words should be spoken at once).
    paced: bool = True


@dataclasses.dataclass(frozen=True)
class TextDelta:
    text: str


FinishReason = Literal["STOP", "MAX_TOKENS", "SAFETY"]


@dataclasses.dataclass(frozen=True)
class ReplyEnd:
    finish_reason: FinishReason
    input_tokens: int
    output_tokens: int


ChatEvent = TextDelta | ReplyEnd


class TextEngine(Protocol):
    name: str

    def chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent]:
        """Streams the reply: TextDelta events as soon as they are written, then one ReplyEnd.

        Closing the iterator early (the caller was cancelled) must stop the generation.
        """

    async def extract_requirements(self, turns: Sequence[ChatTurn], known: StoryRequirements) -> StoryRequirements:
        """Reads a conversation and returns the story requirements it states (unknown fields left empty)."""

    async def summarize(self, turns: Sequence[ChatTurn], previous_summary: str) -> str:
        """Condenses older turns (and an earlier summary) into a short plain-text summary."""

    def count_tokens(self, text: str) -> int:
        """An estimate of the tokens `text` costs, for the context budget."""

    async def aclose(self) -> None: ...


class StoryTextEngine(TextEngine, StoryWriter, Protocol):
    """A text engine that also writes stories: the one model behind chat and stories (Gemini, the offline
    storyteller)."""


class EngineRateLimited(ResourceExhausted):
    """The model provider refused for quota; retry after the given delay."""

    default_reason = "ENGINE_RATE_LIMITED"


class EngineUnavailable(Unavailable):
    """The model provider failed or timed out."""

    default_reason = "ENGINE_UNAVAILABLE"


class EngineRefused(DomainError):
    """The prompt itself was blocked for safety before any text was written."""

    code = "FAILED_PRECONDITION"
    default_reason = "CONTENT_BLOCKED"

"""The production text engine: Google Gemini through the google-genai SDK.

Chat replies stream (child-safe safety settings, the model's own thinking level: the default model thinks
minimally unless asked); requirement extraction uses JSON-schema structured output; summaries are a short plain-text
call. Token counts are estimated locally. As a StoryWriter, every step (premise, outline, scene, opening,
continuation, split) is one structured-output call whose system instruction states the audience, the content rating
and the style (prompts and parsing live in `gemini_story`).

Every call goes through a `GeminiConnection` (engines/gemini_client.py): its API version (v1beta by default, which
has system instructions and structured output; the engine refuses at construction a version that lacks what it
sends), its retry policy and its error classification. Once a reply's first text has been forwarded, any failure
ends the reply with `EngineUnavailable` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from google.genai import types

from storyloom.domain.ports.story import OutlineScene, Premise, SceneText
from storyloom.domain.ports.text import (
    ChatEvent,
    ChatRequest,
    ChatTurn,
    EngineUnavailable,
    FinishReason,
    ReplyEnd,
    TextDelta,
)
from storyloom.domain.requirements import ENUM_VALUES, Character, StoryRequirements, enum_spelling
from storyloom.engines.gemini_client import (
    SAFETY_FINISH_REASONS,
    SAFETY_SETTINGS,
    GeminiConnection,
    GeminiTimeouts,
    api_version_from_env,
    candidate_text,
    finish_reason,
)
from storyloom.engines.gemini_versions import check_request
from storyloom.engines.text import gemini_story as story
from storyloom.engines.text import scenes
from storyloom.engines.text.story_common import check_scene_count, split_target, split_units

logger = logging.getLogger(__name__)

# A current model that is fast and cheap for chat and extraction and thinks minimally by default (Google names it
# the replacement for gemini-2.5-flash, which was retired in October 2026). STORYLOOM_GEMINI_MODEL changes it.
DEFAULT_MODEL = "gemini-3.5-flash-lite"
MODEL_SETTING = "STORYLOOM_GEMINI_MODEL"
TEXT_TIMEOUTS = GeminiTimeouts()

_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

_EXTRACTION_INSTRUCTION = """\
You read a conversation between a child (or a parent) and a story assistant, and record what the story they are \
planning should be, as JSON matching the response schema.
- Record only what the conversation states or clearly implies. Leave out every field it does not mention; never guess.
- For fields with a list of allowed values, use one of those values exactly, or leave the field out.
- "characters" lists every character of the story, including the already known ones, each with a short description.
- "language_code" is the BCP-47 code of the language the story should be written in.
- "extracted_prompt" is one paragraph, in English, that tells a storyteller everything known about the story to \
write: the already known requirements together with what this conversation adds or changes."""

_SUMMARY_INSTRUCTION = """\
You condense the earlier part of a conversation between a child and a story assistant, so the assistant can go on \
without rereading it. Write a short plain-text summary (at most about 120 words, no lists, no markdown) that keeps \
what matters for the story and the child: names, ideas, choices made, questions still open. Fold the earlier \
summary, if there is one, into the new one."""


def request_config(*, system_instruction: str, max_output_tokens: int, temperature: float,
                   json_schema: dict[str, Any] | None = None) -> types.GenerateContentConfig:
    """The config of every text request: plain text, or JSON matching `json_schema` (structured output).

    No thinking config: thinking_budget=0 is refused by models that cannot turn thinking off, and the default
    model's own level is already the lowest.
    """
    structured: dict[str, Any] = {}
    if json_schema is not None:
        structured = {"response_mime_type": "application/json", "response_json_schema": json_schema}
    return types.GenerateContentConfig(
        system_instruction=system_instruction,
        temperature=temperature,
        max_output_tokens=max_output_tokens,
        safety_settings=list(SAFETY_SETTINGS),
        # No tools, so no function calling; and no continuation hops the retry rules could not see.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        automatic_continuation=False,
        **structured,
    )


# Every shape of request the engine sends, for the API version check at construction.
REQUEST_SHAPES: Mapping[str, types.GenerateContentConfig] = {
    "chat": request_config(system_instruction="-", max_output_tokens=1, temperature=0.8),
    "structured output": request_config(system_instruction="-", max_output_tokens=1, temperature=0.8,
                                        json_schema={"type": "object"}),
}
_SAMPLE_CONTENTS = [types.Content(role="user", parts=[types.Part(text="-")])]


def check_api_version(api_version: str) -> None:
    """Raises UnsupportedByApiVersion if `api_version` lacks a field that some request of the engine sends."""
    for purpose, config in REQUEST_SHAPES.items():
        check_request(api_version, _SAMPLE_CONTENTS, config, purpose=f"text engine's {purpose}")


class GeminiTextEngine:
    """A TextEngine and StoryWriter on Gemini. It owns its connection and closes it."""

    name = "gemini"

    def __init__(self, connection: GeminiConnection, *, model: str = DEFAULT_MODEL,
                 timeouts: GeminiTimeouts = TEXT_TIMEOUTS, temperature: float = 0.8):
        check_api_version(connection.api_version)
        self._connection = connection
        self.model = model
        self.timeouts = timeouts
        self.temperature = temperature

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **options: Any) -> GeminiTextEngine:
        """From GEMINI_API_KEY, STORYLOOM_GEMINI_MODEL, STORYLOOM_GEMINI_BASE_URL and STORYLOOM_GEMINI_API_VERSION."""
        check_api_version(api_version_from_env(environ))  # before the connection exists, so nothing is left open
        return cls(GeminiConnection.from_env(environ), model=environ.get(MODEL_SETTING, "").strip() or DEFAULT_MODEL,
                   **options)

    async def check_model(self) -> bool | None:
        """Whether the model exists and writes text (None: it could not be asked); a warning names the models that do
        when it does not."""
        return await self._connection.check_model(self.model, setting=MODEL_SETTING)

    async def aclose(self) -> None:
        await self._connection.aclose()

    # --- TextEngine ----------------------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent]:
        """Streams one reply: TextDelta for each chunk's text as it arrives, then ReplyEnd: as soon as a chunk
        carries a finish reason, except a safety stop, which ends it when the HTTP stream does.

        Raises EngineRefused if the prompt is blocked, EngineRateLimited when the quota is exhausted after the
        retries, and EngineUnavailable (reason ENGINE_TIMEOUT for deadlines) for everything else. Closing the
        iterator early closes the HTTP stream.
        """
        if not request.turns:
            raise ValueError("a chat request needs at least one turn")
        system_instruction = compose_system_instruction(request)
        contents = _contents(request.turns)
        config = request_config(system_instruction=system_instruction, max_output_tokens=request.max_output_tokens,
                                temperature=self.temperature)
        finish: str | None = None
        usage: types.GenerateContentResponseUsageMetadata | None = None
        written: list[str] = []
        chunks = self._connection.stream(self.model, contents, config, timeouts=self.timeouts, purpose="chat")
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                usage = chunk.usage_metadata or usage
                finish = finish_reason(chunk) or finish
                text = candidate_text(chunk)
                if text:
                    written.append(text)
                    yield TextDelta(text)
                if finish is not None and finish not in SAFETY_FINISH_REASONS:
                    # The reply is whole: its end goes out at once, right after its last text, not once the HTTP
                    # stream has closed (so the caller can store them together). Returning closes the stream.
                    yield self._reply_end(finish, usage, system_instruction, contents, written)
                    return
        yield self._reply_end(finish, usage, system_instruction, contents, written)

    async def extract_requirements(self, turns: Sequence[ChatTurn], known: StoryRequirements) -> StoryRequirements:
        """Reads the conversation with JSON-schema structured output; returns `known` updated with what it states.

        Values outside the allowed enum values are dropped; `extracted_prompt` is always one paragraph.
        """
        prompt = ("Already known about the story:\n" + (known.describe() or "(nothing yet)")
                  + "\n\nConversation:\n" + _transcript(turns))
        config = request_config(system_instruction=_EXTRACTION_INSTRUCTION, max_output_tokens=2048, temperature=0.0,
                                json_schema=requirements_json_schema())
        text = await self._generate(_contents([ChatTurn("user", prompt)]), config, purpose="extraction")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EngineUnavailable("Gemini returned requirements that are not valid JSON",
                                    metadata={"model": self.model}) from exc
        extracted = parse_requirements(document)
        merged = known.merged(extracted)
        paragraph = _one_paragraph(extracted.extracted_prompt) or _paragraph_from(merged)
        return dataclasses.replace(merged, extracted_prompt=paragraph)

    async def summarize(self, turns: Sequence[ChatTurn], previous_summary: str) -> str:
        """A short plain-text summary of `turns`, folded into `previous_summary`."""
        prompt = ""
        if previous_summary.strip():
            prompt += "Earlier summary:\n" + previous_summary.strip() + "\n\n"
        prompt += "Conversation to add:\n" + _transcript(turns)
        config = request_config(system_instruction=_SUMMARY_INSTRUCTION, max_output_tokens=512, temperature=0.3)
        summary = (await self._generate(_contents([ChatTurn("user", prompt)]), config, purpose="summary")).strip()
        if not summary:
            raise EngineUnavailable("Gemini returned an empty summary", metadata={"model": self.model})
        return summary

    def count_tokens(self, text: str) -> int:
        """A local estimate (about four characters a token for English); no network call."""
        return math.ceil(len(text) / 4)

    # --- StoryWriter ---------------------------------------------------------------------------------------------
    # Each step is one structured-output call with the unary retry rules. A reply that is not valid JSON, or that
    # lacks the text a caller relies on, raises EngineUnavailable; a G or PG reply with a word no children's story
    # should carry raises EngineRefused.

    async def premise(self, requirements: StoryRequirements) -> Premise:
        document = await self._story_call(requirements, story.PREMISE_TASK, "Write the premise.",
                                          story.premise_schema(), purpose="premise", max_output_tokens=1024)
        return story.parse_premise(document, requirements, self.model)

    async def outline(self, requirements: StoryRequirements, premise: str, scene_count: int) -> list[OutlineScene]:
        """Exactly `scene_count` scenes. An outline with another count is asked for once more, saying what was
        wrong; if it is still wrong, surplus middle scenes are merged into their neighbours (nothing is lost), and
        too few scenes are EngineUnavailable (scenes are never invented here)."""
        check_scene_count(scene_count)
        task, schema = story.outline_task(scene_count), story.outline_schema(scene_count)
        document = await self._story_call(requirements, task, story.outline_prompt(premise, scene_count), schema,
                                          purpose="outline", max_output_tokens=2048)
        scenes = story.parse_outline(document, requirements, self.model)
        if len(scenes) != scene_count:
            logger.info("Gemini %s wrote an outline of %d scenes instead of %d; asking again", self.model,
                        len(scenes), scene_count)
            document = await self._story_call(
                requirements, task, story.outline_prompt(premise, scene_count, wrong_count=len(scenes)), schema,
                purpose="outline", max_output_tokens=2048)
            scenes = story.parse_outline(document, requirements, self.model)
        if len(scenes) > scene_count:
            scenes = story.merge_outline(scenes, scene_count)
        if len(scenes) < scene_count:
            raise EngineUnavailable(f"Gemini wrote an outline of {len(scenes)} scenes instead of {scene_count}",
                                    metadata={"model": self.model, "sceneCount": str(len(scenes))})
        return scenes

    async def scene(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene], index: int,
                    story_so_far: Sequence[SceneText]) -> SceneText:
        if not 0 <= index < len(outline):
            raise ValueError(f"scene index {index} is outside the outline of {len(outline)} scenes")
        document = await self._story_call(requirements, story.scene_task(index, len(outline)),
                                          story.scene_prompt(premise, outline, index, story_so_far),
                                          story.scene_schema(), purpose="scene", max_output_tokens=2048)
        return story.parse_scene(document, requirements, outline, index, self.model)

    async def opening(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene]) -> str:
        document = await self._story_call(requirements, story.OPENING_TASK, story.opening_prompt(premise, outline),
                                          story.opening_schema(), purpose="opening", max_output_tokens=2048)
        return story.parse_opening(document, requirements, self.model)

    async def continue_story(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene],
                             story_so_far: str) -> tuple[str, bool]:
        document = await self._story_call(requirements, story.CONTINUE_TASK,
                                          story.continue_prompt(premise, outline, story_so_far),
                                          story.continue_schema(), purpose="continuation", max_output_tokens=2048)
        return story.parse_continuation(document, requirements, self.model)

    async def split_story(self, requirements: StoryRequirements, text: str, scene_count: int) -> list[SceneText]:
        """The text cut where Gemini says scenes begin, at paragraph (or sentence) boundaries, so every scene is an
        exact slice of it; Gemini gives the titles, moods and pictures. A text too short for more than one scene
        is not sent; boundaries that make no sense are dropped, and with none left the cut is the offline one."""
        check_scene_count(scene_count)
        if not text.strip():
            raise ValueError("there is no story text to split")
        target = split_target(text, scene_count)
        units = split_units(text, target)
        if len(units) == 1:
            return await asyncio.to_thread(scenes.split, requirements, text, 1)
        document = await self._story_call(requirements, story.split_task(target), story.split_prompt(text, units),
                                          story.split_schema(target, len(units)), purpose="split",
                                          max_output_tokens=4096, temperature=0.2)
        parsed = story.parse_split(document, len(units))
        if not parsed:
            logger.warning("Gemini %s returned no usable scene boundaries; splitting offline", self.model)
            return await asyncio.to_thread(scenes.split, requirements, text, scene_count)
        # Titles and pictures Gemini left out are derived from the words: CPU work, off the event loop.
        return await asyncio.to_thread(story.split_scenes, requirements, text, units, parsed)

    async def _story_call(self, requirements: StoryRequirements, task: str, prompt: str, schema: dict[str, Any], *,
                          purpose: str, max_output_tokens: int, temperature: float | None = None) -> Mapping[str, Any]:
        config = request_config(system_instruction=story.system_instruction(requirements, task),
                                max_output_tokens=max_output_tokens,
                                temperature=self.temperature if temperature is None else temperature,
                                json_schema=schema)
        text = await self._generate(_contents([ChatTurn("user", prompt)]), config, purpose=purpose)
        return story.document(text, purpose, self.model)

    # --- internals -----------------------------------------------------------------------------------------------

    async def _generate(self, contents: list[types.Content], config: types.GenerateContentConfig, *,
                        purpose: str) -> str:
        """One unary call on the connection; returns the reply's text."""
        response = await self._connection.generate(self.model, contents, config, timeouts=self.timeouts,
                                                   purpose=purpose)
        return candidate_text(response)

    def _reply_end(self, finish: str | None, usage: types.GenerateContentResponseUsageMetadata | None,
                   system_instruction: str, contents: list[types.Content], written: list[str]) -> ReplyEnd:
        input_tokens, output_tokens = self._token_counts(usage, system_instruction, contents, written)
        return ReplyEnd(_finish_reason(finish), input_tokens, output_tokens)

    def _token_counts(self, usage: types.GenerateContentResponseUsageMetadata | None, system_instruction: str,
                      contents: list[types.Content], written: list[str]) -> tuple[int, int]:
        """Input and output tokens as Gemini reports them, or local estimates when it did not."""
        if usage is not None and usage.prompt_token_count is not None:
            input_tokens = usage.prompt_token_count
        else:
            input_tokens = self.count_tokens(system_instruction) + sum(
                self.count_tokens(part.text or "") for content in contents for part in content.parts or ())
        if usage is not None and usage.candidates_token_count is not None:
            output_tokens = usage.candidates_token_count + (usage.thoughts_token_count or 0)
        else:
            output_tokens = self.count_tokens("".join(written))
        return input_tokens, output_tokens


# --- prompts and parsing (pure functions) ------------------------------------------------------------------------


def compose_system_instruction(request: ChatRequest) -> str:
    """The caller's instruction, then the summary of older turns, the requirements so far and the memories."""
    sections = [request.system_instruction.strip()]
    if request.summary.strip():
        sections.append("## Earlier in this conversation\nA summary of the messages before the ones below:\n"
                        + request.summary.strip())
    described = request.requirements.describe()
    if described:
        sections.append("## The story so far\nWhat is already known about the story to write:\n" + described)
    memories = [memory.strip() for memory in request.memories if memory.strip()]
    if memories:
        sections.append("## What you remember about this child\n" + "\n".join(f"- {memory}" for memory in memories))
    return "\n\n".join(section for section in sections if section)


def requirements_json_schema() -> dict[str, Any]:
    """A JSON Schema for every StoryRequirements field; enum-like fields list their allowed values."""
    descriptions = {
        "title": "The story's title, if one was chosen.",
        "genre": "The genre, in a few words (e.g. fairy tale, space adventure).",
        "setting": "Where and when the story takes place.",
        "tone": "The story's tone.",
        "length": "How long the story should be.",
        "special_requests": "Anything else asked for that no other field holds.",
        "plot_elements": "Events, objects or ideas that should be in the plot.",
        "persona": "The kind of storyteller whose voice the story is told in.",
        "persona_description": "A free description of that storyteller, if one was given.",
        "writing_style": "The writing style.",
        "narrative_point_of_view": "The narrative point of view.",
        "audience_age_group": "The age group of the reader or listener.",
        "content_rating": "The highest content rating the story may have.",
        "ending_preference": "The kind of ending wanted.",
        "language_code": "BCP-47 code of the language to write the story in (e.g. en, fr, pt-BR).",
        "illustration_style": "How the pictures should look, if said.",
        "extracted_prompt": "One paragraph describing the whole story to write.",
        "scene_count": "How many scenes (parts, pages) were asked for, 1 to 12; 0 if not said.",
        "moral": "The lesson the story should teach, in a word or two (courage, sharing...), if one was asked for.",
    }
    properties: dict[str, Any] = {}
    for field in dataclasses.fields(StoryRequirements):
        if field.name == "characters":
            properties["characters"] = {
                "type": "array",
                "description": "Every character of the story.",
                "items": {"type": "object", "properties": {
                    "name": {"type": "string", "description": "The character's name, or what it is called."},
                    "description": {"type": "string", "description": "Who or what the character is, briefly: "
                                    "species, colour, age (a 4-year-old girl, a green dinosaur)."},
                    "pronouns": {"type": "string", "description": "she, he or they, if said or clear."},
                }, "required": ["name"]},
            }
        elif field.name in ENUM_VALUES:
            properties[field.name] = {"type": "string", "enum": list(ENUM_VALUES[field.name]),
                                      "description": descriptions[field.name]}
        elif field.name == "scene_count":
            properties[field.name] = {"type": "integer", "description": descriptions[field.name]}
        else:
            properties[field.name] = {"type": "string", "description": descriptions[field.name]}
    return {"type": "object", "properties": properties, "required": ["extracted_prompt"]}


def parse_requirements(document: Any) -> StoryRequirements:
    """Validates a model's JSON: unknown keys, wrong types and values outside the allowed enums are dropped."""
    if not isinstance(document, dict):
        raise EngineUnavailable("Gemini returned requirements that are not a JSON object")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(StoryRequirements):
        raw = document.get(field.name)
        if field.name == "characters":
            values["characters"] = _characters(raw)
        elif field.name in ENUM_VALUES:
            values[field.name] = _enum_value(raw, ENUM_VALUES[field.name])
        elif field.name == "language_code":
            code = raw.strip() if isinstance(raw, str) else ""
            values["language_code"] = code if _LANGUAGE_CODE.match(code) else ""
        elif field.name == "scene_count":
            values["scene_count"] = raw if type(raw) is int and 1 <= raw <= 12 else 0  # not a bool, not a float
        else:
            values[field.name] = raw.strip() if isinstance(raw, str) else ""
    return StoryRequirements(**values)


def _characters(raw: Any) -> tuple[Character, ...]:
    if not isinstance(raw, list):
        return ()
    characters = []
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip():
            description, pronouns = item.get("description"), item.get("pronouns")
            characters.append(Character(item["name"].strip(),
                                        description.strip() if isinstance(description, str) else "",
                                        pronouns.strip().lower() if isinstance(pronouns, str) else ""))
    return tuple(characters)


def _enum_value(raw: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(raw, str):
        return ""
    value = enum_spelling(raw)
    return value if value in allowed else ""


def _one_paragraph(text: str) -> str:
    return " ".join(text.split())


def _paragraph_from(requirements: StoryRequirements) -> str:
    lines = requirements.describe().splitlines()
    return ("A story with these requirements: " + "; ".join(lines) + ".") if lines else ""


def _contents(turns: Sequence[ChatTurn]) -> list[types.Content]:
    return [types.Content(role="model" if turn.role == "assistant" else "user", parts=[types.Part(text=turn.text)])
            for turn in turns]


def _transcript(turns: Sequence[ChatTurn]) -> str:
    return "\n".join(f"{'Assistant' if turn.role == 'assistant' else 'User'}: {turn.text}" for turn in turns)


def _finish_reason(gemini_reason: str | None) -> FinishReason:
    if gemini_reason == "MAX_TOKENS":
        return "MAX_TOKENS"
    if gemini_reason in SAFETY_FINISH_REASONS:
        return "SAFETY"
    if gemini_reason not in (None, "STOP"):
        logger.warning("Gemini ended a reply with finish reason %s; reporting STOP", gemini_reason)
    return "STOP"

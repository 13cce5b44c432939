"""The production text engine: Google Gemini through the google-genai SDK.

Chat replies stream (`generate_content_stream`, thinking off, child-safe safety settings); requirement extraction
uses JSON-schema structured output; summaries are a short plain-text call. Token counts are estimated locally.
As a StoryWriter, every step (premise, outline, scene, opening, continuation, split) is one structured-output call
whose system instruction states the audience, the content rating and the style (prompts and parsing live in
`gemini_story`).

Failures are retried here, not in the SDK (its own retries are switched off): with exponential backoff and jitter,
honouring a RetryInfo `retryDelay` the server sends with a 429, and only while nothing has been shown to the caller.
Once a reply's first text has been forwarded, any failure ends the reply with `EngineUnavailable` at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import logging
import math
import os
import random
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

import pydantic
from google import genai
from google.genai import errors, types

from storyloom.domain.errors import DomainError
from storyloom.domain.requirements import (AGE_GROUPS, CONTENT_RATINGS, ENDINGS, LENGTHS, PERSONAS, POINTS_OF_VIEW,
                                           TONES, WRITING_STYLES, Character, StoryRequirements)
from storyloom.engines.story import OutlineScene, Premise, SceneText
from storyloom.engines.text import gemini_story as story
from storyloom.engines.text.offline import split as offline_split
from storyloom.engines.text.base import (ChatEvent, ChatRequest, ChatTurn, EngineRateLimited, EngineRefused,
                                         EngineUnavailable, FinishReason, ReplyEnd, TextDelta)
from storyloom.engines.text.story_common import check_scene_count, split_target, split_units

try:  # google-genai 3.x talks through httpx2 when it is installed (it is one of its dependencies), else httpx.
    import httpx2 as _httpx
except ImportError:  # pragma: no cover
    import httpx as _httpx  # type: ignore[no-redef]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gemini-2.5-flash"

# Block anything rated low risk or above in the four adjustable categories: the audience is children.
SAFETY_SETTINGS = tuple(
    types.SafetySetting(category=category, threshold=types.HarmBlockThreshold.BLOCK_LOW_AND_ABOVE)
    for category in (types.HarmCategory.HARM_CATEGORY_HARASSMENT, types.HarmCategory.HARM_CATEGORY_HATE_SPEECH,
                     types.HarmCategory.HARM_CATEGORY_SEXUALLY_EXPLICIT,
                     types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT))

# Gemini finish reasons that mean the reply was cut for content policy; ReplyEnd reports them as SAFETY.
_SAFETY_FINISH_REASONS = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                                    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"})
_RETRYABLE_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")

# The enum-like StoryRequirements fields and the values each allows.
REQUIREMENT_ENUMS: Mapping[str, tuple[str, ...]] = {
    "tone": TONES, "length": LENGTHS, "persona": PERSONAS, "writing_style": WRITING_STYLES,
    "narrative_point_of_view": POINTS_OF_VIEW, "audience_age_group": AGE_GROUPS,
    "content_rating": CONTENT_RATINGS, "ending_preference": ENDINGS,
}
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

# The responses opened by the current model call, so that closing a reply closes its HTTP stream at once.
_open_responses: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("gemini_open_responses",
                                                                                    default=None)


async def _remember_response(response: Any) -> None:
    """httpx response hook: records each response in the list of the call that is waiting for it."""
    opened = _open_responses.get()
    if opened is not None:
        opened.append(response)


@dataclasses.dataclass(frozen=True)
class GeminiTimeouts:
    """Deadlines, in seconds.

    `first_chunk` runs from sending a request to receiving the first streamed chunk (for a unary call, the whole
    response); `idle` is the longest wait between two chunks; `total` bounds a whole call, retries included.
    """

    first_chunk: float = 20.0
    idle: float = 15.0
    total: float = 90.0


@dataclasses.dataclass(frozen=True)
class GeminiRetryPolicy:
    """How failures before any text was forwarded are retried (`attempts` counts the first try)."""

    attempts: int = 3
    initial_backoff: float = 1.0
    max_backoff: float = 10.0

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (1, 2...): doubling from initial_backoff, capped, with jitter.

        Half the delay is fixed and half random ("equal jitter"), so clients that failed together spread out
        without any of them retrying at once.
        """
        delay = min(self.max_backoff, self.initial_backoff * 2 ** (retry - 1))
        return delay / 2 + random.uniform(0, delay / 2)


@dataclasses.dataclass(frozen=True)
class _Failure:
    """One failed attempt, classified."""

    kind: Literal["rate_limited", "unavailable", "timeout"]
    message: str
    retryable: bool
    retry_delay: float | None = None  # what the server asked for (RetryInfo), if anything
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def error(self, retry_after_seconds: float) -> DomainError:
        metadata = dict(self.metadata)
        if self.kind == "rate_limited":
            return EngineRateLimited(self.message, retry_after_seconds=retry_after_seconds, metadata=metadata)
        if self.kind == "timeout":
            return EngineUnavailable(self.message, reason="ENGINE_TIMEOUT", metadata=metadata)
        return EngineUnavailable(self.message, metadata=metadata)


class _AttemptFailed(Exception):
    def __init__(self, failure: _Failure):
        super().__init__(failure.message)
        self.failure = failure


class GeminiTextEngine:
    """A TextEngine on Gemini. One google-genai client (and one connection pool) serves every call."""

    name = "gemini"

    def __init__(self, api_key: str, *, model: str = DEFAULT_MODEL, base_url: str | None = None,
                 api_version: str | None = None, timeouts: GeminiTimeouts = GeminiTimeouts(),
                 retry: GeminiRetryPolicy = GeminiRetryPolicy(), temperature: float = 0.8):
        """`base_url` replaces https://generativelanguage.googleapis.com (tests point it at a local fake);
        `api_version` None keeps the SDK's default (v1 in google-genai 3.x)."""
        if not api_key:
            raise ValueError("a Gemini API key is required")
        if retry.attempts < 1:
            raise ValueError("retry.attempts must be at least 1")
        self.model = model
        self.timeouts = timeouts
        self.retry = retry
        self.temperature = temperature
        # Our own httpx client, so every response can be closed deterministically (see _close_stream); the SDK
        # uses it as is and leaves closing it to us.
        self._http = _httpx.AsyncClient(event_hooks={"response": [_remember_response]}, follow_redirects=True)
        self._client = genai.Client(
            api_key=api_key,
            vertexai=False,  # never switch to Vertex AI because of GOOGLE_GENAI_USE_VERTEXAI in the environment
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version=api_version,
                # A backstop only (the deadlines above are enforced here): milliseconds, applied by httpx to each
                # connect/read/write and sent to the server as X-Server-Timeout.
                timeout=math.ceil(timeouts.total * 1000),
                # One attempt: retries are ours. Setting this (rather than leaving it unset) also stops the
                # SDK's implicit retry of connection errors on its aiohttp transport.
                retry_options=types.HttpRetryOptions(attempts=1),
                httpx_async_client=self._http,
            ),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **options: Any) -> GeminiTextEngine:
        """Builds the engine from GEMINI_API_KEY, STORYLOOM_GEMINI_MODEL and STORYLOOM_GEMINI_BASE_URL."""
        api_key = environ.get("GEMINI_API_KEY", "").strip()
        if not api_key:
            raise ValueError("GEMINI_API_KEY is not set")
        return cls(api_key, model=environ.get("STORYLOOM_GEMINI_MODEL", "").strip() or DEFAULT_MODEL,
                   base_url=environ.get("STORYLOOM_GEMINI_BASE_URL", "").strip() or None, **options)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
        await self._http.aclose()

    # --- TextEngine ----------------------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Streams one reply: TextDelta for each chunk's text as it arrives, then ReplyEnd.

        Raises EngineRefused if the prompt is blocked, EngineRateLimited when the quota is exhausted after the
        retries, and EngineUnavailable (reason ENGINE_TIMEOUT for deadlines) for everything else. Closing the
        iterator early closes the HTTP stream.
        """
        if not request.turns:
            raise ValueError("a chat request needs at least one turn")
        system_instruction = compose_system_instruction(request)
        contents = _contents(request.turns)
        config = self._config(system_instruction=system_instruction, max_output_tokens=request.max_output_tokens,
                              temperature=self.temperature)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeouts.total
        forwarded = False
        attempt = 0
        while True:
            attempt += 1
            opened: list[Any] = []
            stream: AsyncIterator[types.GenerateContentResponse] | None = None
            finish: str | None = None
            usage: types.GenerateContentResponseUsageMetadata | None = None
            written: list[str] = []
            received = 0
            try:
                stream = await self._client.aio.models.generate_content_stream(
                    model=self.model, contents=contents, config=config)
                while True:
                    try:
                        chunk = await self._next_chunk(stream, opened, first=received == 0, deadline=deadline)
                    except StopAsyncIteration:
                        break
                    received += 1
                    _raise_if_prompt_blocked(chunk)
                    usage = chunk.usage_metadata or usage
                    candidate = chunk.candidates[0] if chunk.candidates else None
                    if candidate is not None and candidate.finish_reason is not None:
                        finish = _enum_name(candidate.finish_reason)
                    text = _candidate_text(candidate)
                    if text:
                        written.append(text)
                        forwarded = True
                        yield TextDelta(text)
                input_tokens, output_tokens = self._token_counts(usage, system_instruction, contents, written)
                yield ReplyEnd(_finish_reason(finish), input_tokens, output_tokens)
                return
            except _AttemptFailed as failed:
                attempt_failed = failed
            finally:
                await _close_stream(stream, opened)
            failure = attempt_failed.failure
            delay = self._retry_delay(failure, attempt, forwarded, deadline)
            if delay is None:
                raise failure.error(self._retry_after(failure, attempt)) from attempt_failed.__cause__
            logger.info("Gemini %s failed (%s), attempt %d of %d; retrying in %.2f s", self.model, failure.message,
                        attempt, self.retry.attempts, delay)
            await asyncio.sleep(delay)

    async def extract_requirements(self, turns: Sequence[ChatTurn], known: StoryRequirements) -> StoryRequirements:
        """Reads the conversation with JSON-schema structured output; returns `known` updated with what it states.

        Values outside the allowed enum values are dropped; `extracted_prompt` is always one paragraph.
        """
        prompt = ("Already known about the story:\n" + (known.describe() or "(nothing yet)")
                  + "\n\nConversation:\n" + _transcript(turns))
        config = self._config(system_instruction=_EXTRACTION_INSTRUCTION, max_output_tokens=2048, temperature=0.0,
                              response_mime_type="application/json",
                              response_json_schema=requirements_json_schema())
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
        config = self._config(system_instruction=_SUMMARY_INSTRUCTION, max_output_tokens=512, temperature=0.3)
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
            return await asyncio.to_thread(offline_split.split, requirements, text, 1)
        document = await self._story_call(requirements, story.split_task(target), story.split_prompt(text, units),
                                          story.split_schema(target, len(units)), purpose="split",
                                          max_output_tokens=4096, temperature=0.2)
        parsed = story.parse_split(document, len(units))
        if not parsed:
            logger.warning("Gemini %s returned no usable scene boundaries; splitting offline", self.model)
            return await asyncio.to_thread(offline_split.split, requirements, text, scene_count)
        # Titles and pictures Gemini left out are derived from the words: CPU work, off the event loop.
        return await asyncio.to_thread(story.split_scenes, requirements, text, units, parsed)

    async def _story_call(self, requirements: StoryRequirements, task: str, prompt: str, schema: dict[str, Any], *,
                          purpose: str, max_output_tokens: int, temperature: float | None = None) -> Mapping[str, Any]:
        config = self._config(system_instruction=story.system_instruction(requirements, task),
                              max_output_tokens=max_output_tokens,
                              temperature=self.temperature if temperature is None else temperature,
                              response_mime_type="application/json", response_json_schema=schema)
        text = await self._generate(_contents([ChatTurn("user", prompt)]), config, purpose=purpose)
        return story.document(text, purpose, self.model)

    # --- internals -----------------------------------------------------------------------------------------------

    def _config(self, *, system_instruction: str, max_output_tokens: int, temperature: float,
                **extra: Any) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            system_instruction=system_instruction,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            thinking_config=types.ThinkingConfig(thinking_budget=0),
            safety_settings=list(SAFETY_SETTINGS),
            # No tools, so no function calling; and no continuation hops the retry rules here would not see.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            automatic_continuation=False,
            **extra,
        )

    async def _next_chunk(self, stream: AsyncIterator[types.GenerateContentResponse], opened: list[Any], *,
                          first: bool, deadline: float) -> types.GenerateContentResponse:
        """The stream's next chunk within the first-chunk or idle deadline; failures raise _AttemptFailed."""
        loop = asyncio.get_running_loop()
        limit = self.timeouts.first_chunk if first else self.timeouts.idle
        at = min(loop.time() + limit, deadline)
        token = _open_responses.set(opened)
        try:
            async with asyncio.timeout_at(at):
                return await anext(stream)
        except TimeoutError as exc:
            if at >= deadline:
                message = f"Gemini did not finish within {self.timeouts.total:g} s"
            elif first:
                message = f"Gemini sent nothing within {limit:g} s"
            else:
                message = f"Gemini stalled for more than {limit:g} s"
            raise _AttemptFailed(_Failure("timeout", message, retryable=True, metadata={
                "model": self.model, "timeoutSeconds": f"{limit:g}"})) from exc
        except StopAsyncIteration:
            raise
        except Exception as exc:
            raise _AttemptFailed(self._classify(exc)) from exc
        finally:
            _open_responses.reset(token)

    async def _generate(self, contents: list[types.Content], config: types.GenerateContentConfig, *,
                        purpose: str) -> str:
        """One unary generate_content call with the retry rules; returns the reply's text."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeouts.total
        attempt = 0
        while True:
            attempt += 1
            limit = min(self.timeouts.first_chunk, deadline - loop.time())
            try:
                try:
                    async with asyncio.timeout(limit):
                        response = await self._client.aio.models.generate_content(
                            model=self.model, contents=contents, config=config)
                except TimeoutError as exc:
                    raise _AttemptFailed(_Failure(
                        "timeout", f"Gemini did not answer the {purpose} request within {limit:.3g} s",
                        retryable=True, metadata={"model": self.model, "timeoutSeconds": f"{limit:.3g}"})) from exc
                except Exception as exc:
                    raise _AttemptFailed(self._classify(exc)) from exc
            except _AttemptFailed as failed:
                delay = self._retry_delay(failed.failure, attempt, False, deadline)
                if delay is None:
                    raise failed.failure.error(self._retry_after(failed.failure, attempt)) from failed.__cause__
                logger.info("Gemini %s %s request failed (%s), attempt %d of %d; retrying in %.2f s", self.model,
                            purpose, failed.failure.message, attempt, self.retry.attempts, delay)
                await asyncio.sleep(delay)
                continue
            _raise_if_prompt_blocked(response)
            candidate = response.candidates[0] if response.candidates else None
            finish = _enum_name(candidate.finish_reason) if candidate and candidate.finish_reason else None
            if finish in _SAFETY_FINISH_REASONS:
                raise EngineRefused(f"Gemini blocked the {purpose} reply ({finish})",
                                    metadata={"model": self.model, "finishReason": finish})
            return _candidate_text(candidate)

    def _classify(self, exc: Exception) -> _Failure:
        metadata = {"model": self.model}
        if isinstance(exc, errors.APIError):
            metadata |= {"httpStatus": str(exc.code), "status": str(exc.status or "")}
            if exc.code == 429:
                return _Failure("rate_limited", f"Gemini quota exhausted: {exc.message}", retryable=True,
                                retry_delay=_retry_info_delay(exc.details), metadata=metadata)
            if exc.code in _RETRYABLE_HTTP_STATUSES:
                return _Failure("unavailable", f"Gemini failed: {exc.code} {exc.status}", retryable=True,
                                metadata=metadata)
            # Other 4xx: a bad key, an unknown model, a request Gemini rejects. Retrying cannot help.
            logger.error("Gemini %s rejected a request: %s %s: %s", self.model, exc.code, exc.status, exc.message)
            return _Failure("unavailable", f"Gemini rejected the request: {exc.code} {exc.status}", retryable=False,
                            metadata=metadata)
        if isinstance(exc, _httpx.TimeoutException):
            return _Failure("timeout", f"Gemini timed out ({type(exc).__name__})", retryable=True, metadata=metadata)
        if isinstance(exc, (_httpx.TransportError, OSError)):
            return _Failure("unavailable", f"Gemini connection failed ({type(exc).__name__}: {exc})", retryable=True,
                            metadata=metadata)
        if isinstance(exc, (errors.UnknownApiResponseError, pydantic.ValidationError, json.JSONDecodeError)):
            return _Failure("unavailable", f"Gemini sent an unreadable response ({type(exc).__name__})",
                            retryable=True, metadata=metadata)
        raise exc  # a bug, not an outage: let it surface as itself

    def _retry_delay(self, failure: _Failure, attempt: int, forwarded: bool, deadline: float) -> float | None:
        """How long to wait before retrying, or None to give up."""
        if forwarded or not failure.retryable or attempt >= self.retry.attempts:
            return None
        if failure.retry_delay is not None:
            if failure.retry_delay > self.retry.max_backoff:
                return None  # the server asks for a longer wait than a reply can afford
            delay = failure.retry_delay
        else:
            delay = self.retry.backoff(attempt)
        if asyncio.get_running_loop().time() + delay >= deadline:
            return None
        return delay

    def _retry_after(self, failure: _Failure, attempt: int) -> float:
        if failure.retry_delay is not None:
            return failure.retry_delay
        return self.retry.backoff(attempt)

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
        elif field.name in REQUIREMENT_ENUMS:
            properties[field.name] = {"type": "string", "enum": list(REQUIREMENT_ENUMS[field.name]),
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
        elif field.name in REQUIREMENT_ENUMS:
            values[field.name] = _enum_value(raw, REQUIREMENT_ENUMS[field.name])
        elif field.name == "language_code":
            code = raw.strip() if isinstance(raw, str) else ""
            values["language_code"] = code if _LANGUAGE_CODE.match(code) else ""
        elif field.name == "scene_count":
            values["scene_count"] = raw if isinstance(raw, int) and 1 <= raw <= 12 else 0
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
    value = re.sub(r"[\s-]+", "_", raw.strip()).upper()
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


def _candidate_text(candidate: types.Candidate | None) -> str:
    if candidate is None or candidate.content is None or not candidate.content.parts:
        return ""
    return "".join(part.text for part in candidate.content.parts if part.text and not part.thought)


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _finish_reason(gemini_reason: str | None) -> FinishReason:
    if gemini_reason == "MAX_TOKENS":
        return "MAX_TOKENS"
    if gemini_reason in _SAFETY_FINISH_REASONS:
        return "SAFETY"
    if gemini_reason not in (None, "STOP"):
        logger.warning("Gemini ended a reply with finish reason %s; reporting STOP", gemini_reason)
    return "STOP"


def _raise_if_prompt_blocked(response: types.GenerateContentResponse) -> None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = _enum_name(feedback.block_reason)
        raise EngineRefused(f"Gemini blocked the prompt ({reason})", metadata={"blockReason": reason})


def _retry_info_delay(details: Any) -> float | None:
    """The RetryInfo retryDelay (a proto Duration, "7s" or "1.5s") of an error body, in seconds."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for detail in error.get("details", ()) if isinstance(error, dict) else ():
        if isinstance(detail, dict) and detail.get("@type") == _RETRY_INFO_TYPE:
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match[1])
    return None


async def _close_stream(stream: AsyncIterator[Any] | None, opened: list[Any]) -> None:
    """Closes a reply's HTTP response now, then the SDK's stream iterator.

    Closing the SDK's iterator alone is not enough: its inner generators form a reference cycle that keeps the
    response open until the garbage collector runs, and after an error event in the stream the SDK does not close
    the response at all. So the responses this call opened are closed directly.
    """
    for response in opened:
        try:
            await response.aclose()
        except Exception:  # closing must not hide the reply's own outcome
            logger.debug("closing a Gemini response failed", exc_info=True)
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            logger.debug("closing a Gemini stream failed", exc_info=True)

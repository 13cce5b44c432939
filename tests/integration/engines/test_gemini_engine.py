"""GeminiTextEngine through the real google-genai SDK, against the strict wire-level fake of the Gemini REST API.

Every test scripts what the fake server does (tests/support/gemini_fake.py), runs the engine, and checks both what
the engine returned and what actually crossed the wire. Deadlines and backoffs are shortened so the suite is fast.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable

import pytest

from storyloom.domain.ports.text import (
    ChatEvent,
    ChatRequest,
    ChatTurn,
    EngineRateLimited,
    EngineRefused,
    EngineUnavailable,
    FinishReason,
    ReplyEnd,
    TextDelta,
)
from storyloom.domain.requirements import ENUM_VALUES, Character, StoryRequirements
from storyloom.engines.gemini_client import GeminiTimeouts
from storyloom.engines.text.gemini import GeminiTextEngine
from tests.support.gemini_engines import FAST, QUICK_RETRIES
from tests.support.gemini_fake import (
    GeminiFake,
    Hang,
    Reply,
    Stream,
    blocked_prompt,
    chunk,
    error_body,
    json_reply,
    rate_limited,
    text_reply,
    unavailable,
    usage,
)

pytest_plugins = ("tests.support.gemini_fixtures",)

HELLO = ChatRequest(system_instruction="You are Loom, a kind story assistant.",
                    turns=[ChatTurn("user", "Tell me a story")])


async def collect(events: AsyncIterator[ChatEvent]) -> list[tuple[float, ChatEvent]]:
    """Every event with the time.monotonic() it arrived at."""
    return [(time.monotonic(), event) async for event in events]


def texts(events: list[tuple[float, ChatEvent]]) -> list[str]:
    return [event.text for _, event in events if isinstance(event, TextDelta)]


# --- streaming ---------------------------------------------------------------------------------------------------


async def test_a_reply_streams_chunk_by_chunk_as_the_server_sends_them(gemini: GeminiFake,
                                                                      gemini_engine: GeminiTextEngine) -> None:
    release = asyncio.Event()
    gemini.script(Stream([chunk("Once "), chunk("upon a "), chunk("time.", finish_reason="STOP")], release=release))

    events = []
    async for event in gemini_engine.chat(HELLO):
        events.append(event)
        if len(events) == 1:  # the fake holds the other two chunks back until the first is here
            assert len(gemini.requests[0].chunk_sent_at) == 1
            release.set()

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Once ", "upon a ", "time."]
    assert isinstance(events[-1], ReplyEnd)


async def test_the_reply_ends_with_its_finishing_chunk_before_the_http_stream_closes(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    hold_end = asyncio.Event()
    gemini.script(Stream([chunk("Once upon "), chunk("a time.", finish_reason="STOP", usage_metadata=usage(8, 4))],
                         hold_end=hold_end))
    events: list[ChatEvent] = []
    body_open_at_end = None

    async for event in gemini_engine.chat(HELLO):
        events.append(event)
        if isinstance(event, ReplyEnd):
            body_open_at_end = not gemini.requests[0].finished.is_set()
            hold_end.set()

    assert events == [TextDelta("Once upon "), TextDelta("a time."), ReplyEnd("STOP", 8, 4)]
    assert body_open_at_end is True  # the fake held the body open until the end was here
    # The rest of the stream was still read (not cut off), so its connection stays open for the next call.
    streamed = gemini.requests[0]
    await asyncio.wait_for(streamed.finished.wait(), 5)
    assert not streamed.client_disconnected.is_set() and not streamed.connection_closed.is_set()


async def test_the_request_carries_the_composed_instruction_the_turns_in_order_and_child_safe_settings(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Stream([chunk("Hooray!", finish_reason="STOP")]))
    request = ChatRequest(
        system_instruction="You are Loom, a kind story assistant.",
        turns=[ChatTurn("user", "Hi!"), ChatTurn("assistant", "Hello! What shall we imagine?"),
               ChatTurn("user", "A dragon story please")],
        summary="Earlier, Mia said she likes the sea.",
        requirements=StoryRequirements(characters=(Character("Sparky", "a shy dragon"),), tone="WHIMSICAL"),
        memories=("Mia is six.", "Mia's cat is called Biscuit."),
        max_output_tokens=300,
    )

    await collect(gemini_engine.chat(request))

    [sent] = gemini.requests
    # v1beta: the API version that has system instructions (v1 would refuse the request with a 400).
    assert sent.path == "/v1beta/models/gemini-3.5-flash-lite:streamGenerateContent"
    assert sent.query == {"alt": "sse"}
    assert sent.headers["x-goog-api-key"] == "test-key"
    system = sent.system_text
    positions = [system.index(part) for part in ("You are Loom", "Earlier, Mia said she likes the sea.",
                                                  "Sparky (a shy dragon)", "- Mia is six.")]
    assert positions == sorted(positions)
    assert "Tone: whimsical" in system and "- Mia's cat is called Biscuit." in system
    assert [(c["role"], c["parts"][0]["text"]) for c in sent.body["contents"]] == [
        ("user", "Hi!"), ("model", "Hello! What shall we imagine?"), ("user", "A dragon story please")]
    config = sent.generation_config
    # No thinking config: the model's own level applies (thinking_budget=0 is refused by models that always think).
    assert "thinkingConfig" not in config
    assert config["maxOutputTokens"] == 300
    assert config["temperature"] == pytest.approx(0.8)
    assert {(s["category"], s["threshold"]) for s in sent.body["safetySettings"]} == {
        ("HARM_CATEGORY_HARASSMENT", "BLOCK_LOW_AND_ABOVE"), ("HARM_CATEGORY_HATE_SPEECH", "BLOCK_LOW_AND_ABOVE"),
        ("HARM_CATEGORY_SEXUALLY_EXPLICIT", "BLOCK_LOW_AND_ABOVE"),
        ("HARM_CATEGORY_DANGEROUS_CONTENT", "BLOCK_LOW_AND_ABOVE")}


async def test_usage_metadata_and_the_finish_reason_become_the_reply_end(gemini: GeminiFake,
                                                                        gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Stream([chunk("The dragon "), chunk("flew", finish_reason="MAX_TOKENS",
                                                      usage_metadata=usage(42, 7))]))

    events = await collect(gemini_engine.chat(HELLO))

    assert events[-1][1] == ReplyEnd("MAX_TOKENS", input_tokens=42, output_tokens=7)


@pytest.mark.parametrize(("gemini_reason", "reported"), [
    ("STOP", "STOP"), ("MAX_TOKENS", "MAX_TOKENS"), ("SAFETY", "SAFETY"), ("RECITATION", "SAFETY"),
    ("PROHIBITED_CONTENT", "SAFETY"), ("BLOCKLIST", "SAFETY"), ("OTHER", "STOP")])
async def test_each_gemini_finish_reason_maps_to_one_of_ours(gemini: GeminiFake, gemini_engine: GeminiTextEngine,
                                                             gemini_reason: str, reported: FinishReason) -> None:
    gemini.script(Stream([chunk("Hello", finish_reason=gemini_reason, usage_metadata=usage(3, 1))]))

    events = await collect(gemini_engine.chat(HELLO))

    assert events[-1][1] == ReplyEnd(reported, input_tokens=3, output_tokens=1)


async def test_a_reply_without_usage_metadata_reports_estimated_token_counts(gemini: GeminiFake,
                                                                            gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Stream([chunk("12345678"), chunk("9", finish_reason="STOP")]))

    events = await collect(gemini_engine.chat(HELLO))

    end = events[-1][1]
    assert isinstance(end, ReplyEnd)
    assert end.output_tokens == 3  # ceil(9 characters / 4)
    assert end.input_tokens > 0


async def test_a_safety_stop_in_the_middle_of_a_reply_ends_it_with_safety(gemini: GeminiFake,
                                                                         gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Stream([chunk("Once upon a time "), chunk(None, finish_reason="SAFETY", usage_metadata=usage(9, 5))]))

    events = await collect(gemini_engine.chat(HELLO))

    assert [event for _, event in events] == [TextDelta("Once upon a time "), ReplyEnd("SAFETY", 9, 5)]


async def test_a_blocked_prompt_is_refused_without_a_retry(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(blocked_prompt("SAFETY"), Stream([chunk("never sent", finish_reason="STOP")]))

    with pytest.raises(EngineRefused) as raised:
        await collect(gemini_engine.chat(HELLO))

    assert raised.value.reason == "CONTENT_BLOCKED"
    assert raised.value.metadata["blockReason"] == "SAFETY"
    assert len(gemini.requests) == 1


# --- retries and errors ------------------------------------------------------------------------------------------


async def test_a_rate_limited_request_is_retried_once_after_a_backoff(gemini: GeminiFake,
                                                                     gemini_engine: GeminiTextEngine) -> None:
    gemini.script(rate_limited(retry_delay=None), Stream([chunk("Hello again", finish_reason="STOP")]))

    events = await collect(gemini_engine.chat(HELLO))

    assert texts(events) == ["Hello again"]
    first, second = gemini.requests
    # Equal jitter: the first backoff is between half and all of initial_backoff (0.1 s).
    assert 0.05 <= second.received_at - first.received_at < 0.5


async def test_a_retry_delay_in_the_429_body_is_waited_for_before_retrying(gemini: GeminiFake,
                                                                          gemini_engine: GeminiTextEngine) -> None:
    gemini.script(rate_limited(retry_delay="0.3s"), Stream([chunk("Hello", finish_reason="STOP")]))

    await collect(gemini_engine.chat(HELLO))

    first, second = gemini.requests
    assert second.received_at - first.received_at >= 0.3


async def test_a_quota_that_stays_exhausted_is_rate_limited_with_the_servers_retry_delay(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(*[rate_limited(retry_delay="0.05s")] * 3)

    with pytest.raises(EngineRateLimited) as raised:
        await collect(gemini_engine.chat(HELLO))

    assert raised.value.retry_after_seconds == pytest.approx(0.05)
    assert raised.value.reason == "ENGINE_RATE_LIMITED"
    assert len(gemini.requests) == QUICK_RETRIES.attempts


async def test_a_retry_delay_longer_than_the_backoff_cap_is_reported_at_once(gemini: GeminiFake,
                                                                            gemini_engine: GeminiTextEngine) -> None:
    gemini.script(rate_limited(retry_delay="30s"), Stream([chunk("never sent", finish_reason="STOP")]))
    started = time.monotonic()

    with pytest.raises(EngineRateLimited) as raised:
        await collect(gemini_engine.chat(HELLO))

    assert raised.value.retry_after_seconds == 30
    assert len(gemini.requests) == 1
    assert time.monotonic() - started < 15  # at once, not after the 30 s the service asked for


async def test_server_errors_before_any_text_are_retried_then_reported_unavailable(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(*[unavailable()] * 3)

    with pytest.raises(EngineUnavailable) as raised:
        await collect(gemini_engine.chat(HELLO))

    assert raised.value.reason == "ENGINE_UNAVAILABLE"
    assert raised.value.metadata["httpStatus"] == "503"
    assert len(gemini.requests) == 3


async def test_a_request_gemini_rejects_is_not_retried(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Reply(error_body(400, "API key not valid. Please pass a valid API key."), status=400),
                  Stream([chunk("never sent", finish_reason="STOP")]))

    with pytest.raises(EngineUnavailable) as raised:
        await collect(gemini_engine.chat(HELLO))

    assert raised.value.metadata["httpStatus"] == "400"
    assert len(gemini.requests) == 1


async def test_an_error_event_after_the_first_text_ends_the_reply_without_a_retry(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Stream([chunk("Once upon ")], error=error_body(503, "The model is overloaded.")),
                  Stream([chunk("never sent", finish_reason="STOP")]))
    shown: list[str] = []

    with pytest.raises(EngineUnavailable) as raised:
        async for event in gemini_engine.chat(HELLO):
            assert isinstance(event, TextDelta)
            shown.append(event.text)

    assert shown == ["Once upon "]
    assert raised.value.reason == "ENGINE_UNAVAILABLE"
    assert len(gemini.requests) == 1 and gemini.unused_behaviors == 1
    # The failed response was closed at once (the SDK itself leaves it open until garbage collection).
    await asyncio.wait_for(gemini.requests[0].connection_closed.wait(), 1)


async def test_a_connection_dropped_after_the_first_text_ends_the_reply_without_a_retry(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Stream([chunk("Once upon "), chunk("a time")], end="drop"),
                  Stream([chunk("a second try", finish_reason="STOP")]))
    shown: list[str] = []

    with pytest.raises(EngineUnavailable):
        async for event in gemini_engine.chat(HELLO):
            assert isinstance(event, TextDelta)
            shown.append(event.text)

    assert shown == ["Once upon ", "a time"]
    assert len(gemini.requests) == 1


async def test_a_stream_that_stalls_past_the_idle_deadline_times_out(
        gemini: GeminiFake, make_gemini_engine: Callable[..., GeminiTextEngine]) -> None:
    gemini_engine = make_gemini_engine(timeouts=dataclasses.replace(FAST, idle=0.3))
    gemini.script(Stream([chunk("Once "), chunk("upon a time", finish_reason="STOP")], first_delay=0, delay=2.0))
    shown: list[str] = []
    started = time.monotonic()

    with pytest.raises(EngineUnavailable) as raised:
        async for event in gemini_engine.chat(HELLO):
            assert isinstance(event, TextDelta)
            shown.append(event.text)

    assert raised.value.reason == "ENGINE_TIMEOUT"
    assert shown == ["Once "]
    assert time.monotonic() - started >= 0.3  # after the idle timeout; that it did not wait for the slow chunk,
    # `shown` says
    assert len(gemini.requests) == 1
    await asyncio.wait_for(gemini.requests[0].client_disconnected.wait(), 1)


async def test_a_server_that_never_answers_times_out_on_every_attempt(
        gemini: GeminiFake, make_gemini_engine: Callable[..., GeminiTextEngine]) -> None:
    # first_chunk leaves room for a loaded machine: each attempt must reach the fake before its deadline.
    gemini_engine = make_gemini_engine(timeouts=FAST, retry=dataclasses.replace(QUICK_RETRIES, attempts=2))
    gemini.script(Hang(), Hang(send_headers=True))

    with pytest.raises(EngineUnavailable) as raised:
        await collect(gemini_engine.chat(HELLO))

    assert raised.value.reason == "ENGINE_TIMEOUT"
    assert len(gemini.requests) == 2
    for request in gemini.requests:
        await asyncio.wait_for(request.client_disconnected.wait(), 1)


async def test_the_total_deadline_bounds_a_slow_but_steady_reply(
        gemini: GeminiFake, make_gemini_engine: Callable[..., GeminiTextEngine]) -> None:
    gemini_engine = make_gemini_engine(timeouts=GeminiTimeouts(first_chunk=1.0, idle=1.0, total=0.5))
    gemini.script(Stream([chunk(f"word {n} ") for n in range(20)], delay=0.1))

    with pytest.raises(EngineUnavailable) as raised:
        await collect(gemini_engine.chat(HELLO))

    assert raised.value.reason == "ENGINE_TIMEOUT"
    assert len(gemini.requests) == 1


# --- cancellation ------------------------------------------------------------------------------------------------


async def test_closing_the_reply_early_closes_the_http_stream(gemini: GeminiFake,
                                                             gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Stream([chunk(f"word {n} ") for n in range(50)], delay=0.05),
                  Stream([chunk("Still here.", finish_reason="STOP")]))
    reply = gemini_engine.chat(HELLO)

    assert await anext(reply) == TextDelta("word 0 ")
    await reply.aclose()

    streamed = gemini.requests[0]
    await asyncio.wait_for(streamed.client_disconnected.wait(), 1)
    assert len(streamed.chunk_sent_at) < 50
    assert texts(await collect(gemini_engine.chat(HELLO))) == ["Still here."]  # the engine is still usable


async def test_cancelling_the_consumer_closes_the_http_stream(gemini: GeminiFake,
                                                             gemini_engine: GeminiTextEngine) -> None:
    gemini.script(Stream([chunk(f"word {n} ") for n in range(50)], delay=0.05))
    first_text = asyncio.Event()

    async def consume() -> None:
        async for _event in gemini_engine.chat(HELLO):
            first_text.set()

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(first_text.wait(), 1)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer

    streamed = gemini.requests[0]
    await asyncio.wait_for(streamed.client_disconnected.wait(), 1)
    assert not streamed.finished.is_set()


# --- extraction and summaries ------------------------------------------------------------------------------------


CONVERSATION = [ChatTurn("assistant", "Who should the story be about?"),
                ChatTurn("user", "A brave little mouse called Pip who lives on the moon. Make it funny!")]


async def test_extraction_asks_for_json_with_a_schema_of_every_requirement(gemini: GeminiFake,
                                                                          gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"extracted_prompt": "A story."}))

    await gemini_engine.extract_requirements(CONVERSATION, StoryRequirements())

    [sent] = gemini.requests
    assert sent.rpc == "generateContent"
    config = sent.generation_config
    assert config["responseMimeType"] == "application/json"
    schema = config["responseJsonSchema"]
    assert set(schema["properties"]) == {f.name for f in dataclasses.fields(StoryRequirements)}
    for name, allowed in ENUM_VALUES.items():
        assert schema["properties"][name]["enum"] == list(allowed)
    assert "Pip who lives on the moon" in sent.body["contents"][0]["parts"][0]["text"]


async def test_extraction_returns_the_parsed_requirements_merged_onto_what_was_known(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({
        "characters": [{"name": "Pip", "description": "a brave little mouse"}],
        "setting": "the moon",
        "tone": "FUNNY",
        "language_code": "en",
        "extracted_prompt": "A funny story about Pip,\n a brave little mouse\n\nwho lives on the moon.",
    }))
    known = StoryRequirements(audience_age_group="EARLY_READERS", tone="CALM")

    requirements = await gemini_engine.extract_requirements(CONVERSATION, known)

    assert requirements.characters == (Character("Pip", "a brave little mouse"),)
    assert requirements.setting == "the moon"
    assert requirements.tone == "FUNNY"  # the conversation changed it
    assert requirements.audience_age_group == "EARLY_READERS"  # kept from what was known
    assert requirements.language_code == "en"
    assert requirements.extracted_prompt == "A funny story about Pip, a brave little mouse who lives on the moon."
    assert "Audience: early readers" in gemini.requests[0].body["contents"][0]["parts"][0]["text"]


async def test_extraction_reads_scene_count_moral_and_pronouns(gemini: GeminiFake,
                                                               gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({
        "characters": [{"name": "Mia", "description": "a 4-year-old girl", "pronouns": " She "},
                       {"name": "Button", "description": "a stuffed bunny"}],
        "scene_count": 4,
        "moral": "courage",
        "extracted_prompt": "A bedtime story about Mia and Button.",
    }))

    requirements = await gemini_engine.extract_requirements(CONVERSATION, StoryRequirements())

    assert requirements.characters == (Character("Mia", "a 4-year-old girl", "she"),
                                       Character("Button", "a stuffed bunny"))
    assert (requirements.scene_count, requirements.moral) == (4, "courage")
    schema = gemini.requests[0].generation_config["responseJsonSchema"]["properties"]
    assert schema["scene_count"]["type"] == "integer"
    assert "pronouns" in schema["characters"]["items"]["properties"]


@pytest.mark.parametrize("count", [0, 13, -2, "4", 2.5, True])
async def test_extraction_ignores_a_scene_count_outside_1_to_12(gemini: GeminiFake, gemini_engine: GeminiTextEngine,
                                                              count: object) -> None:
    gemini.script(json_reply({"scene_count": count, "extracted_prompt": "A story."}))

    requirements = await gemini_engine.extract_requirements(CONVERSATION, StoryRequirements(scene_count=3))

    assert requirements.scene_count == 3  # what was known stays


async def test_extraction_drops_values_outside_the_allowed_enums(gemini: GeminiFake,
                                                                gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({
        "tone": "ROMANTIC",
        "length": "epic",
        "content_rating": "R",
        "audience_age_group": "middle grade",
        "ending_preference": 3,
        "language_code": "not a language",
        "characters": [{"name": "Pip"}, {"description": "nameless"}, "Bob"],
        "setting": "  the moon  ",
        "extracted_prompt": "A story about Pip on the moon.",
    }))
    known = StoryRequirements(length="SHORT")

    requirements = await gemini_engine.extract_requirements(CONVERSATION, known)

    assert requirements.tone == ""
    assert requirements.length == "SHORT"  # the invalid value did not replace the known one
    assert requirements.content_rating == ""
    assert requirements.audience_age_group == "MIDDLE_GRADE"  # spelled loosely, but an allowed value
    assert requirements.ending_preference == ""
    assert requirements.language_code == ""
    assert requirements.characters == (Character("Pip"),)
    assert requirements.setting == "the moon"


async def test_extraction_writes_the_prompt_paragraph_itself_when_the_model_gives_none(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"setting": "the moon", "tone": "FUNNY"}))

    requirements = await gemini_engine.extract_requirements(CONVERSATION, StoryRequirements())

    assert "\n" not in requirements.extracted_prompt
    assert "the moon" in requirements.extracted_prompt and "funny" in requirements.extracted_prompt


async def test_extraction_is_retried_after_a_server_error(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(unavailable(), json_reply({"setting": "the moon", "extracted_prompt": "On the moon."}))

    requirements = await gemini_engine.extract_requirements(CONVERSATION, StoryRequirements())

    assert requirements.setting == "the moon"
    assert len(gemini.requests) == 2


async def test_an_extraction_that_takes_too_long_times_out(
        gemini: GeminiFake, make_gemini_engine: Callable[..., GeminiTextEngine]) -> None:
    gemini_engine = make_gemini_engine(timeouts=dataclasses.replace(FAST, first_chunk=0.2),
                         retry=dataclasses.replace(QUICK_RETRIES, attempts=1))
    gemini.script(Reply(json_reply({"extracted_prompt": "Too late."}).body, delay=2.0))

    with pytest.raises(EngineUnavailable) as raised:
        await gemini_engine.extract_requirements(CONVERSATION, StoryRequirements())

    assert raised.value.reason == "ENGINE_TIMEOUT"
    await asyncio.wait_for(gemini.requests[0].client_disconnected.wait(), 1)


async def test_extraction_that_is_not_json_is_reported_unavailable(gemini: GeminiFake,
                                                                  gemini_engine: GeminiTextEngine) -> None:
    gemini.script(text_reply("Sure! The story is about Pip."))

    with pytest.raises(EngineUnavailable):
        await gemini_engine.extract_requirements(CONVERSATION, StoryRequirements())


async def test_summarize_returns_the_models_plain_text(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(text_reply("  Mia wants a funny story about Pip, a mouse on the moon.\n"))

    summary = await gemini_engine.summarize(CONVERSATION, previous_summary="Mia is six and loves space.")

    assert summary == "Mia wants a funny story about Pip, a mouse on the moon."
    [sent] = gemini.requests
    prompt = sent.body["contents"][0]["parts"][0]["text"]
    assert "Mia is six and loves space." in prompt and "User: A brave little mouse called Pip" in prompt
    assert "responseMimeType" not in sent.generation_config
    assert sent.system_text


# --- local helpers and configuration -----------------------------------------------------------------------------


async def test_count_tokens_is_a_local_estimate_without_a_request(gemini: GeminiFake,
                                                                 gemini_engine: GeminiTextEngine) -> None:
    assert gemini_engine.count_tokens("") == 0
    assert gemini_engine.count_tokens("abcd") == 1
    assert gemini_engine.count_tokens("abcde") == 2
    assert gemini.requests == []


async def test_from_env_reads_the_key_the_model_and_the_base_url(gemini: GeminiFake) -> None:
    engine = GeminiTextEngine.from_env({"GEMINI_API_KEY": "env-key", "STORYLOOM_GEMINI_MODEL": "gemini-3.8-flash",
                                        "STORYLOOM_GEMINI_BASE_URL": gemini.base_url})
    gemini.script(Stream([chunk("Hi", finish_reason="STOP")]))
    try:
        await collect(engine.chat(HELLO))
    finally:
        await engine.aclose()

    [sent] = gemini.requests
    assert sent.model == "gemini-3.8-flash"
    assert sent.version == "v1beta"
    assert sent.headers["x-goog-api-key"] == "env-key"


def test_from_env_without_a_key_is_an_error() -> None:
    with pytest.raises(ValueError, match="GEMINI_API_KEY"):
        GeminiTextEngine.from_env({"STORYLOOM_GEMINI_MODEL": "gemini-3.8-flash"})

"""GeminiTextEngine as a StoryWriter, through the real google-genai SDK against the strict wire-level fake.

Each test scripts the fake's JSON replies (tests/support/gemini_fake.py) and checks what crossed the wire (a
structured-output request whose system instruction states the audience, rating and style) and what the engine made
of the reply (parsed, cleaned, or refused).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from storyloom.domain.ports.story import OutlineScene, SceneText
from storyloom.domain.ports.text import EngineRefused, EngineUnavailable
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.text.gemini import GeminiTextEngine
from tests.support.gemini_fake import GeminiFake, RecordedRequest, json_reply, text_reply, unavailable

pytest_plugins = ("tests.support.gemini_fixtures",)

MOODS = {"cozy", "bright", "curious", "tense", "hopeful", "joyful", "calm", "mysterious"}

FOX = StoryRequirements(characters=(Character("Pip", "a brave little fox"), Character("Ember", "a friendly dragon")),
                        setting="an enchanted forest", tone="WHIMSICAL")
OUTLINE = [OutlineScene("Pip of the Forest", "Meet Pip and Ember."),
           OutlineScene("The Fallen Star", "Pip finds a star that fell in the night."),
           OutlineScene("Up, Up, Up", "Together they send the star home.")]


def prompt_of(request: RecordedRequest) -> str:
    return request.body["contents"][0]["parts"][0]["text"]


def schema_of(request: RecordedRequest) -> dict[str, Any]:
    config = request.generation_config
    assert config["responseMimeType"] == "application/json"
    return config["responseJsonSchema"]


def outline_reply(count: int) -> Any:
    return json_reply({"scenes": [{"title": f"Scene {i}", "summary": f"Something happens, part {i}."}
                                  for i in range(1, count + 1)]})


# --- the request --------------------------------------------------------------------------------------------------


async def test_a_premise_is_a_structured_call_whose_instruction_states_audience_rating_and_style(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "Pip and the Fallen Star", "premise": "Pip finds a fallen star."}))
    requirements = dataclasses.replace(FOX, audience_age_group="PRESCHOOL", content_rating="PG_13",
                                       writing_style="POETIC", narrative_point_of_view="FIRST_PERSON",
                                       ending_preference="BITTERSWEET", persona="BEDTIME_STORYTELLER")

    premise = await gemini_engine.premise(requirements)

    assert premise.title == "Pip and the Fallen Star" and premise.premise == "Pip finds a fallen star."
    [sent] = gemini.requests
    assert sent.rpc == "generateContent"
    assert set(schema_of(sent)["required"]) == {"title", "premise"}
    system = sent.system_text
    assert "3 to 5" in system and "very short sentences" in system
    assert "Content rating: G: nothing frightening" in system  # PG_13 was asked, a preschool story stays G
    assert "PG-13" not in system
    assert "first person" in system and "poetic" in system and "bittersweet" in system
    assert "bedtime storyteller" in system and "Plain text only" in system
    assert "Pip (a brave little fox)" in system and "enchanted forest" in system
    assert {(s["category"], s["threshold"]) for s in sent.body["safetySettings"]} == {
        ("HARM_CATEGORY_HARASSMENT", "BLOCK_LOW_AND_ABOVE"), ("HARM_CATEGORY_HATE_SPEECH", "BLOCK_LOW_AND_ABOVE"),
        ("HARM_CATEGORY_SEXUALLY_EXPLICIT", "BLOCK_LOW_AND_ABOVE"),
        ("HARM_CATEGORY_DANGEROUS_CONTENT", "BLOCK_LOW_AND_ABOVE")}
    assert "thinkingConfig" not in sent.generation_config  # the model's own (minimal) thinking level


async def test_unknown_requirements_are_stated_with_their_safe_defaults(gemini: GeminiFake,
                                                                       gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "T", "premise": "P."}))

    await gemini_engine.premise(StoryRequirements())

    system = gemini.requests[0].system_text
    assert "early readers of about 6 to 8" in system
    assert "Content rating: G: nothing frightening" in system
    assert "a happy ending" in system and "Tone: magical" in system
    assert "cozy meadow" in system and "friendly animal hero" in system


async def test_the_instruction_holds_the_story_to_its_hero_companions_request_moral_and_scene_count(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "T", "premise": "P."}))
    requirements = StoryRequirements(
        characters=(Character("Mia", "a 4-year-old girl", "she"), Character("Button", "a stuffed bunny")),
        setting="a cosy bedroom", special_requests="Mia is afraid of the dark.", moral="courage", scene_count=4)

    await gemini_engine.premise(requirements)

    system = gemini.requests[0].system_text
    assert "The hero is Mia: name Mia in every scene, always with the pronouns she." in system
    assert "companion and takes part in the story: Button." in system
    assert "central problem" in system and "afraid of the dark" in system
    assert "The moral (courage) is what resolves the problem" in system
    assert "in or near a cosy bedroom" in system and "exactly 4 scenes" in system


async def test_teens_may_have_pg_13_stakes_in_the_instruction(gemini: GeminiFake,
                                                              gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "T", "premise": "P."}))

    await gemini_engine.premise(dataclasses.replace(FOX, audience_age_group="TEENS", content_rating="PG_13"))

    system = gemini.requests[0].system_text
    assert "PG-13: real stakes are allowed" in system and "nothing graphic" in system


# --- the outline --------------------------------------------------------------------------------------------------


async def test_the_outline_schema_asks_for_exactly_the_scene_count(gemini: GeminiFake,
                                                                   gemini_engine: GeminiTextEngine) -> None:
    gemini.script(outline_reply(5))

    outline = await gemini_engine.outline(FOX, "Pip finds a fallen star.", 5)

    assert [o.title for o in outline] == [f"Scene {i}" for i in range(1, 6)]
    assert outline[0].summary == "Something happens, part 1."
    [sent] = gemini.requests
    scenes = schema_of(sent)["properties"]["scenes"]
    assert scenes["minItems"] == scenes["maxItems"] == 5
    assert "exactly 5 scenes" in sent.system_text and "Pip finds a fallen star." in prompt_of(sent)


async def test_an_outline_with_the_wrong_count_is_asked_for_again_saying_what_was_wrong(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(outline_reply(3), outline_reply(5))

    outline = await gemini_engine.outline(FOX, "A premise.", 5)

    assert len(outline) == 5
    assert len(gemini.requests) == 2
    assert "previous outline had 3 scenes" in prompt_of(gemini.requests[1])
    assert "previous outline" not in prompt_of(gemini.requests[0])


async def test_an_outline_still_too_long_is_merged_keeping_the_first_and_last_scene_and_every_summary(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(outline_reply(7), outline_reply(7))

    outline = await gemini_engine.outline(FOX, "A premise.", 5)

    assert len(outline) == 5
    assert outline[0].title == "Scene 1" and outline[-1].title == "Scene 7"
    summaries = " ".join(o.summary for o in outline)
    assert all(f"part {i}." in summaries for i in range(1, 8))


async def test_an_outline_still_too_short_is_unavailable(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(outline_reply(3), outline_reply(4))

    with pytest.raises(EngineUnavailable, match="4 scenes instead of 5"):
        await gemini_engine.outline(FOX, "A premise.", 5)

    assert len(gemini.requests) == 2


async def test_a_scene_count_outside_1_to_12_is_refused_before_any_request(gemini: GeminiFake,
                                                                          gemini_engine: GeminiTextEngine) -> None:
    with pytest.raises(ValueError):
        await gemini_engine.outline(FOX, "A premise.", 13)

    assert gemini.requests == []


# --- scenes ---------------------------------------------------------------------------------------------------------


async def test_a_scene_request_carries_the_premise_the_outline_and_the_story_so_far(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "The Fallen Star", "paragraphs": ["Pip found a star.", "It was tired."],
                              "mood": "curious", "illustration_prompt": "A small fox holding a glowing star"}))
    before = [SceneText("Pip of the Forest", "Once upon a time there was a fox named Pip.", "bright", "A fox.")]

    scene = await gemini_engine.scene(FOX, "Pip finds a fallen star.", OUTLINE, 1, before)

    assert scene == SceneText("The Fallen Star", "Pip found a star.\n\nIt was tired.", "curious",
                              "A small fox holding a glowing star.")
    [sent] = gemini.requests
    prompt = prompt_of(sent)
    assert "Pip finds a fallen star." in prompt
    assert "2. The Fallen Star: Pip finds a star that fell in the night." in prompt
    assert "Once upon a time there was a fox named Pip." in prompt
    assert "Write scene 2: The Fallen Star" in prompt
    schema = schema_of(sent)
    assert set(schema["required"]) == {"title", "paragraphs", "mood", "illustration_prompt"}
    assert set(schema["properties"]["mood"]["enum"]) == MOODS
    assert "scene 2 of 3" in sent.system_text
    assert "introduce every character" not in sent.system_text and "last scene" not in sent.system_text


async def test_the_first_scene_introduces_everyone_and_the_last_resolves_by_the_ending(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    reply = {"title": "T", "paragraphs": ["One.", "Two."], "mood": "bright", "illustration_prompt": "P."}
    gemini.script(json_reply(reply), json_reply(reply))
    requirements = dataclasses.replace(FOX, ending_preference="TWIST")

    await gemini_engine.scene(requirements, "P.", OUTLINE, 0, [])
    await gemini_engine.scene(requirements, "P.", OUTLINE, 2, [])

    first, last = (r.system_text for r in gemini.requests)
    assert "introduce every character by name" in first and "last scene" not in first
    assert "This is the last scene: resolve the story" in last and "surprise twist" in last


async def test_scene_text_comes_back_as_plain_paragraphs_with_a_known_mood(gemini: GeminiFake,
                                                                          gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "**The Star**", "paragraphs": [
        "## A heading\n\nPip *laughed* and **danced**.", "- Ember sang.", "Third.", "Fourth.", "Fifth."],
        "mood": "ecstatic", "illustration_prompt": "Pip dancing"}))

    scene = await gemini_engine.scene(FOX, "P.", OUTLINE, 2, [])

    assert not re.search(r"[*#`_]|^- ", scene.text, re.MULTILINE)
    assert "Pip laughed and danced." in scene.text and "Ember sang." in scene.text
    assert 2 <= len(scene.text.split("\n\n")) <= 4
    assert scene.title == "The Star"
    assert scene.mood in MOODS  # "ecstatic" is not one: the nearest one from the words
    assert scene.illustration_prompt == "Pip dancing."


async def test_a_scene_with_one_paragraph_is_cut_in_two(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "T", "paragraphs": ["Pip woke. The sun was up. Ember yawned. They ate."],
                              "mood": "cozy", "illustration_prompt": "P."}))

    scene = await gemini_engine.scene(FOX, "P.", OUTLINE, 0, [])

    assert scene.text == "Pip woke. The sun was up.\n\nEmber yawned. They ate."


@pytest.mark.parametrize("call", ["premise", "outline", "scene", "opening", "continue", "split"])
async def test_a_reply_that_is_not_valid_json_is_unavailable(gemini: GeminiFake, gemini_engine: GeminiTextEngine,
                                                            call: str) -> None:
    gemini.script(text_reply("Once upon a time, {not json"))

    with pytest.raises(EngineUnavailable, match="not valid JSON"):
        await _call(gemini_engine, call)

    assert len(gemini.requests) == 1  # a reply that arrived is not retried


async def test_a_scene_without_any_text_is_unavailable(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "T", "paragraphs": ["", "  "], "mood": "calm", "illustration_prompt": "P."}))

    with pytest.raises(EngineUnavailable, match="without any text"):
        await gemini_engine.scene(FOX, "P.", OUTLINE, 0, [])


async def test_a_g_rated_scene_with_violent_words_is_refused(gemini: GeminiFake,
                                                             gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"title": "T", "paragraphs": ["Pip grabbed a knife.", "There was blood."],
                              "mood": "tense", "illustration_prompt": "P."}))

    with pytest.raises(EngineRefused):
        await gemini_engine.scene(FOX, "P.", OUTLINE, 1, [])


async def test_a_story_call_is_retried_after_a_server_error(gemini: GeminiFake,
                                                            gemini_engine: GeminiTextEngine) -> None:
    gemini.script(unavailable(), json_reply({"title": "T", "paragraphs": ["One.", "Two."], "mood": "calm",
                                             "illustration_prompt": "P."}))

    scene = await gemini_engine.scene(FOX, "P.", OUTLINE, 0, [])

    assert scene.text == "One.\n\nTwo."
    assert len(gemini.requests) == 2


# --- step by step ----------------------------------------------------------------------------------------------------


async def test_the_opening_is_the_first_scene_as_plain_text(gemini: GeminiFake,
                                                            gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"paragraphs": ["Once upon a time, there was Pip.", "Pip had a friend, Ember."]}))

    opening = await gemini_engine.opening(FOX, "Pip finds a star.", OUTLINE)

    assert opening == "Once upon a time, there was Pip.\n\nPip had a friend, Ember."
    sent = gemini.requests[0]
    assert "1. Pip of the Forest: Meet Pip and Ember." in prompt_of(sent)
    assert "Introduce every character" in sent.system_text


async def test_continue_story_returns_the_next_part_and_whether_it_is_finished(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"paragraphs": ["The star went home.", "The end."], "finished": True}),
                  json_reply({"paragraphs": [], "finished": True}))

    part = await gemini_engine.continue_story(FOX, "P.", OUTLINE, "Once upon a time there was Pip. " * 3)
    nothing = await gemini_engine.continue_story(FOX, "P.", OUTLINE, "The whole story. The end.")

    assert part == ("The star went home.\n\nThe end.", True)
    assert nothing == ("", True)
    assert "Once upon a time there was Pip." in prompt_of(gemini.requests[0])
    assert set(schema_of(gemini.requests[0])["required"]) == {"paragraphs", "finished"}


async def test_a_continuation_that_does_not_say_whether_it_is_finished_is_unavailable(
        gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"paragraphs": ["More.", "And more."]}))

    with pytest.raises(EngineUnavailable, match="finished"):
        await gemini_engine.continue_story(FOX, "P.", OUTLINE, "So far.")


async def test_an_unfinished_continuation_needs_text(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"paragraphs": [], "finished": False}))

    with pytest.raises(EngineUnavailable, match="without any text"):
        await gemini_engine.continue_story(FOX, "P.", OUTLINE, "So far.")


# --- splitting ------------------------------------------------------------------------------------------------------

STORY = """Once there was a lighthouse keeper named Agnes. She lived with her cat, Biscuit, by the cliffs.

Every night Agnes climbed the stairs and lit the lamp. Ships passed safely by the rocks below.

One stormy night the lamp went out. Agnes searched the kitchen for matches while Biscuit meowed.

Behind the cupboard door, Agnes found the matches. She ran up and lit the lamp just in time.

In the morning the captain came to say thank you, and he brought a fish for Biscuit."""


def normalized(text: str) -> str:
    return " ".join(text.split())


async def test_split_story_cuts_where_gemini_says_and_keeps_every_word(gemini: GeminiFake,
                                                                      gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"scenes": [
        {"first_piece": 1, "title": "The Keeper", "mood": "cozy", "illustration_prompt": "Agnes and her cat"},
        {"first_piece": 3, "title": "The Dark Night", "mood": "tense", "illustration_prompt": "A dark lighthouse."},
        {"first_piece": 5, "title": "Thank You", "mood": "joyful", "illustration_prompt": "A captain with a fish."},
    ]}))

    scenes = await gemini_engine.split_story(FOX, STORY, 3)

    paragraphs = STORY.split("\n\n")
    assert [s.text for s in scenes] == ["\n\n".join(paragraphs[:2]), "\n\n".join(paragraphs[2:4]), paragraphs[4]]
    assert [s.title for s in scenes] == ["The Keeper", "The Dark Night", "Thank You"]
    assert [s.mood for s in scenes] == ["cozy", "tense", "joyful"]
    assert scenes[0].illustration_prompt == "Agnes and her cat."
    [sent] = gemini.requests
    prompt = prompt_of(sent)
    assert "[1] Once there was a lighthouse keeper named Agnes." in prompt and "[5] In the morning" in prompt
    schema = schema_of(sent)["properties"]["scenes"]
    assert schema["maxItems"] == 3 and schema["items"]["properties"]["first_piece"]["maximum"] == 5
    assert "at most 3 scenes" in sent.system_text


async def test_split_story_drops_boundaries_out_of_range_or_out_of_order(gemini: GeminiFake,
                                                                        gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"scenes": [
        {"first_piece": 2, "title": "Start", "mood": "cozy", "illustration_prompt": "A."},
        {"first_piece": 9, "title": "Nowhere", "mood": "calm", "illustration_prompt": "B."},
        {"first_piece": 4, "title": "Matches", "mood": "nervous", "illustration_prompt": ""},
        {"first_piece": 3, "title": "Backwards", "mood": "calm", "illustration_prompt": "C."},
        {"first_piece": "5", "title": "A string", "mood": "calm", "illustration_prompt": "D."},
    ]}))

    scenes = await gemini_engine.split_story(FOX, STORY, 4)

    assert [s.title for s in scenes] == ["Start", "Matches"]
    assert normalized("\n\n".join(s.text for s in scenes)) == normalized(STORY)
    assert scenes[1].text.startswith("Behind the cupboard door")
    assert scenes[1].mood in MOODS and "Agnes" in scenes[1].illustration_prompt  # derived from the words


async def test_split_story_without_usable_boundaries_splits_offline(gemini: GeminiFake,
                                                                   gemini_engine: GeminiTextEngine) -> None:
    gemini.script(json_reply({"scenes": [{"first_piece": 0, "title": "Bad", "mood": "calm",
                                          "illustration_prompt": "X."}]}))

    scenes = await gemini_engine.split_story(FOX, STORY, 3)

    assert len(scenes) == 3
    assert normalized("\n\n".join(s.text for s in scenes)) == normalized(STORY)


async def test_split_story_of_a_tiny_text_sends_nothing(gemini: GeminiFake, gemini_engine: GeminiTextEngine) -> None:
    scenes = await gemini_engine.split_story(FOX, "A tiny tale. The end.", 4)

    assert [s.text for s in scenes] == ["A tiny tale. The end."]
    assert gemini.requests == []


async def _call(gemini_engine: GeminiTextEngine, call: str) -> object:
    if call == "premise":
        return await gemini_engine.premise(FOX)
    if call == "outline":
        return await gemini_engine.outline(FOX, "P.", 3)
    if call == "scene":
        return await gemini_engine.scene(FOX, "P.", OUTLINE, 0, [])
    if call == "opening":
        return await gemini_engine.opening(FOX, "P.", OUTLINE)
    if call == "continue":
        return await gemini_engine.continue_story(FOX, "P.", OUTLINE, "So far.")
    return await gemini_engine.split_story(FOX, STORY, 3)


def test_the_schemas_are_json() -> None:
    from storyloom.engines.text import gemini_story

    for schema in (gemini_story.premise_schema(), gemini_story.outline_schema(4), gemini_story.scene_schema(),
                   gemini_story.opening_schema(), gemini_story.continue_schema(), gemini_story.split_schema(3, 7)):
        assert json.loads(json.dumps(schema)) == schema and schema["type"] == "object"

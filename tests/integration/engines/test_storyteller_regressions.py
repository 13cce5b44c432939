"""The requests a parent review found mishandled, pinned: each conversation is played through the offline chat,
the requirements are extracted and the story is written, and what the family asked for must be there."""

from __future__ import annotations

import re

import pytest

from storyloom.domain.ports.story import SceneText
from storyloom.domain.ports.text import ChatRequest, ChatTurn, TextDelta
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.offline import OfflineStoryteller


@pytest.fixture
def engine() -> OfflineStoryteller:
    return OfflineStoryteller(word_delay=0)


async def converse(engine: OfflineStoryteller, messages: list[str]) -> tuple[StoryRequirements, list[str]]:
    turns: list[ChatTurn] = []
    replies = []
    for message in messages:
        turns.append(ChatTurn("user", message))
        reply = "".join([e.text async for e in engine.chat(ChatRequest("", list(turns))) if isinstance(e, TextDelta)])
        replies.append(reply)
        turns.append(ChatTurn("assistant", reply))
    return await engine.extract_requirements(turns, StoryRequirements()), replies


async def write(engine: OfflineStoryteller, req: StoryRequirements) -> list[SceneText]:
    outline = await engine.outline(req, "", req.scene_count or 5)
    return [await engine.scene(req, "", outline, i, []) for i in range(len(outline))]


def asks_age(reply: str) -> bool:
    return bool(re.search(r"\bhow old\b", reply.lower()))


async def test_mia_is_the_hero_her_bunny_a_companion_and_courage_ends_the_story(engine: OfflineStoryteller) -> None:
    req, replies = await converse(engine, [
        "A bedtime story for my daughter Mia, 4, who is afraid of the dark. Her stuffed bunny Button keeps her "
        "company.", "4 scenes please, and I'd like it to teach courage.", "Please go ahead."])

    hero, bunny = req.characters
    assert (hero.name, hero.pronouns) == ("Mia", "she") and "4-year-old girl" in hero.description
    assert bunny.name == "Button" and "stuffed bunny" in bunny.description
    assert req.scene_count == 4 and req.moral == "courage" and req.audience_age_group == "PRESCHOOL"
    assert "go ahead" not in (req.special_requests + req.plot_elements).lower()
    assert not any(asks_age(r) for r in replies)  # the age was given in the first message
    scenes = await write(engine, req)
    assert len(scenes) == 4 and all("Mia" in s.text for s in scenes)
    assert "dark" in scenes[1].text and "brave" in scenes[-1].text.lower()
    assert "Button" in " ".join(s.text for s in scenes)
    spec = scenes[0].picture
    assert spec is not None and spec.setting == "bedroom"
    assert [(f.name, f.species, f.gender, f.age) for f in spec.characters][:1] == [("Mia", "human", "female", 4)]


async def test_zack_ten_gets_space_a_star_map_six_scenes_and_nothing_babyish(engine: OfflineStoryteller) -> None:
    req, replies = await converse(engine, ["My son wants a space adventure. The main guy is Zack, he's 10.",
                                           "Not too babyish please. Something with a star map.", "6 scenes."])

    assert req.characters[0].name == "Zack" and req.characters[0].pronouns == "he"
    assert req.audience_age_group == "MIDDLE_GRADE" and req.scene_count == 6
    assert "star map" in req.special_requests and "babyish" not in req.special_requests
    scenes = await write(engine, req)
    text = " ".join(s.text for s in scenes)
    assert len(scenes) == 6 and all("Zack" in s.text for s in scenes)
    assert text.count("star map") >= 3 and "mama" not in text.lower()


async def test_stompy_is_a_he_and_a_green_dinosaur(engine: OfflineStoryteller) -> None:
    req, _ = await converse(engine, ["i want a story about a green dinosaur",
                                     "His name is Stompy. He lives in a jungle."])

    assert (req.characters[0].name, req.characters[0].pronouns) == ("Stompy", "he")
    scenes = await write(engine, req)
    text = " ".join(s.text for s in scenes)
    assert "Their name was Stompy" not in text and not re.search(r"Stompy [a-z]+ (?:her|their) (?:very )?best", text)
    figure = scenes[0].picture.characters[0] if scenes[0].picture else None
    assert figure is not None and (figure.species, figure.colour, figure.gender) == ("dinosaur", "green", "male")


async def test_pip_the_owl_is_one_friend_not_two(engine: OfflineStoryteller) -> None:
    req, _ = await converse(engine, ["A story about a little girl called Rosie who lives by the sea.",
                                     "Her friend is an owl called Pip. Rosie is 7."])

    assert [c.name for c in req.characters] == ["Rosie", "Pip"]
    assert req.characters[1].description == "an owl"
    assert "7-year-old" in req.characters[0].description and req.audience_age_group == "EARLY_READERS"


async def test_priya_is_named_at_the_end_of_her_description_and_stays_one_girl(engine: OfflineStoryteller) -> None:
    req, _ = await converse(engine, [
        "A story about a curious 8-year-old girl who loves inventing gadgets named Priya."])

    assert len(req.characters) == 1
    assert req.characters[0].name == "Priya"
    assert req.characters[0].description == "a curious 8-year-old girl who loves inventing gadgets"
    scenes = await write(engine, req)
    text = " ".join(s.text for s in scenes)
    assert not re.search(r"who loves inventing gadgets named", text)  # no dangling "named"


async def test_oliver_learns_to_share_his_apples_and_no_story_repeats_another(engine: OfflineStoryteller) -> None:
    oliver, _ = await converse(engine, ["A story about Oliver the hedgehog for my class of 4 year olds.",
                                        "Oliver learns to share his apples with his friends in the orchard.",
                                        "Gentle and kind. Three scenes."])
    stompy, _ = await converse(engine, ["i want a story about a green dinosaur", "His name is Stompy.", "funny"])

    assert oliver.moral == "sharing" and oliver.scene_count == 3 and oliver.characters[0].pronouns == "he"
    assert [c.name for c in oliver.characters] == ["Oliver"]  # "his friends" is nobody in particular
    one, other = await write(engine, oliver), await write(engine, stompy)
    assert sum("apple" in s.text for s in one) >= 2 and "shar" in one[-1].text.lower()

    def masked(scenes: list[SceneText], name: str) -> set[str]:
        return {s.replace(name, "N") for sc in scenes for s in re.split(r"(?<=[.!?])\s+", sc.text.replace("\n", " "))
                if len(s.split()) >= 4}

    shared = masked(one, "Oliver") & masked(other, "Stompy")
    assert len(shared) <= 1, shared


async def test_keyboard_nonsense_is_questioned_and_never_used(engine: OfflineStoryteller) -> None:
    req, replies = await converse(engine, ["a story about a cat named Mittens", "asdfgh jklqwe", "in a garden"])

    assert "not sure" in replies[1] and "asdfgh" in replies[1]
    assert "asdfgh" not in repr(req) and req.setting == "a garden"


async def test_a_real_person_becomes_an_original_character_said_kindly(engine: OfflineStoryteller) -> None:
    req, replies = await converse(engine, ["I want a story where Taylor Swift is the hero and she sings on the moon"])

    assert "Taylor" not in repr(req)
    assert "inspired by" in replies[0] and "original character" in replies[0]
    assert req.characters[0].pronouns == "she" and req.setting == "the moon"


async def test_spanish_is_detected_stored_and_the_reply_is_honest_about_english(engine: OfflineStoryteller) -> None:
    req, replies = await converse(engine, [
        "Hola, quiero un cuento para mi hija Lucía de 6 años sobre un gato llamado Tomás en el bosque."])

    assert req.language_code == "es"
    assert "Spanish" in replies[0] and "English" in replies[0] and "Gemini" in replies[0]
    assert [c.name for c in req.characters] == ["Tomás"] and req.characters[0].description == "a cat"
    assert req.setting == "the forest" and req.audience_age_group == "EARLY_READERS"

"""The offline story writer: the story grammar behind OfflineStoryteller's StoryWriter methods.

Stories are checked the way a reader would notice: who is introduced, how it ends, how long the sentences are,
which words a G-rated story must never use, the point of view, determinism, and that a split story keeps its words.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys

import pytest

from storyloom.domain.ports.story import OutlineScene, SceneText
from storyloom.domain.requirements import (
    AGE_GROUPS,
    CONTENT_RATINGS,
    ENDINGS,
    PERSONAS,
    POINTS_OF_VIEW,
    TONES,
    WRITING_STYLES,
    Character,
    StoryRequirements,
)
from storyloom.engines.text.offline import OfflineStoryteller
from tests.support.paths import ROOT

MOODS = {"cozy", "bright", "curious", "tense", "hopeful", "joyful", "calm", "mysterious"}
# Words that frighten small children; a G-rated story written by the grammar uses none of them.
SCARY_WORDS = ("scary", "scared", "afraid", "fear", "frightened", "terrified", "danger", "dangerous", "monster",
               "storm", "thunder", "lightning", "dark", "shadow", "trapped", "scream", "hurt", "panic", "alarm",
               "howl", "crash", "spooky", "creepy", "injured")
SETTINGS = ("an enchanted forest", "under the sea", "the moon", "a castle in the clouds", "a busy city",
            "a snowy mountain", "a candy kingdom", "my backyard", "a hidden jungle", "the desert", "a farm", "Atlantis")

FOX_AND_DRAGON = StoryRequirements(
    characters=(Character("Pip", "a brave little fox"), Character("Ember", "a friendly dragon")),
    setting="an enchanted forest", tone="WHIMSICAL", audience_age_group="EARLY_READERS")


@pytest.fixture
def writer() -> OfflineStoryteller:
    return OfflineStoryteller(word_delay=0)


async def story(writer: OfflineStoryteller, requirements: StoryRequirements, scene_count: int = 5) -> list[SceneText]:
    premise = await writer.premise(requirements)
    outline = await writer.outline(requirements, premise.premise, scene_count)
    scenes: list[SceneText] = []
    for index in range(len(outline)):
        scenes.append(await writer.scene(requirements, premise.premise, outline, index, scenes))
    return scenes


def sentences_of(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])[\"']?\s+", text.replace("\n", " ")) if s.strip()]


def outside_dialogue(text: str) -> str:
    return re.sub(r'"[^"]*"', " ", text)


def scary_words_in(text: str) -> list[str]:
    return [w for w in SCARY_WORDS if re.search(rf"\b{w}\b", text, re.IGNORECASE)]


# --- shape -----------------------------------------------------------------------------------------------------


async def test_a_five_scene_story_has_five_scenes_each_with_a_title_a_mood_and_a_picture(
        writer: OfflineStoryteller) -> None:
    premise = await writer.premise(FOX_AND_DRAGON)
    outline = await writer.outline(FOX_AND_DRAGON, premise.premise, 5)
    scenes = await story(writer, FOX_AND_DRAGON, 5)

    assert len(outline) == 5 and len(scenes) == 5
    assert [s.title for s in scenes] == [o.title for o in outline]
    assert len({s.title for s in scenes}) == 5
    for scene in scenes:
        assert scene.mood in MOODS
        assert 2 <= len(scene.text.split("\n\n")) <= 4
        assert scene.illustration_prompt.endswith(".") and "Pip" in scene.illustration_prompt
        assert "enchanted forest" in scene.illustration_prompt


@pytest.mark.parametrize("scene_count", range(1, 13))
async def test_the_outline_has_exactly_the_scenes_asked_for(writer: OfflineStoryteller, scene_count: int) -> None:
    outline = await writer.outline(FOX_AND_DRAGON, "", scene_count)
    scenes = await story(writer, FOX_AND_DRAGON, scene_count)

    assert len(outline) == scene_count == len(scenes)
    assert all(o.title and o.summary.endswith((".", "!", "?")) for o in outline)


@pytest.mark.parametrize("scene_count", [0, 13, -1])
async def test_a_scene_count_outside_1_to_12_is_refused(writer: OfflineStoryteller, scene_count: int) -> None:
    with pytest.raises(ValueError, match="scene_count"):
        await writer.outline(FOX_AND_DRAGON, "", scene_count)


@pytest.mark.parametrize("scene_count", [5, 12])
async def test_no_scene_repeats_another_scenes_text(writer: OfflineStoryteller, scene_count: int) -> None:
    scenes = await story(writer, FOX_AND_DRAGON, scene_count)

    paragraphs = [p for s in scenes for p in s.text.split("\n\n")]
    assert len(set(paragraphs)) == len(paragraphs)
    assert len({s.text for s in scenes}) == scene_count


async def test_scene_text_is_plain_text_without_markdown(writer: OfflineStoryteller) -> None:
    requirements = dataclasses.replace(FOX_AND_DRAGON, writing_style="POETIC", persona="HUMORIST",
                                       characters=(Character("**Pip**", "a _brave_ fox #1"),))
    scenes = await story(writer, requirements, 6)

    for scene in scenes:
        assert not re.search(r"[*_#`<>\[\]{}|]", scene.text + scene.title + scene.illustration_prompt)
        assert "\n\n\n" not in scene.text and scene.text == scene.text.strip()


# --- the story it tells ------------------------------------------------------------------------------------------


async def test_the_first_scene_introduces_every_character_by_name_and_description(
        writer: OfflineStoryteller) -> None:
    requirements = StoryRequirements(
        characters=(Character("Pip", "a brave little fox"), Character("Ember", "a friendly dragon"),
                    Character("Milo", "a clever little mouse"), Character("Coral", "a little mermaid")),
        setting="a hidden jungle", tone="ADVENTUROUS")
    first = (await story(writer, requirements))[0].text

    for character in requirements.characters:
        assert character.name in first
        assert character.description in first
    assert "jungle" in first


async def test_the_problem_comes_after_the_introduction_and_friends_help(writer: OfflineStoryteller) -> None:
    scenes = await story(writer, FOX_AND_DRAGON, 7)

    assert "Ember" in scenes[1].text  # the friend joins when the problem appears
    middle = " ".join(s.text for s in scenes[2:-2])
    assert re.search(r"\bsaid the\b|\btold\b", middle)  # someone met on the way helps with an idea


@pytest.mark.parametrize(("ending", "mood", "signature"), [
    ("HAPPY", "joyful", r"\bcheer(?:ed)?\b"),
    ("BITTERSWEET", "calm", r"\ba little sad\b"),
    ("OPEN", "curious", r"\bfor now\b|\banother day\b"),
    ("TWIST", "bright", r"\bWhat a surprise!"),
    ("MORAL", "hopeful", r"\blearned that\b"),
])
async def test_the_last_scene_resolves_the_way_the_ending_preference_asks(
        writer: OfflineStoryteller, ending: str, mood: str, signature: str) -> None:
    requirements = dataclasses.replace(FOX_AND_DRAGON, ending_preference=ending)
    scenes = await story(writer, requirements)

    last = scenes[-1]
    assert last.mood == mood
    assert re.search(signature, last.text)
    others = [e for e in ENDINGS if e != ending]
    for other in others:  # the other endings' signatures are absent
        other_signature = {"HAPPY": r"\bcheer(?:ed)?\b", "BITTERSWEET": r"\ba little sad\b",
                           "OPEN": r"\bfor now\b|\banother day\b", "TWIST": r"\bWhat a surprise!",
                           "MORAL": r"\blearned that\b"}[other]
        assert not re.search(other_signature, last.text)
    assert not any(re.search(signature, s.text) for s in scenes[:-1])


async def test_a_calm_bedtime_story_ends_quietly_without_dancing(writer: OfflineStoryteller) -> None:
    requirements = dataclasses.replace(FOX_AND_DRAGON, tone="CALM", persona="BEDTIME_STORYTELLER")
    last = (await story(writer, requirements))[-1]

    assert last.mood == "cozy" and "Goodnight" in last.text
    assert not re.search(r"\bdanced\b|\blaughed until\b", last.text)


async def test_the_hero_never_meets_a_helper_of_its_own_kind(writer: OfflineStoryteller) -> None:
    for setting in ("an enchanted forest", "a snowy mountain", "a farm"):
        requirements = dataclasses.replace(FOX_AND_DRAGON, setting=setting, characters=(
            Character("Luna", "a curious little owl"), Character("Percy", "a cheerful penguin"),
            Character("Daisy", "a cheerful cow")))
        middle = " ".join(s.text for s in (await story(writer, requirements, 9))[2:-2])
        meetings = r"\b(?:met|came|was|but|It was) (?:a|an) (?:[a-z]+ )*(?:owl|penguin|cow)\b"
        assert not re.search(meetings, middle), setting


async def test_an_open_ending_does_not_say_the_end_for_good(writer: OfflineStoryteller) -> None:
    closed = (await story(writer, dataclasses.replace(FOX_AND_DRAGON, ending_preference="HAPPY")))[-1].text
    open_ = (await story(writer, dataclasses.replace(FOX_AND_DRAGON, ending_preference="OPEN")))[-1].text

    assert closed.endswith("The end.")
    assert not open_.endswith("The end.")


# --- the audience ----------------------------------------------------------------------------------------------


async def test_preschool_sentences_are_shorter_on_average_than_adult_ones(writer: OfflineStoryteller) -> None:
    lengths = {}
    for audience in ("PRESCHOOL", "ADULTS"):
        words = []
        for tone in TONES:
            requirements = dataclasses.replace(FOX_AND_DRAGON, tone=tone, audience_age_group=audience)
            for scene in await story(writer, requirements):
                words.extend(len(s.split()) for s in sentences_of(scene.text))
        lengths[audience] = statistics.mean(words)

    assert lengths["PRESCHOOL"] < lengths["ADULTS"] - 1.5


async def test_older_audiences_get_more_paragraphs_and_more_words(writer: OfflineStoryteller) -> None:
    little = await story(writer, dataclasses.replace(FOX_AND_DRAGON, audience_age_group="PRESCHOOL"), 8)
    grown = await story(writer, dataclasses.replace(FOX_AND_DRAGON, audience_age_group="TEENS"), 8)

    assert sum(len(s.text.split()) for s in little) < sum(len(s.text.split()) for s in grown)
    assert sum(len(s.text.split("\n\n")) for s in little) < sum(len(s.text.split("\n\n")) for s in grown)


@pytest.mark.parametrize("tone", TONES)
async def test_a_g_rated_story_has_none_of_the_frightening_words(writer: OfflineStoryteller, tone: str) -> None:
    for setting in SETTINGS:
        requirements = dataclasses.replace(FOX_AND_DRAGON, tone=tone, setting=setting, content_rating="G",
                                           audience_age_group="MIDDLE_GRADE")
        for scene_count in (3, 9):
            scenes = await story(writer, requirements, scene_count)
            text = " ".join(s.text + " " + s.title for s in scenes)
            assert scary_words_in(text) == [], (tone, setting, scene_count)


async def test_a_pg_13_story_has_real_stakes_that_a_g_story_does_not(writer: OfflineStoryteller) -> None:
    def stakes(text: str) -> bool:
        return bool(scary_words_in(text)) or "how close it had been" in text

    for tone in ("SUSPENSEFUL", "ADVENTUROUS", "WHIMSICAL"):
        teen = dataclasses.replace(FOX_AND_DRAGON, tone=tone, audience_age_group="TEENS", content_rating="PG_13")
        child = dataclasses.replace(teen, content_rating="G")
        assert stakes(" ".join(s.text for s in await story(writer, teen, 7)))
        assert not stakes(" ".join(s.text for s in await story(writer, child, 7)))


async def test_the_rating_never_goes_above_what_the_audience_allows(writer: OfflineStoryteller) -> None:
    asked = dataclasses.replace(FOX_AND_DRAGON, tone="SUSPENSEFUL", audience_age_group="PRESCHOOL",
                                content_rating="PG_13")
    scenes = await story(writer, asked, 7)

    assert scary_words_in(" ".join(s.text for s in scenes)) == []
    assert "tense" not in {s.mood for s in scenes}


# --- voice -------------------------------------------------------------------------------------------------------


async def test_first_person_is_told_by_the_hero_as_i(writer: OfflineStoryteller) -> None:
    scenes = await story(writer, dataclasses.replace(FOX_AND_DRAGON, narrative_point_of_view="FIRST_PERSON"))
    narration = outside_dialogue(" ".join(s.text for s in scenes))

    assert "My name is Pip" in scenes[0].text
    assert len(re.findall(r"\bI\b", narration)) >= 5
    assert re.search(r"\bEmber and I\b", narration)
    assert not re.search(r"\bPip (?:went|saw|had|found|looked)\b", narration)


async def test_second_person_makes_the_listener_the_hero(writer: OfflineStoryteller) -> None:
    scenes = await story(writer, dataclasses.replace(FOX_AND_DRAGON, narrative_point_of_view="SECOND_PERSON"))
    narration = outside_dialogue(" ".join(s.text for s in scenes[1:]))

    assert "you were a brave little fox named Pip" in scenes[0].text
    assert len(re.findall(r"\byou\b", narration, re.IGNORECASE)) >= 5
    assert not re.search(r"\bI\b", narration)


async def test_third_person_names_the_hero_and_never_says_i_outside_dialogue(writer: OfflineStoryteller) -> None:
    scenes = await story(writer, FOX_AND_DRAGON)
    narration = outside_dialogue(" ".join(s.text for s in scenes))

    assert narration.count("Pip") >= 5
    assert not re.search(r"\bI\b", narration)


async def test_the_child_hearing_the_story_can_be_the_hero(writer: OfflineStoryteller) -> None:
    requirements = StoryRequirements(characters=(Character("you", "the child hearing the story, as the hero"),
                                                 Character("Max", "a silly puppy")), setting="the moon")
    scenes = await story(writer, requirements)

    assert "that child was you" in scenes[0].text and "Max" in scenes[0].text
    assert re.search(r"\byou and Max\b", " ".join(s.text for s in scenes), re.IGNORECASE)


async def test_writing_styles_and_personas_change_the_telling(writer: OfflineStoryteller) -> None:
    plain = " ".join(s.text for s in await story(writer, FOX_AND_DRAGON, 6))
    poetic = " ".join(s.text for s in await story(
        writer, dataclasses.replace(FOX_AND_DRAGON, writing_style="POETIC"), 6))
    bedtime = (await story(writer, dataclasses.replace(FOX_AND_DRAGON, persona="BEDTIME_STORYTELLER")))[-1].text
    formal = " ".join(s.text for s in await story(writer, dataclasses.replace(
        FOX_AND_DRAGON, writing_style="FORMAL", tone="FUNNY"), 6))
    educator = " ".join(s.text for s in await story(writer, dataclasses.replace(FOX_AND_DRAGON, persona="EDUCATOR")))

    rhymes = [p for p in poetic.split("\n\n") if "\n" in p]
    assert rhymes and not [p for p in plain.split("\n\n") if "\n" in p]
    assert "Goodnight" in bedtime
    assert not re.search(r"\b(?:don't|didn't|can't|let's|it's)\b", formal, re.IGNORECASE)
    assert "Did you know that" in educator and "Did you know that" not in plain


# --- requirements ------------------------------------------------------------------------------------------------


async def test_unknown_requirements_get_a_friendly_animal_hero_a_meadow_and_a_happy_ending(
        writer: OfflineStoryteller) -> None:
    premise = await writer.premise(StoryRequirements())
    scenes = await story(writer, StoryRequirements())

    assert re.search(r"\b(?:fox|hedgehog|bunny|owl|puppy|duck)\b", scenes[0].text)
    assert "meadow" in scenes[0].text
    assert scenes[-1].mood == "joyful" and scenes[-1].text.endswith("The end.")
    assert scary_words_in(" ".join(s.text for s in scenes)) == []
    assert "early readers" in premise.premise and premise.title


async def test_different_requirements_give_visibly_different_stories(writer: OfflineStoryteller) -> None:
    one = await story(writer, FOX_AND_DRAGON)
    other = await story(writer, dataclasses.replace(FOX_AND_DRAGON, tone="FUNNY", setting="under the sea"))

    one_sentences = {s for scene in one for s in sentences_of(scene.text)}
    other_sentences = {s for scene in other for s in sentences_of(scene.text)}
    assert len(one_sentences & other_sentences) <= 0.25 * len(one_sentences)
    assert [s.title for s in one] != [s.title for s in other]


REQUESTS = [
    ("The lighthouse lamp keeps going out.", "lamp"), ("Pip is afraid of the dark.", "dark"),
    ("Pip lost his scarf.", "scarf"), ("They look for a treasure chest.", "treasure"),
    ("Pip learns to share his apples.", "apples"), ("They bake a birthday cake.", "cake"),
    ("Pip wants to ride a comet.", "comet"), ("Someone leaves secret notes in the tower.", "notes"),
]


@pytest.mark.parametrize(("request_text", "key"), REQUESTS, ids=[k for _, k in REQUESTS])
async def test_the_special_request_is_the_central_problem(writer: OfflineStoryteller, request_text: str,
                                                          key: str) -> None:
    scenes = await story(writer, dataclasses.replace(FOX_AND_DRAGON, special_requests=request_text), 5)

    assert sum(key in s.text.lower() for s in scenes) >= 3, key  # named from the problem to the end
    # The key object is drawn in some scene (a fear of the dark has nothing to draw).
    assert any(key in " ".join(s.picture.objects if s.picture else ()) for s in scenes) or key == "dark"


async def test_tones_change_the_telling_of_the_same_request(writer: OfflineStoryteller) -> None:
    texts = {tone: " ".join(s.text for s in await story(writer, dataclasses.replace(FOX_AND_DRAGON, tone=tone), 5))
             for tone in ("FUNNY", "CALM", "MYSTERIOUS")}

    assert len(set(texts.values())) == 3
    assert "Goodnight" in texts["CALM"] and "Goodnight" not in texts["FUNNY"]


async def test_plot_elements_choose_the_plot(writer: OfflineStoryteller) -> None:
    requirements = dataclasses.replace(FOX_AND_DRAGON, plot_elements="They find an old treasure map.")
    premise = await writer.premise(requirements)
    scenes = await story(writer, requirements)

    assert "treasure map" in premise.premise.lower()
    assert "They find an old treasure map." in premise.premise
    assert "map" in scenes[1].text


async def test_a_character_with_a_violent_name_is_left_out(writer: OfflineStoryteller) -> None:
    requirements = dataclasses.replace(FOX_AND_DRAGON, characters=(
        Character("Pip", "a brave little fox"), Character("Killer", "a knife-wielding bear")))
    text = " ".join(s.text + s.illustration_prompt for s in await story(writer, requirements))

    assert "Killer" not in text and "knife" not in text
    assert "Pip" in text


async def test_the_premise_names_the_hero_the_setting_and_the_audience(writer: OfflineStoryteller) -> None:
    premise = await writer.premise(dataclasses.replace(FOX_AND_DRAGON, title="The Night the Star Fell"))

    assert premise.title == "The Night the Star Fell"
    assert "Pip, a brave little fox" in premise.premise and "enchanted forest" in premise.premise
    assert "early readers" in premise.premise and "happy ending" in premise.premise


# --- determinism -------------------------------------------------------------------------------------------------

_DUMP = """
import json, sys
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.text.offline import writer as offline_story
requirements = StoryRequirements(characters=(Character("Pip", "a brave little fox and a cat"),
                                             Character("Ember", "a friendly dragon")),
                                 setting="a farm by the sea", tone="FUNNY", persona="HUMORIST")
story = offline_story.write(requirements, 9)
print(json.dumps([story.premise] + [[s.title, s.text, s.mood, s.illustration_prompt] for s in story.scenes]))
"""


def test_the_same_requirements_give_the_same_story_in_every_process() -> None:
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _DUMP], capture_output=True, text=True, env=env, check=True,
                              cwd=ROOT)
        runs.append(json.loads(done.stdout))

    assert runs[0] == runs[1]


async def test_the_same_requirements_give_the_same_story_twice(writer: OfflineStoryteller) -> None:
    assert await story(writer, FOX_AND_DRAGON) == await story(OfflineStoryteller(word_delay=0), FOX_AND_DRAGON)


@pytest.mark.parametrize("seed", range(40))
async def test_any_combination_of_requirements_gives_a_well_formed_story(writer: OfflineStoryteller,
                                                                         seed: int) -> None:
    import random
    pick = random.Random(seed).choice
    requirements = StoryRequirements(
        characters=pick([(), FOX_AND_DRAGON.characters, (Character("the dragons", "some dragons"),),
                         (Character("Luna", "She is a shy unicorn who loves to sing."), Character("Tom", "my cat"))]),
        setting=pick(("",) + SETTINGS), tone=pick(("",) + TONES), audience_age_group=pick(("",) + AGE_GROUPS),
        content_rating=pick(("",) + CONTENT_RATINGS), ending_preference=pick(("",) + ENDINGS),
        narrative_point_of_view=pick(("",) + POINTS_OF_VIEW), writing_style=pick(("",) + WRITING_STYLES),
        persona=pick(("",) + PERSONAS))
    scene_count = random.Random(seed).randint(1, 12)
    scenes = await story(writer, requirements, scene_count)

    assert len(scenes) == scene_count
    for scene in scenes:
        assert not re.search(r"[{}\[\]]|  | ,|\.\.|,\.", scene.text), scene.text
        assert 2 <= len(scene.text.split("\n\n")) <= 4 and scene.mood in MOODS
        assert re.match(r'["A-Z]', scene.text)


# --- step by step --------------------------------------------------------------------------------------------------


async def test_opening_then_continue_story_walk_through_the_outline_until_finished(
        writer: OfflineStoryteller) -> None:
    outline = await writer.outline(FOX_AND_DRAGON, "", 4)
    scenes = await story(writer, FOX_AND_DRAGON, 4)

    so_far = await writer.opening(FOX_AND_DRAGON, "", outline)
    assert so_far == scenes[0].text
    parts = []
    finished = False
    while not finished:
        part, finished = await writer.continue_story(FOX_AND_DRAGON, "", outline, so_far)
        parts.append((part, finished))
        so_far += "\n\n" + part

    assert [p for p, _ in parts] == [s.text for s in scenes[1:]]
    assert [f for _, f in parts] == [False, False, True]
    assert await writer.continue_story(FOX_AND_DRAGON, "", outline, so_far) == ("", True)


async def test_continue_story_after_hand_written_text_picks_up_by_length(writer: OfflineStoryteller) -> None:
    outline = await writer.outline(FOX_AND_DRAGON, "", 5)
    scenes = await story(writer, FOX_AND_DRAGON, 5)

    part, finished = await writer.continue_story(FOX_AND_DRAGON, "", outline, "Pip woke up early that day.")

    assert part == scenes[1].text and not finished


async def test_a_hand_edited_outline_is_followed_scene_by_scene(writer: OfflineStoryteller) -> None:
    outline = [OutlineScene("The Crystal", "Pip finds a glowing crystal in a cave."),
               OutlineScene("The Dragon's Gift", "Ember gives Pip a lantern for the dark path home."),
               OutlineScene("Home Again", "Everyone celebrates with a picnic.")]
    scenes = [await writer.scene(FOX_AND_DRAGON, "", outline, i, []) for i in range(3)]

    assert [s.title for s in scenes] == ["The Crystal", "The Dragon's Gift", "Home Again"]
    for item, scene in zip(outline, scenes, strict=True):
        assert item.summary.lower().rstrip(".") in scene.text.lower()
        assert scene.mood in MOODS and scene.illustration_prompt.endswith(".")
    assert "Pip" in scenes[0].text and "Ember" in scenes[0].text  # introduced first
    assert scenes[-1].text.endswith("The end.")


async def test_a_scene_index_outside_the_outline_is_refused(writer: OfflineStoryteller) -> None:
    outline = await writer.outline(FOX_AND_DRAGON, "", 3)

    with pytest.raises(ValueError, match="outside the outline"):
        await writer.scene(FOX_AND_DRAGON, "", outline, 3, [])


# --- splitting a story written elsewhere ------------------------------------------------------------------------

LIGHTHOUSE = """# The Lighthouse

Once there was a lighthouse keeper named Agnes. She lived alone with her cat, Biscuit, at the edge of the cliffs.

Every night Agnes climbed the stairs and lit the lamp. Ships passed safely. Biscuit slept by the fire.

One stormy night the lamp went out. Agnes searched for matches in the kitchen. Biscuit meowed at the cupboard.

Behind the cupboard door, Agnes found a box of matches. She ran up the stairs and lit the lamp just in time.

In the morning, the captain came to say thank you. He brought a fish for Biscuit, who purred."""


def normalized(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("scene_count", [1, 2, 3, 5, 12])
async def test_split_story_keeps_every_word_in_order(writer: OfflineStoryteller, scene_count: int) -> None:
    scenes = await writer.split_story(FOX_AND_DRAGON, LIGHTHOUSE, scene_count)

    assert 1 <= len(scenes) <= scene_count
    assert normalized("\n\n".join(s.text for s in scenes)) == normalized(LIGHTHOUSE)
    assert len({s.title for s in scenes}) == len(scenes)
    assert all(s.mood in MOODS and s.illustration_prompt.endswith(".") for s in scenes)


async def test_split_story_cuts_at_paragraphs_and_derives_titles_and_pictures(writer: OfflineStoryteller) -> None:
    scenes = await writer.split_story(StoryRequirements(), LIGHTHOUSE, 3)

    assert len(scenes) == 3
    paragraphs = [p.strip() for p in LIGHTHOUSE.split("\n\n")]
    for scene in scenes:
        assert all(p in paragraphs for p in scene.text.split("\n\n"))  # no paragraph was cut
    assert scenes[0].title == "The Lighthouse"
    assert "Agnes" in scenes[1].illustration_prompt and "kitchen" in scenes[1].illustration_prompt


async def test_split_story_cuts_one_long_paragraph_at_sentence_ends(writer: OfflineStoryteller) -> None:
    text = normalized(LIGHTHOUSE.replace("# The Lighthouse", ""))

    scenes = await writer.split_story(StoryRequirements(), text, 4)

    assert len(scenes) == 4
    assert normalized(" ".join(s.text for s in scenes)) == text
    assert all(s.text.endswith((".", "!", "?")) for s in scenes)


async def test_split_story_gives_a_short_text_fewer_scenes(writer: OfflineStoryteller) -> None:
    scenes = await writer.split_story(StoryRequirements(), "A tiny tale. It ends well.", 6)

    assert [s.text for s in scenes] == ["A tiny tale. It ends well."]


async def test_split_story_refuses_an_empty_text(writer: OfflineStoryteller) -> None:
    with pytest.raises(ValueError):
        await writer.split_story(StoryRequirements(), "  \n ", 3)

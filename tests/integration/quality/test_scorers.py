"""The quality benchmark's scorers, each shown failing on a bad example (a scorer that cannot fail is a defect),
and a small, fast subset of `make quality` held to the figures the README states."""

from __future__ import annotations

import argparse
import io
import math
import wave

import numpy as np
import pytest

from bench.quality import run as quality
from bench.quality import scorers as S
from storyloom.engines.speech.loudness import integrated_loudness, normalize


def test_slot_scores_count_a_toy_made_hero_as_wrong_and_a_missing_friend_as_missed() -> None:
    expect = {"hero": {"name": "Mia", "pronoun": "she", "species": "human"},
              "companions": [{"name": "Button", "species": "bunny"}], "scene_count": 4}
    right = S.Extracted(characters=(S.Character("Mia", "a 4-year-old girl", "she"),
                                    S.Character("Button", "a stuffed bunny")), scene_count=4)
    wrong = S.Extracted(characters=(S.Character("the bunny", "a stuffed bunny"),), special="Please go ahead.")

    good, _ = S.score_slots(right, expect)
    bad, problems = S.score_slots(wrong, expect)

    assert good.precision == good.recall == 1.0
    assert bad.precision < 0.5 and bad.recall == 0.0
    assert "missed hero=mia" in problems and any(p.startswith("wrong special") for p in problems)


def test_the_hero_must_be_named_in_every_scene() -> None:
    assert S.hero_in_every_scene(["Mia slept.", "Mia woke."], "Mia") == (2, 2)
    assert S.hero_in_every_scene(["Mia slept.", "The bunny woke."], "Mia") == (1, 2)


def test_pronoun_disagreement_is_found_and_an_object_pronoun_is_not_judged() -> None:
    assert S.pronoun_mismatches("Grandpa Joe did her very best to help.", "Grandpa Joe", "he", [])
    assert S.pronoun_mismatches("Their name was Stompy.", "Stompy", "he", [])
    assert S.pronoun_mismatches("Robin did his very best.", "Robin", "they", [])
    assert not S.pronoun_mismatches("Jasper squeezed her hand.", "Jasper", "he", [])
    assert not S.pronoun_mismatches("Mia did her very best.", "Mia", "she", [])


def test_a_request_named_once_is_not_central_and_a_moral_must_close_the_story() -> None:
    scenes = ["The lamp kept going out.", "Joe walked by the sea.", "Joe fixed the lamp."]
    assert S.realized(scenes, ["lamp"], min_scenes=2)
    assert not S.realized(scenes[:2], ["lamp"], min_scenes=2)
    assert not S.realized(scenes, ["star", "map"])
    assert S.moral_realized(["...", "Mia had been brave."], "courage")
    assert not S.moral_realized(["Mia was brave.", "Mia slept."], "courage")


def test_stories_that_differ_only_by_names_share_all_their_sentences() -> None:
    one = S.masked_sentences("Oliver found a big red apple. Oliver shared it with everyone.", ["Oliver"])
    other = S.masked_sentences("Stompy found a big red apple. Stompy shared it with everyone.", ["Stompy"])
    third = S.masked_sentences("Zack looked at the star map. The rocket hummed a low song.", ["Zack"])

    mean, worst, _ = S.duplicate_rate([(one, "a"), (other, "b"), (third, "c")])

    assert worst == 1.0 and 0.3 < mean < 0.4


@pytest.mark.parametrize("text", ["They lived in a her bedroom.", "Grandpa Joe did her very best.",
                                  "A curious girl who loves inventing gadgets named Priya.", "She saw a owl.",
                                  "It was the the end.", "Then {Hname} smiled."])
def test_known_grammar_mistakes_are_caught(text: str) -> None:
    assert S.grammar_hits(text, [("Grandpa Joe", "he")])


def test_good_grammar_is_not_flagged() -> None:
    text = 'Mia hugged her bunny. "Goodnight," she said. An owl hooted, and a unicorn smiled. It was very, very late.'
    assert S.grammar_hits(text, [("Mia", "she")]) == []


def test_things_that_cannot_be_in_the_setting_are_found_and_whole_words_only() -> None:
    assert S.setting_violations("her bedroom", ["Water lapping at the shore."])
    assert S.setting_violations("a planet made of jelly", ["Moon dust sparkled."])
    assert S.setting_violations("the forest", ["The sky was grey and the sky was blue."])
    assert S.setting_violations("outer space", ["Outside the window, a planet glowed."]) == []


def test_picture_specs_must_draw_each_character_as_it_is() -> None:
    expect = {"hero": {"name": "Stompy", "species": "dinosaur", "colour": "green", "pronoun": "he"},
              "objects": ["star map"]}
    dragon = {"characters": [{"name": "Stompy", "role": "hero", "species": "dragon", "colour": "purple",
                              "gender": ""}], "objects": []}
    right = {"characters": [{"name": "Stompy", "role": "hero", "species": "dinosaur", "colour": "green",
                             "gender": "male"}], "objects": ["star map"]}

    assert S.picture_scores([dragon], expect)[:4] == (0, 1, 0, 1)
    assert S.picture_scores([right], expect)[:4] == (1, 1, 1, 1)


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def test_loudness_follows_bs_1770_on_a_full_scale_sine_and_clipping_is_counted() -> None:
    rate = 48000
    sine = np.sin(2 * np.pi * 997 * np.arange(rate * 3) / rate)  # BS.1770: a 0 dBFS 997 Hz sine is -3.01 LUFS

    assert S.loudness(sine, rate) == pytest.approx(-3.01, abs=0.1)
    assert integrated_loudness(sine, rate) == pytest.approx(-3.01, abs=0.1)
    measures = S.narration_measures(_wav(sine * 1.2, 22050), 50)
    assert measures["clipped_samples"] > 100 and measures["peak_dbfs"] > -0.1
    assert math.isinf(S.loudness(np.zeros(rate), rate))


def test_normalized_speech_like_audio_meets_the_narration_targets() -> None:
    rate = 22050
    t = np.arange(rate * 4) / rate
    bursts = np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0) * 0.9  # loud, peaky, then quiet
    pcm = _wav(bursts, rate)

    with wave.open(io.BytesIO(pcm)) as reader:
        raw = reader.readframes(reader.getnframes())
    out = S.narration_measures(_wav(np.frombuffer(normalize(raw, rate), "<i2") / 32768.0, rate), 10)

    assert out["lufs"] == pytest.approx(-16, abs=1.0)
    assert out["peak_dbfs"] < -1.0 and out["clipped_samples"] == 0


async def test_a_fast_subset_of_the_benchmark_meets_the_done_figures() -> None:
    ids = {"mia", "zack", "stompy", "pip", "priya", "oliver", "nonsense", "celebrity", "spanish", "req_knight"}
    cases = [c for c in quality.load_cases() if c["id"] in ids]
    args = argparse.Namespace(narrate="none", only="", problems=False, out="")

    card = await quality.run(args, cases)

    assert card["cases"] == len(ids)
    assert card["slot_f1"] >= 0.9
    for key in ("hero_every_scene", "pronouns_consistent", "scene_count_honored", "no_reask",
                "celebrity_kindly_replaced", "nonsense_questioned", "language_detected"):
        assert card[key]["rate"] == 1.0, key
    for key in ("companions_realized", "setting_realized", "moral_realized", "special_realized"):
        assert card[key]["rate"] >= 0.9, key
    assert card["grammar_hits"] == 0 and card["setting_violations"] == 0
    assert card["duplicate_sentence_rate_mean"] < 0.05
    assert card["picture_character_rate"] == 1.0

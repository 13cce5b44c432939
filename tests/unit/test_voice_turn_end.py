"""The end-of-turn completeness checks: a transcript that reads as finished lets a short pause end the turn, one
that reads as broken off waits for a longer pause."""

from __future__ import annotations

import pytest

from storyloom.domain.voice.listening import sounds_finished, sounds_unfinished


@pytest.mark.parametrize("text", [
    "Can you tell me a story about a brave little dragon?",
    "I want the story to happen in a snowy forest.",
    "Please make it funny!",
    'He said "hello."',
])
def test_a_finished_sentence_sounds_finished(text: str) -> None:
    assert sounds_finished(text)


@pytest.mark.parametrize("text", [
    "",
    "Yes.",  # one word: too little to be sure
    "I want a story about a dragon and",
    "I want a story about a dragon and.",  # the recognizer puts a stop where the voice paused
    "The dragon should have a best friend who is the.",
    "Once upon a time...",
    "Once upon a time…",
    "I think that,",
    "Tell me about the",
])
def test_an_unfinished_one_does_not(text: str) -> None:
    assert not sounds_finished(text)


@pytest.mark.parametrize("text", [
    "I want a story about a dragon and",
    "I want a story about a dragon and.",  # the stop is where the voice paused, not the end of a sentence
    "The dragon should have a best friend who is the.",
    "Because um",
    "It was my",
    "Once upon a time...",
    "Once upon a time…",
    "I think that,",
    "Make it funny but -",
    'He said "and',
])
def test_a_broken_off_turn_sounds_unfinished(text: str) -> None:
    assert sounds_unfinished(text)
    assert not sounds_finished(text)  # (so the short hangover never ends it first)


@pytest.mark.parametrize("text", [
    "",
    "Yes.",
    "Can you tell me a story about a brave little dragon?",
    "What is a dragon made of?",  # a question is asked, whatever its last word
    "What is it about.",  # "about" may end a sentence: only the surest words hold a turn
    "I want to.",
    "I like her.",
    "I like that.",
    "Please make it funny!",
])
def test_a_turn_that_may_be_finished_does_not_sound_unfinished(text: str) -> None:
    assert not sounds_unfinished(text)

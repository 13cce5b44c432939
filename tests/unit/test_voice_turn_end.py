"""The end-of-turn completeness check: a transcript that reads as finished lets a short pause end the turn."""

from __future__ import annotations

import pytest

from storyloom.domain.voice.listening import sounds_finished


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

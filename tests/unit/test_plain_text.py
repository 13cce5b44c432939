"""The plain-text check of what users send: a printable text is taken without looking up each character's category;
one with a control, format, surrogate or private-use character is refused as before, naming the first one."""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import pytest

from storyloom.domain import text as text_module
from storyloom.domain.errors import InvalidArgument
from storyloom.domain.text import check_plain_text


class CountedCategories:
    """unicodedata, counting `category` lookups."""

    def __init__(self) -> None:
        self.lookups = 0

    def category(self, char: str) -> str:
        self.lookups += 1
        return unicodedata.category(char)


@pytest.fixture
def categories(monkeypatch: pytest.MonkeyPatch) -> CountedCategories:
    counted = CountedCategories()
    monkeypatch.setattr(text_module, "unicodedata", counted)
    return counted


def test_a_printable_text_is_checked_without_a_lookup_a_character(categories: CountedCategories) -> None:
    text = "Hi! I want a story about a brave fox named Zoë, who is 5 🦊"
    assert check_plain_text(text, "text", max_chars=4000) == text
    assert categories.lookups == 0


def test_what_is_refused_is_as_before(categories: CountedCategories) -> None:
    def before(value: str) -> Any:
        for char in value:
            if char not in "\n\t" and unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co"}:
                return f"U+{ord(char):04X}"
        return value

    samples = ["line one\nline\ttwo", "a\u00a0b", "x\u2028y", "zero\u200bwidth", "bell\x07", "esc\x1b[0m",
               "private\ue000", "bidi\u202e", "unassigned\U000e0080x", "surrogate\ud800x", "ok"]
    for value in samples:
        expected = before(value)
        try:
            got = check_plain_text(value, "text", max_chars=4000, characters_reason="MESSAGE_CHARACTERS_INVALID")
        except InvalidArgument as exc:
            assert exc.reason == "MESSAGE_CHARACTERS_INVALID"
            assert expected in str(exc.violations[0].description), (value, exc)
        else:
            assert got == expected == value


def test_no_printable_character_is_one_that_is_refused() -> None:
    refused = {"Cc", "Cf", "Cs", "Co"}
    printable = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isprintable()]
    assert not [c for c in printable if unicodedata.category(c) in refused]

"""Checks of the plain text users send (messages, memories), in one place so every field follows one rule."""

from __future__ import annotations

import unicodedata

from storyloom.domain.errors import FieldViolation, InvalidArgument

# Control, format, surrogate and private-use characters: never part of plain text (newline and tab aside).
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


def check_plain_text(text: str, field: str, *, max_chars: int, required: bool = True,
                     too_long_reason: str | None = None, characters_reason: str | None = None) -> str:
    """Returns `text` if it is plain text of at most `max_chars` characters (and not blank, when `required`);
    else raises InvalidArgument naming `field`, with the given reasons for too long and for a control character."""
    if required and not text.strip():
        raise InvalidArgument(FieldViolation(field, "must not be empty"))
    if len(text) > max_chars:
        raise InvalidArgument(FieldViolation(field, f"must be at most {max_chars} characters"), reason=too_long_reason)
    if text.isprintable():  # (no character of those categories; most texts, checked without a lookup a character)
        return text
    for char in text:
        if char not in "\n\t" and unicodedata.category(char) in _CONTROL_CATEGORIES:
            raise InvalidArgument(FieldViolation(field, f"must not contain control character U+{ord(char):04X}"),
                                  reason=characters_reason)
    return text


ECHO_CHARS = 200  # the most of a caller's input an error message repeats


def clip(value: str, limit: int = ECHO_CHARS) -> str:
    """`value` as an error message quotes it (repr), cut to `limit` characters of the input with the cut said."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"

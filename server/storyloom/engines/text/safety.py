"""The one child-safety rule every text engine and the chat share, so the rule cannot drift between them.

`unsafe` finds words no children's story or reply should carry (violence, sex, drugs, swearing...), matched as
whole words with their common endings ("kill", "kills", "killed"), after harmless phrases that contain them
("shooting star", "killer whale") are taken out. `scary` finds the words that frighten small children, which a
G-rated story avoids. The word lists are data (safety.json).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources


@functools.cache
def _lists() -> dict[str, list[str]]:
    loaded: dict[str, list[str]] = json.loads(resources.files(__package__).joinpath("safety.json").read_text("utf-8"))
    return loaded


@functools.cache
def _blocked() -> re.Pattern[str]:
    stems = sorted(_lists()["blocked_stems"], key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(s) for s in stems) + r")(?:s|es|ed|d|ing|er|ers|y)?\b",
                      re.IGNORECASE)


@functools.cache
def _harmless() -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(s) for s in _lists()["safe_phrases"]) + r")\b", re.IGNORECASE)


@functools.cache
def scary_pattern() -> re.Pattern[str]:
    words = sorted(_lists()["scary_words"], key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


def unsafe(text: str) -> bool:
    """Whether `text` has a word no children's story should carry."""
    return bool(_blocked().search(_harmless().sub(" ", text)))


def scary(text: str) -> bool:
    """Whether `text` has a word that frightens small children (kept out of G-rated stories)."""
    return bool(scary_pattern().search(text))

"""The offline storyteller's patterns about a named character (its age, pronouns, what it does) are compiled for a
name only where they could match: a new user's first message that names a new character, without its age or pronouns,
compiles no regular expression once the chat's own patterns are; and what the patterns find is what they found when
each name's were compiled for every message."""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from storyloom.domain.ports.text import ChatRequest, ChatTurn
from storyloom.engines.text.offline import OfflineStoryteller
from storyloom.engines.text.offline import characters as C
from storyloom.engines.text.offline import understand as U
from tests.integration.engines.test_offline_storyteller import OTHER_LANGUAGES, SAMPLES, SCRIPT
from tests.integration.engines.test_storyteller_prefixes import CASES

# First messages that name their hero, and nothing the patterns about a name look for.
NAMING = [
    "Hi! I want a story about a brave fox named {name}",
    "A funny story about a dragon called {name} in a candy kingdom",
    "{name} the unicorn and her friend Max the owl, please",
]
# First messages that name their hero, each way the patterns read a name: a name, an age, pronouns, what one does.
FIRST_MESSAGES = [
    "Hi! I want a story about a brave fox named {name}",
    "A bedtime story for my daughter {name}, 4, who is afraid of the dark.",
    "My son {name} is 7 and he loves dragons",
    "A story about {name} who lost his scarf. It should be funny.",
    "{name} uses they/them and is going to the moon",
    "a green dinosaur. His name is {name}",
    "a 6-year-old girl named {name} searching for a lost star",
]


def new_names(count: int, salt: str) -> Iterator[str]:
    syllables = ["zor", "vik", "lum", "tap", "qui", "nex", "bru", "dal", "fen", "gor", "hix", "jun"]
    for n in range(count):
        yield (salt + syllables[n % 12] + syllables[(n // 12) % 12]).capitalize()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many regular expressions were compiled since (re compiles a pattern it has not cached here)."""
    compiler: Any = importlib.import_module("re._compiler")
    compile_pattern = compiler.compile
    count = [0]

    def counted(pattern: Any, flags: int = 0) -> Any:
        count[0] += 1
        return compile_pattern(pattern, flags)

    monkeypatch.setattr(compiler, "compile", counted)
    return lambda: count[0]


def reply(engine: OfflineStoryteller, text: str) -> str:
    return engine.reply_text(ChatRequest(system_instruction="", turns=[ChatTurn("user", text)]))


def test_a_new_name_compiles_no_pattern(compiles: Callable[[], int]) -> None:
    engine = OfflineStoryteller(word_delay=0)
    for name in new_names(2, "warm"):  # the chat's own patterns, compiled once
        for message in NAMING:
            reply(engine, message.format(name=name))
    before = compiles()
    replies = [reply(engine, message.format(name=name)) for name in new_names(30, "new") for message in NAMING]
    assert compiles() - before == 0
    assert any("Newzorvik" in text for text in replies)  # (the names were read)


# What each pattern was before: one compiled for every name.
def age_before(name: str, text: str) -> int:
    num = U._NUM
    first = re.escape(name) if " " in name else re.escape(name.split()[0])
    for pattern in (rf"\b{first}\s*\(\s*{num}\s*\)", rf"\b{first},\s*{num}\b(?!\s*(?:scenes?|parts?|minutes?))",
                    rf"\b{first}\s+(?:is|was|turns|turned|just turned)\s+{num}\b(?!\s*(?:scenes?|parts?))",
                    rf"\b{first}\b[^.!?]{{0,40}}?\b(?:he|she|they)(?:'s| is| are|'re)\s+{num}\b",
                    rf"\b{first}\b[^.!?]{{0,30}}?\b(?:who is|aged?)\s+{num}\b",
                    rf"\b{first}\b[^.!?]{{0,30}}?\b{num}[- ]years?[- ]old\b",
                    rf"\b{num}[- ]years?[- ]old\s+(?:\w+\s+){{0,2}}(?:named|called)\s+{first}\b",
                    rf"\b{num}[- ]years?[- ]old\s+(?:son|daughter|grandson|granddaughter|boy|girl|kid|child|"
                    rf"niece|nephew)\s+{first}\b"):
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            value = U.number(match.group(1))
            if 0 < value < 100:
                return value
    return 0


def pronoun_before(name: str, text: str) -> str:
    first = re.escape(name.split()[0])
    match = re.search(rf"\b{first}\b[^.!?]{{0,20}}?\buses\s+(she|he|they)\s*/", text, re.IGNORECASE)
    if match:
        return match.group(1).lower()
    match = re.search(rf"\b{first}\s+is\s+(?:a|an)\s+(?:\w+\s+)?(girl|boy|she|he)\b", text, re.IGNORECASE)
    if match:
        return "she" if match.group(1).lower() in ("girl", "she") else "he"
    match = re.search(rf"\b(his|her|their)\s+name\s+is\s+{first}\b", text, re.IGNORECASE)
    if match:
        return {"his": "he", "her": "she", "their": "they"}[match.group(1).lower()]
    match = re.search(rf"\b{first},?\s+(he|she)(?:'s| is)\b", text, re.IGNORECASE)
    if match:
        return match.group(1).lower()
    match = re.search(rf"\b{first}\b[^.!?]{{0,25}}?\b(?:a|an)\s+(\w+\s+)?(boy|girl)\b", text, re.IGNORECASE)
    if match:
        return "she" if match.group(2).lower() == "girl" else "he"
    return ""


def span(match: re.Match[str] | None) -> tuple[Any, ...] | None:
    return None if match is None else (match.span(), match.groups())


def texts() -> list[str]:
    cases = tomllib.loads(CASES.read_text())["case"]
    found = [turn for case in cases for turn in case.get("turns", ())]
    found += [message for message, *_ in SCRIPT] + [message for _, messages, *_ in SAMPLES for message in messages]
    found += [message for message, _ in OTHER_LANGUAGES]
    found += [message.format(name=name) for message in NAMING + FIRST_MESSAGES for name in ("Luna", "Mary Ann", "Zoë")]
    found += ["Mia (5) and Leo, 8, who is ten", "Rosie turned 9! She's 9. Robin uses he/him", "ſam is a girl, SAM is 7",
              "Kelvin \u212aai is 6", "_x is a boy", "Élodie, she's 3", "Mia... is 4", "O'Neil, 7, is an old boy"]
    return found


def names(text: str) -> list[str]:
    words = re.findall(r"[\w'-]+", text)
    return [*{w for w in words if w[:1].isupper() or w[:1] in "_'"}, "Mary Ann", "Sam", "Kai", "'", "-x", "a.b", "Ⅻ"]


def test_the_patterns_find_what_they_found_before() -> None:
    checked = 0
    for text in texts():
        for name in names(text):
            assert U.age_of(name, text) == age_before(name, text), (name, text)
            assert U.pronoun_of(name, text) == pronoun_before(name, text), (name, text)
            for sentence in [text, *re.split(r"(?<=[.!?])\s+", text)]:
                word = name.split()[0] if name.split() else ""
                assert U.has_word(word, sentence) == bool(re.search(rf"\b{re.escape(word)}\b", sentence)), (
                    word, sentence)
                first = re.escape(word)
                assert span(C._GOING.search(first, sentence)) == span(re.search(
                    rf"\b{first}\s+((?:crossing|searching|looking|trying|going|travelling|"
                    rf"flying|sailing)\b[^.!?]*)", sentence))
                assert span(C._WHO_DID_HIS.search(first, sentence)) == span(re.search(
                    rf"\b{first}\b\s+(?:who\s+)?(?:\w+ed|lost|loves|likes|has|"
                    rf"had|wants|shares|learns to share|finds|found)\s+(his|her)\b", sentence))
                assert span(U.NAME_IS.search(first, sentence)) == span(re.search(
                    rf"\b(his|her|their)\s+name\s+is\s+{first}\b", sentence, re.I))
            checked += 1
    assert checked > 500

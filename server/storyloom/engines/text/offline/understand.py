"""What the chat reads beyond the slot rules: the language, nonsense, real people and trademarked characters, scene
counts, morals, confirmations, and what a message says about a named character (age, pronouns, "is the hero").

Pure functions over text; the word lists are data (engines/text/data/people.json, languages.json).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from storyloom.engines.text.lexicon import load

_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "eleven": 11, "twelve": 12}
_NUM = r"(\d{1,2}|" + "|".join(_NUMBERS) + r")"


def number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS.get(word.lower(), 0)


# --- language ---------------------------------------------------------------------------------------------------

@functools.cache
def _identifier() -> Any:
    try:
        from storyloom.engines.speech.langid import FastTextLanguageIdentifier
        return FastTextLanguageIdentifier(("en", "es", "fr", "de", "it", "pt", "nl"))
    except Exception:  # noqa: BLE001 - the model is optional here: the word lists still decide
        return None


def language_of(text: str) -> str:
    """The message's language code when it is clearly not English ("" for English or unsure). The model's guess
    counts only when the message also has at least two common words of that language, so a one-word English
    answer is never taken for something else."""
    data = load("languages")
    words = re.findall(r"[^\W\d_]+", text.lower())
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(1 for ch in letters if ord(ch) > 0x24F) / len(letters) > 0.5:
        return "und"
    hits = {code: sum(1 for w in words if w in set(common)) for code, common in data.COMMON.items()}
    english = sum(1 for w in words if w in data.ENGLISH)
    best = max(hits, key=lambda code: hits[code]) if hits else ""
    if not best or hits[best] < 2 or hits[best] <= english:
        return ""
    identifier = _identifier()
    if identifier is not None:
        guesses = identifier.detect(text)
        if guesses and guesses[0].language_code != "en" and guesses[0].confidence >= 0.5:
            return str(guesses[0].language_code)
        if guesses and guesses[0].language_code == "en":
            return ""
    return best


def to_english(text: str, language: str) -> str:
    """The common story phrases of `language` in English ("un gato llamado Tomás" -> "a cat named Tomás"), so the
    English rules can read them. Phrases first, longest first; then single words."""
    data = load("languages")
    phrases = data.PHRASES.get(language, {})
    for phrase in sorted(phrases, key=len, reverse=True):
        text = re.sub(rf"(?<![\w]){re.escape(phrase)}(?![\w])", phrases[phrase], text, flags=re.IGNORECASE)
    return text


def language_name(code: str) -> str:
    return str(load("languages").NAMES.get(code, "your language"))


# --- nonsense ---------------------------------------------------------------------------------------------------

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")


def _gibberish(word: str) -> bool:
    low = word.lower()
    if len(low) < 4 or not low.isalpha():
        return False
    if any(low[i:i + 4] in row or low[i:i + 4][::-1] in row for row in _ROWS for i in range(len(low) - 3)):
        return True
    vowels = sum(ch in "aeiouy" for ch in low)
    if vowels / len(low) < 0.2:
        return True
    return bool(re.search(r"[bcdfghjklmnpqrstvwxz]{5,}", low))


def nonsense(text: str) -> str:
    """The keyboard-mash part of a message ("asdfgh jklqwe"), when most of its words are mash; else ""."""
    words = re.findall(r"[^\W\d_]+", text)
    junk = [w for w in words if _gibberish(w)]
    return " ".join(junk) if words and len(junk) * 2 >= len(words) else ""


# --- real people and trademarked characters ---------------------------------------------------------------------

def famous(text: str) -> list[tuple[str, str, str, str]]:
    """(the name as written, an original name, its description, its pronoun) for every real person or trademarked
    character the message names."""
    anyone, entries = _famous_patterns()
    if anyone.search(text) is None:  # most messages: one search instead of one per name
        return []
    found = []
    for names, original, description, pronoun in entries:
        for name in names:
            match = name.search(text)
            if match:
                found.append((match.group(), original, description, pronoun))
                break
    return found


@functools.cache
def _famous_patterns() -> tuple[re.Pattern[str], tuple[tuple[tuple[re.Pattern[str], ...], str, str, str], ...]]:
    """Each famous name as a whole-word pattern, compiled once (built per message, the 61 of them were about 8 % of
    the time to read one), and one pattern that finds any of them."""
    def whole(name: str) -> str:
        return rf"(?<!\w){re.escape(name)}(?!\w)"

    entries = load("people").FAMOUS
    anyone = re.compile("|".join(whole(name) for names, *_ in entries for name in names), re.IGNORECASE)
    return anyone, tuple((tuple(re.compile(whole(name), re.IGNORECASE) for name in names), original, description,
                          pronoun) for names, original, description, pronoun in entries)


# --- counts, morals, confirmations --------------------------------------------------------------------------------

def scene_count(text: str) -> int:
    """ "4 scenes", "six parts", "in 3 pictures" -> the count (1 to 12); 0 when the message says none."""
    match = re.search(_NUM + r"\s+(?:short\s+|little\s+)?(?:scenes?|parts?|pages?|chapters?|pictures?)\b", text,
                      re.IGNORECASE)
    if not match:
        return 0
    count = number(match.group(1))
    return count if 1 <= count <= 12 else 0


_MORAL_WORDS = {
    "courage": ("courage", "brave", "bravery", "being brave"),
    "patience": ("patience", "patient", "waiting"),
    "sharing": ("sharing", "share"),
    "kindness": ("kindness", "being kind", "kind to"),
    "honesty": ("honesty", "honest", "truth", "not lying"),
    "friendship": ("friendship",),
    "teamwork": ("teamwork", "working together"),
    "perseverance": ("perseverance", "never giving up", "not giving up", "keep trying"),
}


def moral(text: str) -> str:
    """The lesson a message asks for ("teach courage", "the lesson is patience", "learns that telling the truth
    matters", "kindness is the lesson"); "" when it asks for none."""
    low = text.lower()
    if not re.search(r"\b(?:lesson|moral|teach(?:es|ing)?|learns?|learning|about being|matters)\b", low):
        return ""
    for name, words in _MORAL_WORDS.items():
        if any(re.search(rf"\b{re.escape(w)}\b", low) for w in words):
            return name
    return ""


_CONFIRM = re.compile(r"^(?:(?:ok(?:ay)?|yes|yeah|great|perfect|lovely|sounds good|that's great|thanks?|thank you)"
                      r"[,!. ]*)*(?:please\s+)?(?:go ahead|go for it|make it(?: now)?|do it|write it|let'?s go|"
                      r"that'?s (?:all|it|perfect|great)|sounds (?:good|great|perfect)|create (?:it|the story)|"
                      r"start|begin)(?:\s+please)?[.!]*$", re.IGNORECASE)


def confirmation(text: str) -> bool:
    """ "Please go ahead.", "Sounds good!", "make it now": a go-ahead, never a wish for the story."""
    return bool(_CONFIRM.match(" ".join(text.split()).strip()))


def not_babyish(text: str) -> bool:
    return bool(re.search(r"\bnot (?:too |so |very )?(?:babyish|baby-ish|childish|for babies|little kids?)\b|"
                          r"\bnothing (?:too )?babyish\b", text, re.IGNORECASE))


# --- what a message says about a named character -------------------------------------------------------------------

# A name in a pattern (`NamedPattern`), where the name goes, escaped.
NAME = "<name>"
# The gap after a name in a pattern: any characters of a sentence, up to a number of them.
_GAP = re.compile(r"^(?:\\b)?\[\^\.!\?\]\{0,\d+\}\?")


class NamedPattern:
    """A pattern about a named one ("<name> is 7"): `search` is `re.search` of the pattern with the name in it, but
    compiles that pattern only where it could match. Each name makes a pattern of its own, and compiling one costs
    0.05-0.3 ms; a new name in each message also filled re's cache of 512 compiled patterns, which then dropped and
    compiled again the chat's fixed ones: reading a new user's first message took about 3.5 ms, mostly compiling.
    The parts of the pattern before and after the name are compiled once (with the same flags): any match of the
    whole contains a match of each, so where one of them finds nothing the whole cannot match. (A part after the name
    that begins with a gap, "[^.!?]{0,40}?", is searched from what follows the gap: the gap, tried from every word,
    cost more than the rest.)"""

    __slots__ = ("_template", "_flags", "_parts")

    def __init__(self, template: str, flags: int = 0) -> None:
        head, tail = template.split(NAME)
        tail = _GAP.sub("", tail, count=1)
        self._template, self._flags = template, flags
        self._parts = tuple(re.compile(part, flags) for part in (head, tail) if part not in ("", r"\b"))

    def search(self, name: str, text: str) -> re.Match[str] | None:
        """`re.search` of the pattern with `name` (escaped already) where NAME is."""
        for part in self._parts:
            if part.search(text) is None:
                return None
        return re.search(self._template.replace(NAME, name), text, self._flags)


def has_word(word: str, text: str) -> bool:
    r"""Whether `re.search(rf"\b{re.escape(word)}\b", text)` finds it, without compiling a pattern for each word."""
    if not word or not (_is_word_char(word[0]) and _is_word_char(word[-1])):
        return re.search(rf"\b{re.escape(word)}\b", text) is not None
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if (start == 0 or not _is_word_char(text[start - 1])) and (end == len(text) or not _is_word_char(text[end])):
            return True
        start = text.find(word, start + 1)
    return False


def _is_word_char(char: str) -> bool:
    r"""What `\w` matches in a str pattern."""
    return char.isalnum() or char == "_"


_AGE_OF = tuple(NamedPattern(template, re.IGNORECASE) for template in (
    rf"\b{NAME}\s*\(\s*{_NUM}\s*\)", rf"\b{NAME},\s*{_NUM}\b(?!\s*(?:scenes?|parts?|minutes?))",
    rf"\b{NAME}\s+(?:is|was|turns|turned|just turned)\s+{_NUM}\b(?!\s*(?:scenes?|parts?))",
    rf"\b{NAME}\b[^.!?]{{0,40}}?\b(?:he|she|they)(?:'s| is| are|'re)\s+{_NUM}\b",
    rf"\b{NAME}\b[^.!?]{{0,30}}?\b(?:who is|aged?)\s+{_NUM}\b",
    rf"\b{NAME}\b[^.!?]{{0,30}}?\b{_NUM}[- ]years?[- ]old\b",
    rf"\b{_NUM}[- ]years?[- ]old\s+(?:\w+\s+){{0,2}}(?:named|called)\s+{NAME}\b",
    rf"\b{_NUM}[- ]years?[- ]old\s+(?:son|daughter|grandson|granddaughter|boy|girl|kid|child|"
    rf"niece|nephew)\s+{NAME}\b"))


def age_of(name: str, text: str) -> int:
    """ "Mia, 4,", "Lily (7)", "Rosie is 7", "Zack, he's 10", "Marina, 9": the named one's age, or 0."""
    first = re.escape(name) if " " in name else re.escape(name.split()[0])
    for pattern in _AGE_OF:
        match = pattern.search(first, text)
        if match:
            value = number(match.group(1))
            if 0 < value < 100:
                return value
    return 0


_USES = NamedPattern(rf"\b{NAME}\b[^.!?]{{0,20}}?\buses\s+(she|he|they)\s*/", re.IGNORECASE)
_IS_A = NamedPattern(rf"\b{NAME}\s+is\s+(?:a|an)\s+(?:\w+\s+)?(girl|boy|she|he)\b", re.IGNORECASE)
NAME_IS = NamedPattern(rf"\b(his|her|their)\s+name\s+is\s+{NAME}\b", re.IGNORECASE)
_COMMA_IS = NamedPattern(rf"\b{NAME},?\s+(he|she)(?:'s| is)\b", re.IGNORECASE)
_NEAR_BOY_GIRL = NamedPattern(rf"\b{NAME}\b[^.!?]{{0,25}}?\b(?:a|an)\s+(\w+\s+)?(boy|girl)\b", re.IGNORECASE)


def pronoun_of(name: str, text: str) -> str:
    """What a message says of the named one's pronouns: "Robin uses they/them", "Zork is a girl", "His name is
    Stompy", "Zack, he's 10"."""
    first = re.escape(name.split()[0])
    match = _USES.search(first, text)
    if match:
        return match.group(1).lower()
    match = _IS_A.search(first, text)
    if match:
        return "she" if match.group(1).lower() in ("girl", "she") else "he"
    match = NAME_IS.search(first, text)
    if match:
        return {"his": "he", "her": "she", "their": "they"}[match.group(1).lower()]
    match = _COMMA_IS.search(first, text)
    if match:
        return match.group(1).lower()
    match = _NEAR_BOY_GIRL.search(first, text)
    if match:
        return "she" if match.group(2).lower() == "girl" else "he"
    return ""


def declared_hero(text: str) -> str:
    """The name a message makes the hero: "The main guy is Zack", "Whiskers is the hero!", "Lily is the hero"."""
    match = re.search(r"\b(?:the\s+)?(?:main\s+(?:guy|girl|boy|character|hero|one)|hero|star)\s+"
                      r"(?:is|will be|should be)\s+([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?)", text)
    if match:
        return match.group(1)
    match = re.search(r"\b([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?)\s+(?:is|should be|will be)\s+the\s+(?:hero|main character|"
                      r"star)\b", text)
    return match.group(1) if match else ""


def apposition(text: str) -> list[tuple[str, str, str]]:
    """ "Her friend is an owl called Pip", "his best friend is a fox named Rusty": (role word, kind phrase, name)."""
    found = []
    for match in re.finditer(r"\b(?:his|her|their|my|our|the)\s+(?:best\s+|little\s+|big\s+)?"
                             r"(friend|sidekick|buddy|pet)\s+(?:is|will be|should be)\s+(?:a|an)\s+"
                             r"((?:\w+\s+){0,2}?\w+)\s+(?:called|named)\s+"
                             r"([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?)", text):
        found.append((match.group(1), match.group(2), match.group(3)))
    return found

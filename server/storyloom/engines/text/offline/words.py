"""The chat's words: text helpers (sentences, joins, articles, plurals, hashes for choices that never vary for the same
conversation) and the vocabulary the rules read with (kinds of characters, places, tones, genres, endings, ages,
family words), built from `engines/text/data/chat.json`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence

from storyloom.engines.text.lexicon import load

D = load("chat")



# Only the start of a very long message is read.
MAX_MESSAGE_CHARS = 4000


# --- text helpers ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")


@dataclasses.dataclass(frozen=True)
class _Tok:
    text: str
    low: str
    start: int
    end: int

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


class _Sentence:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = [_Tok(m.group(), m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        self.low = [t.low for t in self.toks]

    def gap(self, i: int) -> str:
        """The characters between token i-1 and token i."""
        if i <= 0 or i >= len(self.toks):
            return ""
        return self.text[self.toks[i - 1].end:self.toks[i].start]

    def plain_gap(self, i: int) -> bool:
        return self.gap(i).strip() == ""


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)[:MAX_MESSAGE_CHARS]
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", text) if s.strip()]


def _clean(text: str) -> str:
    """Plain text only: no markup characters, single spaces."""
    text = re.sub(r"[<>*#_`~\[\]{}|\\^=@$%]", " ", text)
    return re.sub(r"\s+", " ", text).strip(" ,;:-")


def _first(name: str) -> str:
    return name.split()[0] if name.split() else ""


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(items: Sequence[str], oxford: bool = True) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ("," if oxford else "") + " and " + items[-1]


def _join_or(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " or ".join(items)
    return ", ".join(items[:-1]) + ", or " + items[-1]


def _second_person(text: str) -> str:
    """The user's words as the assistant says them back ("my backyard" -> "your backyard")."""
    swaps = {"my": "your", "mine": "yours", "me": "you", "i": "you", "i'm": "you're", "myself": "yourself"}
    return re.sub(r"\b(my|mine|me|i'm|i|myself)\b", lambda m: swaps[m.group().lower()], text, flags=re.IGNORECASE)


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()[:8], "big")


def _pick(seed: int, salt: str, items: Sequence[str]) -> str:
    return items[_digest(str(seed), salt) % len(items)]


def _article(word: str) -> str:
    low = word.lower()
    if low.startswith(("uni", "use", "usu", "eu", "one", "ukulele")):
        return "a"
    return "an" if low[:1] in "aeiou" or low.startswith(("hour", "honest")) else "a"


def _aged(age: int) -> str:
    if age <= 1:
        return "a baby"
    article = "an" if age in (8, 11, 18) or 80 <= age <= 89 else "a"
    return f"{article} {age} year old"


def _plural(word: str) -> str:
    *head, last = word.split(" ")
    if last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u"):
        last = last[:-1] + "ies"
    elif last.endswith(("s", "x", "ch", "sh", "z")):
        last += "es"
    else:
        last += "s"
    return " ".join([*head, last])


# --- vocabulary lookups ---------------------------------------------------------------------------

def _phrase_index(phrases: Mapping[str, object]) -> dict[str, list[tuple[tuple[str, ...], object]]]:
    index: dict[str, list[tuple[tuple[str, ...], object]]] = {}
    for phrase, value in phrases.items():
        words = tuple(phrase.split())
        index.setdefault(words[0], []).append((words, value))
    for entries in index.values():
        entries.sort(key=lambda e: -len(e[0]))
    return index


def _match(index: dict[str, list[tuple[tuple[str, ...], object]]], low: list[str], i: int) -> tuple[int, object]:
    """The longest phrase of `index` starting at token i: (number of tokens, value), or (0, None)."""
    for words, value in index.get(low[i], ()):
        if tuple(low[i:i + len(words)]) == words:
            return len(words), value
    return 0, None


def _kind_forms() -> dict[str, tuple[str, bool]]:
    forms: dict[str, tuple[str, bool]] = {}
    for kind in D.KINDS:
        forms[_plural(kind)] = (kind, True)
    for plural, kind in D.IRREGULAR_PLURALS.items():
        forms[plural] = (kind, True)
    for kind in D.KINDS:
        forms[kind] = (kind, False)  # "sheep", "fish": read as one
    return forms


_KINDS = _phrase_index(_kind_forms())
_KIND_WORDS = frozenset(w for phrase in _kind_forms() for w in [phrase] if " " not in phrase)
_PLACES = _phrase_index({**{_plural(p): p for p in D.PLACES if " " not in p and not p.endswith("s")},
                         **{p: p for p in D.PLACES}})
_PLACE_WORDS = frozenset(p for p in D.PLACES if " " not in p)
_TONES = _phrase_index({w: (tone, strong) for w, tone, strong in D.TONE_WORDS})
_TONE_WORDS = frozenset(w for w, _, _ in D.TONE_WORDS)
_GENRES = _phrase_index(dict(D.GENRES))
_ENDINGS = _phrase_index(dict(D.ENDING_WORDS))
_AGE_WORDS = _phrase_index(dict(D.AGE_WORDS))
_GREETINGS = _phrase_index({g: True for g in D.GREETINGS})
_VOCAB = (_KIND_WORDS | _PLACE_WORDS | _TONE_WORDS | set(D.LENGTH_WORDS) | set(D.ENDING_ANSWERS) | set(D.LANGUAGES)
          | {w for style in D.ILLUSTRATION_STYLES for w in style.split()}
          | {"rhyme", "rhymes", "rhyming", "poem", "poetic", "person", "rated", "rating"})

_NUM = r"(\d{1,2}|" + "|".join(D.NUMBER_WORDS) + r")"


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    number = D.NUMBER_WORDS.get(word)
    return int(number) if number is not None else None


def _age_group(age: int) -> str:
    if age <= 5:
        return "PRESCHOOL"
    if age <= 8:
        return "EARLY_READERS"
    if age <= 12:
        return "MIDDLE_GRADE"
    if age <= 17:
        return "TEENS"
    return "ADULTS"


def _is_name_word(tok: _Tok, loose: bool) -> bool:
    if not re.fullmatch(r"[^\W\d_]+(?:['\-][^\W\d_]+)*", tok.text) or len(tok.text) < 2:
        return False
    if tok.low in D.NOT_NAMES or tok.low in _VOCAB or tok.low in D.ADJECTIVES or tok.low.endswith("'s"):
        return False
    if tok.capitalised:
        return True
    return loose and tok.low not in D.COMMON_WORDS and len(tok.low) >= 3


def _name_text(tok: _Tok) -> str:
    return tok.text if tok.text[:1].isupper() and not tok.text.isupper() else tok.text.capitalize()


# Family words that name a child in the story as what they are.
_BODY_PARTS = frozenset([
    "mane", "tail", "tails", "hair", "eyes", "wings", "wing", "dress", "hat", "coat", "fur", "feathers", "scales",
    "horn", "ears"])
_GROWN_UPS = frozenset([
    "grandma", "grandpa", "granny", "nana", "mum", "mom", "dad", "papa", "auntie", "aunt", "uncle", "mommy", "daddy"])
_COLOURS = frozenset([
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "grey", "gray", "brown", "silver",
    "golden", "gold"])
_CHILD_NOUNS = {"daughter": "girl", "son": "boy", "granddaughter": "girl", "grandson": "boy", "niece": "girl",
                "nephew": "boy", "kid": "child", "child": "child", "girl": "girl", "boy": "boy", "sister": "sister",
                "brother": "brother", "baby": "baby"}
_SHE_KINDS = frozenset([
    "girl", "daughter", "granddaughter", "niece", "sister", "mom", "mum", "mommy", "mummy", "mama", "grandma",
    "granny", "grandmother", "nana", "aunt", "auntie", "princess", "queen", "mermaid", "lady", "woman"])
_HE_KINDS = frozenset([
    "boy", "son", "grandson", "nephew", "brother", "dad", "daddy", "papa", "grandpa", "grandad", "grandfather",
    "uncle", "prince", "king", "man", "knight"])


def _contains(plain: str, phrases: tuple[str, ...]) -> bool:
    return bool(_phrases_pattern(phrases).search(plain))


@functools.lru_cache(maxsize=64)
def _phrases_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w'])")


def _minutes(plain: str) -> str:
    m = re.search(_NUM + r"\s*(?:minutes?|mins?)\b", plain)
    if not m:
        return ""
    minutes = _number(m.group(1)) or 0
    return "SHORT" if minutes <= 5 else "MEDIUM" if minutes <= 12 else "LONG"


def _where(setting: str) -> str:
    """The setting with the preposition that fits it: "in an enchanted forest", "on the moon"."""
    low = setting.lower()
    if low.split(" ")[0] in D.KEPT_PREPOSITIONS or low.startswith(("in ", "on ", "at ")):
        return setting
    words = re.findall(r"[\w'-]+", low)
    prep = "in"
    for i in range(len(words)):
        size, place = _match(_PLACES, words, i)
        if size:
            prep = D.PLACE_PREPOSITION.get(str(place), "in")
            break
    return f"{prep} {setting}"

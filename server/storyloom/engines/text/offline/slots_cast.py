"""Slot extraction, part one: who is in the story. Each sentence of a message is read as tokens; this finds
negations ("no dragons", "not scary"), characters with their kind, adjectives and name ("a brave fox named Luna",
"my cat Tom", "Luna, a fox"), names on their own ("about Luna and Max", "her name is Luna"), and the children a
story is for ("for my son Leo") who are not characters unless the story is about them.
"""

from __future__ import annotations

import re
from typing import cast

from storyloom.engines.text.offline.state import _Char, _Question, _State
from storyloom.engines.text.offline.words import (
    _KIND_WORDS,
    _KINDS,
    _PLACE_WORDS,
    _PLACES,
    _TONE_WORDS,
    _VOCAB,
    D,
    _cap,
    _is_name_word,
    _match,
    _name_text,
    _number,
    _Sentence,
    _Tok,
)
from storyloom.engines.text.safety import unsafe as _unsafe

_DETERMINERS = frozenset({"a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "some", "this",
                          "that", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                          "lots", "many"})

# Words before "a girl", "a friend" that make it a character rather than part of the plot ("find a friend").
_INTRODUCING = frozenset({"", "about", "and", "with", "starring", "of", "meet", "meets", "was", "is", "like"})

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "sir", "captain", "princess", "prince", "king", "queen", "doctor",
                     "dr", "professor", "lady", "lord", "uncle", "aunt", "auntie", "grandma", "grandpa", "little",
                     "big", "baby", "mister", "señor", "madame"})

_FONDNESS = frozenset({"loves", "love", "likes", "like", "adores", "enjoys", "wants", "asked", "asks", "is"})

_AUDIENCE_KINDS = frozenset({"kid", "child", "boy", "girl", "baby", "toddler", "twin", "grandson", "granddaughter"})

_COUNTS = frozenset({"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "some", "many", "lots"})

_PREPOSITIONS = frozenset({"in", "on", "at", "to", "into", "onto", "inside", "under", "underneath", "beneath",
                           "above", "behind", "beyond", "near", "over", "from", "around", "across", "through",
                           "visit", "visits", "visiting", "within"})

_NAMING = (("named",), ("called",), ("is", "called"), ("is", "named"), ("was", "called"), ("was", "named"),
           ("be", "called"), ("be", "named"),
           ("whose", "name", "is"), ("who", "is", "called"), ("who", "is", "named"),
           ("who's", "called"), ("with", "the", "name"), ("by", "the", "name", "of"), ("name", "is"),
           ("that", "is", "called"), ("nicknamed",))


class _CastScan:
    """The part of a message's scan that finds who is in the story: negations ("no dragons"),
    characters with their kinds and names, and names on their own. `_Scan` (slots.py) adds the rest."""

    def __init__(self, state: _State, question: _Question | None) -> None:
        self.state = state
        self.question = question
        self.chars: list[_Char] = []
        self.settings: list[tuple[int, int, str]] = []  # (priority, order, text)
        self.strong_tone = ""
        self.weak_tone = ""
        self.length = ""
        self.ending = ""
        self.genre = ""
        self.title = ""
        self.age: tuple[int, bool] | None = None
        self.age_priority = -1
        self.removed: list[str] = []
        self.renamed = ""
        self.pronoun_names: list[str] = []
        self.replace = False
        self.plots: list[str] = []
        self.specials: list[str] = []
        self.others: dict[str, str] = {}
        self.order = 0
        self.neg_hits = 0
        self.audience_names: list[str] = []
        self.audience: list[_Char] = []
        self.ends: dict[int, int] = {}  # where each character found in the current sentence ends
    # -- negation: "no dragons", "not scary", "without the castle"
    def _negations(self, s: _Sentence) -> set[int]:
        negated: set[int] = set()
        low = s.low
        for i, w in enumerate(low):
            start = None
            if w in ("no", "not", "without", "never", "remove", "except") and (i + 1 < len(low)) and s.plain_gap(i + 1):
                start = i + 1
            elif i + 1 < len(low) and ((w == "instead" and low[i + 1] == "of")
                                       or (w in ("don't", "dont")
                                           and low[i + 1] in ("want", "like", "need", "put", "add"))
                                       or (w == "take" and low[i + 1] in ("out", "away"))):
                start = i + 2
            if start is None:
                continue
            if " ".join(low[i:i + 3]) in ("not too long", "not very long") or low[i:i + 2] == ["not", "long"]:
                continue
            j = start
            while j < len(low) and j < start + 5:
                negated.add(j)
                size, value = _match(_KINDS, low, j)
                if size:
                    self.removed.append(cast(tuple[str, bool], value)[0])
                    self.neg_hits += 1
                    break
                if low[j] in _PLACE_WORDS or low[j] in _TONE_WORDS or low[j] in D.LENGTH_WORDS or (
                        low[j] in D.ENDING_ANSWERS) or low[j] in ("ending", "end"):
                    self.neg_hits += 1
                    break
                if s.toks[j].capitalised and any(c.name == _name_text(s.toks[j]) for c in self.state.chars):
                    self.removed.append(_name_text(s.toks[j]))
                    self.neg_hits += 1
                    break
                if low[j] not in ("a", "an", "the", "any", "more", "too", "very", "so", "of", "it", "mean", "bad") \
                        and low[j] not in D.ADJECTIVES:
                    break
                j += 1
        return negated

    # -- characters: "a brave fox named Luna", "my cat Tom", "Luna the fox", "Luna, a fox"
    def _characters(self, s: _Sentence, negated: set[int], used: set[int]) -> list[_Char]:
        low, toks = s.low, s.toks
        found: list[_Char] = []
        i = 0
        while i < len(low):
            size, value = _match(_KINDS, low, i)
            if not size:
                size, value = self._unknown_being(s, i, used)
            if not size or i in negated or i in used:
                i += 1
                continue
            kind, plural = cast(tuple[str, bool], value)
            j = i + size
            if j < len(low) and s.plain_gap(j) and (_match(_KINDS, low, j)[0] or _match(_PLACES, low, j)[0]):
                i += 1  # "robot dog", "pirate ship": a word that describes what follows
                continue
            k = i - 1
            adjectives: list[str] = []
            aged = False
            while k >= 0 and len(adjectives) < 3 and s.plain_gap(k + 1) and k not in negated:
                if re.fullmatch(r"(?:\d+|[a-z]+)-years?-old", low[k]):
                    k, aged = k - 1, True  # "my 3-year-old son": an age, not a description
                elif low[k] == "old" and k >= 2 and low[k - 1] in ("year", "years") and _number(low[k - 2]):
                    k, aged = k - 3, True
                elif low[k] in D.ADJECTIVES or (low[k] in _KIND_WORDS and low[k] not in D.GENERIC_KINDS):
                    adjectives.insert(0, low[k])
                    k -= 1
                else:
                    break
            det = ""
            if k >= 1 and low[k] == "user's" and low[k - 1] == "the" and s.plain_gap(k + 1):
                det = "my"
                k -= 2
            elif k >= 0 and s.plain_gap(k + 1) and low[k] in _DETERMINERS:
                det = low[k]
                k -= 1
            start = k + 1
            lead = low[k] if k >= 0 else ""
            if kind in _PLACE_WORDS and lead in _PREPOSITIONS:
                i = j  # "on a train": a place here, not a character
                continue
            titled = toks[i].capitalised and not adjectives and not det and size == 1
            name, end = self._name_after(s, j, det, titled=titled)
            if titled and name:
                name = f"{toks[i].text} {name}"  # "Princess Lily", "Captain Hook"
            if not name and start > 0:
                name, start = self._name_before(s, start, det)
            if not name and not det and not adjectives and kind in D.FAMILY and not plural and " " not in kind:
                name, det = kind.capitalize(), "my"  # "a story about grandpa"
            if self._not_a_character(s, kind, plural, name, det, aged, lead, j):
                if name:
                    self.audience_names.append(name)
                    if (kind in D.FAMILY or kind in _AUDIENCE_KINDS) and not plural and not _unsafe(name):
                        self.audience.append(_Char(name=name, kind=kind, owned=True))
                i = max(end, j)
                continue
            if _unsafe(name):
                name = ""
            if det in ("a", "an") and lead in ("is", "was", "be") and found and not name:
                found[-1].adjectives += (kind,)  # "a cat who is a detective": a detective cat
                i = j
                continue
            char = _Char(name=name, kind=kind, adjectives=tuple(adjectives), owned=det in ("my", "our"),
                         plural=plural and not name, count=det if det in _COUNTS else "",
                         about=lead in ("about", "starring", "featuring") and det not in ("my", "our", "his", "her"))
            self.ends[id(char)] = toks[max(end, j) - 1].end
            found.append(char)
            used.update(range(start, max(end, j)))
            i = max(end, j)
        if re.search(r"\b(?:about|starring|with)\s+(?:me|myself)\b|\bme\s+and\b|\band\s+me\b|"
                     r"\bi(?:'m| am)\s+(?:the\s+)?(?:hero|main character|star)\b|"
                     r"\bi\s+want\s+to\s+be\s+(?:in\s+(?:the|it)|the\s+hero)", s.text.lower()):
            found.insert(0, _Char(listener=True))
        return found

    def _unknown_being(self, s: _Sentence, i: int, used: set[int]) -> tuple[int, object]:
        """A word the lists do not know, used as a character: "a lonely cloud who...", "a teapot named Tim"."""
        low = s.low
        if i + 1 >= len(low) or i in used or not s.plain_gap(i + 1) or low[i + 1] not in ("who", "named", "called"):
            return 0, None
        if low[i] in D.COMMON_WORDS or low[i] in _VOCAB or low[i] in _PLACE_WORDS or not low[i].isalpha():
            return 0, None
        k = i - 1
        while k >= 0 and low[k] in D.ADJECTIVES:
            k -= 1
        if k < 0 or low[k] not in ("a", "an", "the", "my", "our", "his", "her", "some", "two", "three"):
            return 0, None
        plural = low[i].endswith("s") and low[k] in _COUNTS
        return 1, (low[i][:-1] if plural else low[i], plural)

    def _not_a_character(self, s: _Sentence, kind: str, plural: bool, name: str, det: str, aged: bool, lead: str,
                         j: int) -> bool:
        """People the story is for ("for my son Leo", "my daughter is 6", "my son loves trains"), things someone
        likes ("she loves butterflies"), and general words ("make friends", "find a friend")."""
        low = s.low
        nxt = low[j] if j < len(low) else ""
        after = low[j + 1] if j + 1 < len(low) else ""
        if name and j < len(low) and low[j].lower() == name.lower():
            nxt, after = (low[j + 1] if j + 1 < len(low) else ""), (low[j + 2] if j + 2 < len(low) else "")
        audience = kind in D.FAMILY or kind in _AUDIENCE_KINDS
        asked = self.question is not None and self.question.slot == "characters"
        if audience and (lead == "for" or (det in ("my", "our") and (
                (nxt in ("is", "are", "turned", "turns", "just") and _number(after))
                or (lead == "" and nxt in _FONDNESS)))):
            return True
        if plural and not det and lead in _FONDNESS:
            return True
        if kind in D.GENERIC_KINDS and not name:
            if det in ("his", "her", "their", "its"):
                return True  # "share his apples with his friends", "her friend is an owl called Pip"
            if det not in ("my", "our") and lead not in _INTRODUCING and not asked:
                return True
            if plural and j < len(low) and s.gap(j).strip() == "," and nxt in ("a", "an"):
                return True  # "two friends, a bear and a rabbit"
        return False

    def _name_after(self, s: _Sentence, j: int, det: str, titled: bool = False) -> tuple[str, int]:
        low, toks = s.low, s.toks
        for seq in _NAMING:
            if tuple(low[j:j + len(seq)]) == seq and j + len(seq) < len(low):
                p = j + len(seq)
                if low[p] in _TITLES and p + 1 < len(low) and _is_name_word(toks[p + 1], loose=True):
                    name, end = self._full_name(s, p + 1)
                    return f"{_cap(low[p])} {name}", end
                if _is_name_word(toks[p], loose=True):
                    return self._full_name(s, p)
        if j + 1 < len(low) and low[j] in ("is", "was") and _is_name_word(toks[j + 1], loose=False) and (
                j + 2 >= len(low) or low[j + 2] in ("and", "but") or not s.plain_gap(j + 2)):
            return self._full_name(s, j + 1)  # "the cat is Tom"
        if j < len(low) and (s.plain_gap(j) or s.gap(j).strip() == ",") and _is_name_word(toks[j], loose=False) and (
                titled or det in ("my", "our", "his", "her", "their", "your", "a", "an", "the")):
            return self._full_name(s, j)
        return "", j

    def _full_name(self, s: _Sentence, p: int) -> tuple[str, int]:
        name = _name_text(s.toks[p])
        end = p + 1
        if s.toks[p].capitalised and end < len(s.toks) and s.plain_gap(end) and _is_name_word(s.toks[end], False):
            name += " " + _name_text(s.toks[end])
            end += 1
        return name, end

    def _name_before(self, s: _Sentence, start: int, det: str) -> tuple[str, int]:
        low, toks = s.low, s.toks
        k = start - 1
        if det == "the" and s.plain_gap(start) and _is_name_word(toks[k], loose=True):
            return _name_text(toks[k]), k
        if det in ("a", "an", "the") and s.gap(start).strip() in (",", "(", ", (") and _is_name_word(toks[k], False):
            return _name_text(toks[k]), k
        if det in ("a", "an") and low[k] in ("is", "was") and k >= 1 and _is_name_word(toks[k - 1], loose=False):
            return _name_text(toks[k - 1]), k - 1
        return "", start

    # -- names without a kind: "about Luna and Max", "someone called Bob", "her name is Luna"
    def _names(self, s: _Sentence, used: set[int], found: list[_Char]) -> None:
        low, toks = s.low, s.toks
        for i, w in enumerate(low):
            if i in used:
                continue
            if w in ("named", "called") and i + 1 < len(low) and i + 1 not in used:
                prev = low[i - 1] if i else ""
                if prev in ("story", "book", "tale", "it", "title", "song", "game", "is", "be") or prev in _PLACE_WORDS:
                    continue
                if _is_name_word(toks[i + 1], loose=True):
                    name, end = self._full_name(s, i + 1)
                    self._add_name(name, found)
                    used.update(range(i, end))
            elif w == "about":
                j = i + 1
                while j < len(low) and j not in used and _is_name_word(toks[j], loose=False):
                    name, j = self._full_name(s, j)
                    self._add_name(name, found)
                    if j < len(low) and low[j] in ("and", "&") or s.gap(j).strip() == ",":
                        j += 1 if j < len(low) and low[j] in ("and", "&") else 0
                    else:
                        break
        text = s.text
        for m in re.finditer(r"\b(?:his|her|its|their|the \w+'s)\s+names?\s+(?:is|are|will be|should be)\s+"
                             r"([^\W\d_][\w'-]*)|\b(?:call|name)\s+(?:him|her|it|them)\s+([^\W\d_][\w'-]*)|"
                             r"\b(?:he|she|it)(?:'s| is)\s+(?:called|named)\s+([^\W\d_][\w'-]*)", text, re.IGNORECASE):
            word = next(g for g in m.groups() if g)
            tok = _Tok(word, word.lower(), 0, 0)
            if _is_name_word(tok, loose=True) and not _unsafe(word):
                self.pronoun_names.append(_name_text(tok))
        change = re.search(r"\bchange\s+(?:his|her|its|their|the)\s+name\s+to\s+([^\W\d_][\w'-]*)", text,
                           re.IGNORECASE)
        if change and _is_name_word(_Tok(change.group(1), change.group(1).lower(), 0, 0), loose=True):
            self.renamed = _name_text(_Tok(change.group(1), change.group(1).lower(), 0, 0))

    def _add_name(self, name: str, found: list[_Char]) -> None:
        if _unsafe(name) or any(c.name == name for c in found):
            return
        char = _Char(name=name)
        found.append(char)
        self.chars.append(char)

"""The offline storyteller: the embedded default text engine (no model, no key, no network).

It is procedural, not a neural model. Hand-written rules read the conversation (character names
and kinds, places, moods, ages, lengths, endings, titles...), and a small slot-filling dialogue
acknowledges what the user said and asks for the most important thing still missing, one question
at a time, with suggestions a child can pick from. Phrasing varies with a hash of the
conversation, never with randomness: the same conversation always gets the same reply.

It is written for children: a short blocklist keeps violent, sexual and grown-up horror words out
of the story and out of every reply (they are never repeated), and replies are plain text, ready
to be read aloud. Messages in other languages get a reply in simple English; a few common story
words of Spanish, French, German, Italian and Portuguese are still understood.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import math
import re
import unicodedata
from collections.abc import AsyncGenerator, Sequence
from typing import cast

from storyloom.domain.ports.text import ChatEvent, ChatRequest, ChatTurn, FinishReason, ReplyEnd, TextDelta
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.offline import understand as U
from storyloom.engines.text.offline.writer import OfflineStoryWriter
from storyloom.engines.text.safety import unsafe as _unsafe

D = load("chat")

# A pause after each streamed word in production, so that streaming is visible; tests pass 0.
DEFAULT_WORD_DELAY = 0.015
# Only the start of a very long message is read.
MAX_MESSAGE_CHARS = 4000
MAX_CHARACTERS = 6

SLOTS = StoryRequirements.ASKED
_LISTENER = "the child hearing the story, as the hero"
_SCALARS = tuple(f.name for f in dataclasses.fields(StoryRequirements)
                 if f.name not in ("characters", "special_requests", "plot_elements", "extracted_prompt",
                                   "scene_count"))


# --- the engine ---------------------------------------------------------------------------------

class OfflineStoryteller(OfflineStoryWriter):
    """The `TextEngine` that needs nothing: rule-based requirement gathering, deterministic replies.

    `word_delay` is the pause in seconds after each streamed word (0 in tests).
    """

    name = "offline"

    def __init__(self, *, word_delay: float = DEFAULT_WORD_DELAY) -> None:
        if word_delay < 0:
            raise ValueError("word_delay must be >= 0")
        self.word_delay = word_delay

    async def chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent]:
        """Streams the reply word by word, then a ReplyEnd with token estimates."""
        # Reading a long conversation takes a few milliseconds per message: off the event loop.
        reply = await asyncio.to_thread(self.reply_text, request)
        input_tokens = self.count_tokens(" ".join(
            [request.system_instruction, request.summary, *request.memories, *(t.text for t in request.turns)]))
        written = ""
        finish: FinishReason = "STOP"
        for word in re.findall(r"\S+\s*", reply):
            if self.count_tokens(written + word) > request.max_output_tokens:
                finish = "MAX_TOKENS"
                break
            written += word
            yield TextDelta(word)
            if self.word_delay:
                await asyncio.sleep(self.word_delay)
        yield ReplyEnd(finish, input_tokens, self.count_tokens(written))

    def reply_text(self, request: ChatRequest) -> str:
        """The whole reply `chat` streams for this request."""
        turns = list(request.turns)
        analysis = _analyse(turns, request.requirements, summary=request.summary)
        return _compose(analysis, turns, _memory_name(request.memories))

    async def extract_requirements(self, turns: Sequence[ChatTurn], known: StoryRequirements) -> StoryRequirements:
        """The requirements the conversation states, merged onto `known` (later statements win)."""
        return await asyncio.to_thread(lambda: _analyse(list(turns), known).state.requirements(with_prompt=True))

    async def summarize(self, turns: Sequence[ChatTurn], previous_summary: str) -> str:
        """What the user asked for in these turns, after the previous summary."""
        text = await asyncio.to_thread(lambda: _summary(_analyse(list(turns), StoryRequirements())))
        previous = previous_summary.strip()
        return f"{previous} {text}" if previous else text

    def count_tokens(self, text: str) -> int:
        """About 4/3 of a token per word (each CJK character counts as a word)."""
        return math.ceil(len(_WORDS_FOR_TOKENS.findall(text)) * 4 / 3)

    async def aclose(self) -> None:
        return None


_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_WORDS_FOR_TOKENS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")


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

def _phrase_index(phrases: dict[str, object]) -> dict[str, list[tuple[tuple[str, ...], object]]]:
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


_KINDS = _phrase_index(_kind_forms())  # type: ignore[arg-type]
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


# --- what the rules find ---------------------------------------------------------------------------

@dataclasses.dataclass
class _Char:
    name: str = ""
    kind: str = ""
    adjectives: tuple[str, ...] = ()
    owned: bool = False        # "my cat Tom": the user's own
    plural: bool = False
    count: str = ""
    listener: bool = False     # "about me": the child is the hero
    given_description: str = ""
    pronoun: str = ""          # she, he, they: said or plain from the kind ("daughter")
    age: int = 0
    about: bool = False        # introduced as what the story is about ("a story about a cat")

    @property
    def kind_words(self) -> str:
        kind = _plural(self.kind) if self.plural and self.kind else self.kind
        return " ".join([*self.adjectives, kind]).strip()

    def description(self) -> str:
        if self.given_description:
            return self.given_description
        if self.listener:
            return _LISTENER
        if not self.kind:
            return ""
        if self.owned:
            return f"the user's {self.kind_words}"
        if self.plural:
            return f"{self.count or 'some'} {self.kind_words}"
        return f"{_article(self.kind_words)} {self.kind_words}"

    def character(self) -> Character:
        name = self.name or ("you" if self.listener else f"the {_plural(self.kind) if self.plural else self.kind}")
        description = self.description()
        noun = _CHILD_NOUNS.get(self.kind)
        if noun and not self.given_description and self.name:
            description = " ".join(w for w in ("a", *self.adjectives, noun) if w)
        if self.age and description != _LISTENER and not re.search(r"\d", description) and (
                self.kind or self.given_description):
            description = re.sub(r"^(?:a|an|the user's)\s+", "", description)
            aged = f"{'an' if self.age in (8, 11, 18) else 'a'} {self.age}-year-old"
            description = f"{aged} {description}" if description else aged
        pronoun = self.pronoun or _kind_pronoun(self.kind)
        return Character(name=name, description=description, pronouns=pronoun)

    def spoken(self) -> str:
        """How the assistant names this character ("Luna the brave fox", "your cat Tom")."""
        if self.listener:
            return self.name or "you"
        if self.name and self.kind:
            if self.name.lower() == self.kind or self.name.lower().startswith(self.kind + " "):
                return self.name  # "Princess Lily", "Grandpa"
            if self.owned:
                return f"your {self.kind_words} {self.name}"
            return f"{self.name} the {self.kind_words}"
        if self.name:
            return self.name
        if self.owned:
            return f"your {self.kind_words}"
        if self.plural:
            return f"{self.count or 'the'} {self.kind_words}"
        return f"{_article(self.kind_words)} {self.kind_words}"

    def same(self, other: _Char) -> bool:
        if self.listener or other.listener:
            return self.listener and other.listener
        if self.name and other.name:
            return self.name.lower() == other.name.lower()
        return bool(self.kind) and self.kind == other.kind and self.plural == other.plural

    def update(self, newer: _Char) -> None:
        self.name = newer.name or self.name
        if newer.kind in ("girl", "boy") and self.kind and self.kind not in _CHILD_NOUNS:
            self.pronoun = "she" if newer.kind == "girl" else "he"  # "Zork is a girl": still an alien
            return
        if newer.kind and (newer.kind != self.kind or newer.adjectives):
            self.kind, self.adjectives = newer.kind, newer.adjectives
            self.plural, self.count = newer.plural, newer.count
            self.given_description = ""
        self.owned = self.owned or newer.owned


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


def _age_in(text: str) -> int:
    match = re.search(r"\b(\d{1,2})-years?-old\b", text)
    return int(match.group(1)) if match else 0


def _name_pronoun(name: str) -> str:
    """A person's usual pronoun by a common first name, as anyone reading the name would take it."""
    cast = load("cast")
    first = name.split()[0].lower()
    return "she" if first in cast.FEMININE_NAMES else "he" if first in cast.MASCULINE_NAMES else ""


def _kind_pronoun(kind: str) -> str:
    return "she" if kind in _SHE_KINDS else "he" if kind in _HE_KINDS else ""


def _char_from(character: Character) -> _Char:
    name = "" if character.name.lower().startswith("the ") else character.name
    desc = character.description
    if desc == _LISTENER or character.name == "you":
        return _Char(name="" if character.name == "you" else name, listener=True)
    owned = desc.startswith("the user's ")
    sentence = _Sentence(desc[len("the user's "):] if owned else desc)
    for i in range(len(sentence.toks)):
        size, value = _match(_KINDS, sentence.low, i)
        if size:
            kind, plural = cast(tuple[str, bool], value)
            adjectives = tuple(w for w in sentence.low[:i] if w in D.ADJECTIVES or w in _KIND_WORDS)
            found = _Char(name=name, kind=kind, adjectives=adjectives, owned=owned, plural=plural)
            if found.description() != desc:
                found.given_description = desc
            return found
    return _Char(name=name or character.name, given_description=desc)


@dataclasses.dataclass
class _State:
    """What is known so far; the requirements are built from it."""

    chars: list[_Char] = dataclasses.field(default_factory=list)
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    specials: list[str] = dataclasses.field(default_factory=list)
    plots: list[str] = dataclasses.field(default_factory=list)
    age: int | None = None
    age_self: bool = False
    user_name: str = ""
    named_now: list[_Char] = dataclasses.field(default_factory=list)  # unnamed characters just given a name
    scene_count: int = 0
    said: list[str] = dataclasses.field(default_factory=list)  # the user's messages so far, read as English
    audience: list[_Char] = dataclasses.field(default_factory=list)  # the named children the story is for
    hero_name: str = ""      # the one the user made the hero

    @classmethod
    def known(cls, requirements: StoryRequirements) -> _State:
        state = cls()
        state.chars = [_char_from(c) for c in requirements.characters]
        state.values = {f: getattr(requirements, f) for f in _SCALARS if getattr(requirements, f)}
        state.specials = _sentences(requirements.special_requests)
        state.scene_count = requirements.scene_count
        state.plots = _sentences(requirements.plot_elements)
        return state

    def copy(self) -> _State:
        return dataclasses.replace(self, chars=[dataclasses.replace(c) for c in self.chars],
                                   values=dict(self.values), specials=list(self.specials), plots=list(self.plots),
                                   said=list(self.said), audience=list(self.audience))

    def requirements(self, with_prompt: bool = False) -> StoryRequirements:
        req = StoryRequirements(
            characters=tuple(c.character() for c in self.chars),
            special_requests=" ".join(self.specials), plot_elements=" ".join(self.plots), scene_count=self.scene_count,
            **{k: v for k, v in self.values.items() if k in _SCALARS})
        if with_prompt:
            req = dataclasses.replace(req, extracted_prompt=_prompt(req, self))
        return req

    def has(self, slot: str) -> bool:
        return bool(self.chars) if slot == "characters" else bool(self.values.get(slot))

    @property
    def complete(self) -> bool:
        return all(self.has(s) for s in StoryRequirements.ESSENTIAL)

    def missing(self) -> list[str]:
        return [s for s in SLOTS if not self.has(s)]

    def add_char(self, new: _Char) -> _Char | None:
        if new.listener and self.user_name and not new.name:
            new.name = self.user_name
        for char in self.chars:
            if char.same(new) or (new.name and not char.name and not char.listener and new.kind == char.kind
                                  and char.kind and not char.plural):
                if new.name and not char.name:
                    self.named_now.append(char)
                char.update(new)
                return char
        if len(self.chars) >= MAX_CHARACTERS:
            return None
        self.chars.append(new)
        return new


@dataclasses.dataclass
class _Question:
    """What an assistant message asked, and the suggestions it offered, in order."""

    slot: str
    options: list[tuple[str, object]]


@dataclasses.dataclass
class _Facts:
    """What one user message did."""

    new: dict[str, str] = dataclasses.field(default_factory=dict)  # slot or field -> value set now
    chars: list[_Char] = dataclasses.field(default_factory=list)
    picked: list[tuple[str, str]] = dataclasses.field(default_factory=list)     # (slot, spoken value)
    accepted: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    excluded: list[str] = dataclasses.field(default_factory=list)   # "no dragons": kinds kept out
    named: list[_Char] = dataclasses.field(default_factory=list)      # characters that just got their name
    renamed: str = ""
    special: bool = False
    plot: str = ""
    user_name: str = ""
    unsafe: bool = False
    foreign: bool = False
    empty: bool = False
    greeting: bool = False
    thanks: bool = False
    bye: bool = False
    affirm: bool = False
    accept: bool = False     # "yes", "sure": takes the first suggestion
    declined: bool = False
    confirm: bool = False
    create: bool = False
    choose: bool = False
    story_intent: bool = False
    question: bool = False
    about_me: bool = False
    help: bool = False
    how_are_you: bool = False
    joke: bool = False
    language: str = ""
    nonsense: str = ""
    famous: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (as written, original, about)
    go_ahead: bool = False
    about_them: bool = False  # the message speaks of a character as she, he or they ("She lives in a forest")

    @property
    def told_something(self) -> bool:
        return bool(self.new or self.chars or self.picked or self.accepted or self.removed or self.renamed
                    or self.excluded or self.special or self.plot)


@dataclasses.dataclass
class _Analysis:
    state: _State
    before: _State | None = None           # the state before the last user message
    facts: _Facts | None = None            # what the last user message did
    question: _Question | None = None      # what the assistant asked before it
    assistant_turns: int = 0
    foreign_noted: bool = False
    seed: int = 0


# --- reading a conversation ---------------------------------------------------------------------

def _analyse(turns: list[ChatTurn], known: StoryRequirements, summary: str = "") -> _Analysis:
    state = _State.known(known)
    if summary.strip():
        _read_user(summary, state, None, 0, summary_only=True)
    analysis = _Analysis(state=state)
    question: _Question | None = None
    running = hashlib.sha256()
    for turn in turns:
        running.update(f"{turn.role}:{turn.text}\x1f".encode("utf-8", "surrogatepass"))
        if turn.role == "assistant":
            question = _read_question(turn.text)
            analysis.assistant_turns += 1
            analysis.foreign_noted = analysis.foreign_noted or "stories in English" in turn.text
            continue
        seed = int.from_bytes(running.copy().digest()[:8], "big")
        analysis.before = state.copy()
        analysis.question = question
        analysis.facts = _read_user(turn.text, state, question, seed)
        analysis.seed = seed
        question = None
    if not turns or turns[-1].role != "user":
        analysis.facts = None
        analysis.seed = int.from_bytes(running.digest()[:8], "big")
    return analysis


def _classify_question(sentence: str) -> str:
    s = sentence.lower()
    if re.search(r"\bhow old\b|\bwhat age\b|\bage\b", s):
        return "audience_age_group"
    if re.search(r"\bhow long\b|\bshort or long\b|\blong or short\b|\blength\b", s):
        return "length"
    if re.search(r"\bend(?:ing|s)?\b", s):
        return "ending_preference"
    if re.search(r"\bwhere\b|\bwhat place\b|\bwhich place\b|\bsetting\b", s):
        return "setting"
    if re.search(r"\bfeel\b|\bmood\b|\btone\b|\bkind of story\b", s):
        return "tone"
    if re.search(r"\bwho\b|\bcharacters?\b|\bhero\b|\bbe about\b", s):
        return "characters"
    return ""


def _read_question(text: str) -> _Question | None:
    sentences = _sentences(_normalise(text))
    for index in range(len(sentences) - 1, -1, -1):
        if "?" not in sentences[index]:
            continue
        slot = _classify_question(sentences[index])
        if slot:
            rest = " ".join(sentences[index:]).lower()
            return _Question(slot, _offered(slot, rest))
    return None


def _option_pool(slot: str) -> list[tuple[str, object]]:
    if slot == "characters":
        return [(phrase, (kind, name)) for phrase, kind, name in D.CHARACTER_OPTIONS]
    if slot == "setting":
        return [(s, s) for s in D.SETTING_OPTIONS]
    pools = {"tone": D.TONE_OPTIONS, "audience_age_group": D.AGE_OPTIONS, "length": D.LENGTH_OPTIONS,
             "ending_preference": D.ENDING_OPTIONS}
    return list(pools.get(slot, ()))


def _offered(slot: str, text: str) -> list[tuple[str, object]]:
    found = []
    for phrase, value in _option_pool(slot):
        m = re.search(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", text)
        if m:
            found.append((m.start(), phrase, value))
    return [(phrase, value) for _, phrase, value in sorted(found)]


def _contains(plain: str, phrases: tuple[str, ...]) -> bool:
    return bool(_phrases_pattern(phrases).search(plain))


@functools.lru_cache(maxsize=64)
def _phrases_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w'])")


def _is_foreign(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(1 for ch in letters if ord(ch) > 0x24F) / len(letters) > 0.5:
        return True
    words = re.findall(r"[^\W\d_]+", text.lower())
    foreign = sum(1 for w in words if w in D.FOREIGN_WORDS)
    english = sum(1 for w in words if w in D.ENGLISH_WORDS)
    return len(words) >= 2 and foreign >= 2 and foreign > english


def _translate(text: str, only: frozenset[str] | None = None) -> str:
    def swap(m: re.Match[str]) -> str:
        word = m.group()
        if only is not None and word.lower() not in only:
            return word
        return str(D.TRANSLATIONS.get(word.lower(), word))
    return re.sub(r"[^\W\d_]+", swap, text)


def _read_user(text: str, state: _State, question: _Question | None, seed: int,
               summary_only: bool = False) -> _Facts:
    """Reads one user message into `state` and says what it did."""
    facts = _Facts()
    text = _normalise(text)
    if not re.search(r"[^\W_]", text):
        facts.empty = True
        return facts
    language = U.language_of(text)
    if language:
        facts.foreign, facts.language = True, language
        if language != "und":
            state.values["language_code"] = language
        text = _translate(U.to_english(text, language))
    elif _is_foreign(text):
        facts.foreign = True
        text = _translate(text)
    else:
        words = re.findall(r"[^\W\d_]+", text.lower())
        if any(w in D.ALWAYS_TRANSLATE for w in words):
            facts.foreign = not any(w in D.ENGLISH_WORDS for w in words)
            text = _translate(text, D.ALWAYS_TRANSLATE)
    junk = U.nonsense(text)
    if junk:
        facts.nonsense = junk
        text = " ".join(w for w in text.split() if w.strip(".,!?") not in junk.split())
        if not re.search(r"[^\W\d_]{2}", text):
            return facts
    for written, original, about, pronoun in U.famous(text):
        text = re.sub(re.escape(written), original, text, flags=re.IGNORECASE)
        facts.famous.append((written, original, about))
        if not any(c.name == original for c in state.chars):
            state.add_char(_Char(name=original, given_description=about, pronoun=pronoun))
            state.hero_name = state.hero_name or original
    if U.confirmation(text):
        facts.go_ahead = True
    facts.about_them = bool(re.match(r"\s*(?:she|he|they)\b", text, re.IGNORECASE))
    bare = re.fullmatch(r"\s*(\d{1,2})\s*(?:years?(?: old)?)?[.!]?\s*", text)
    if bare and not summary_only and not state.values.get("audience_age_group") and 0 < int(bare.group(1)) < 18 and (
            question is None or question.slot != "audience_age_group"):
        state.age, state.age_self = int(bare.group(1)), False  # a bare number, with the age still unknown: the age
        state.values["audience_age_group"] = facts.new["audience_age_group"] = _age_group(state.age)
        return facts
    if not summary_only:
        state.said.append(text)
        count = U.scene_count(text)
        if count:
            state.scene_count = count
            facts.new["scene_count"] = str(count)
        lesson = U.moral(text)
        if lesson:
            state.values["moral"] = facts.new["moral"] = lesson
    sentences = _sentences(text)
    safe = []
    for sentence in sentences:
        if not _unsafe(sentence):
            safe.append(sentence)
            continue
        clauses = re.split(r"\s+(?=(?:who|that|and|with|but|then)\b)", sentence)
        kept = []
        for clause in clauses:
            if _unsafe(clause):
                break
            kept.append(clause)
        if kept and len(" ".join(kept).split()) >= 3:
            safe.append(" ".join(kept) + ".")
    facts.unsafe = any(_unsafe(x) for x in sentences)
    body = " ".join(safe)
    plain = re.sub(r"[^\w'\s-]", " ", body.lower())
    plain = re.sub(r"\s+", " ", plain).strip()
    words = plain.split()
    before_complete = state.complete
    if not summary_only:
        _read_cues(facts, plain, words, body, question, state, before_complete)

    scan = _Scan(state, question)
    for sentence in safe:
        if not _ABOUT_YOU.search(sentence.lower()):  # "are you a robot?" is not a robot character
            scan.read(sentence)
    _apply(scan, state, facts)
    if facts.go_ahead:
        facts.create = True
        facts.special = False
        state.specials = [x for x in state.specials if not U.confirmation(x)]
    if not summary_only:
        _enrich(state, scan, facts)

    slot = question.slot if question else ""
    if not summary_only:
        answered = slot and slot in facts.new or (slot == "characters" and facts.chars)
        if slot and not answered:
            _answer(facts, state, question, plain, words, body, seed, before_complete)  # type: ignore[arg-type]
        if re.search(r"\b(?:you|u)\s+(?:can\s+)?(?:choose|pick|decide|give|think of|name)\b.*\bnames?\b|"
                     r"\byou name (?:it|him|her|them)\b|\bname (?:it|him|her|them) for me\b", plain):
            _name_unnamed(facts, state, seed)
        if facts.choose:
            targets = _choose_targets(plain)
            if "*" in targets:
                targets = state.missing()
            elif not targets and not facts.told_something and not slot:
                targets = state.missing()[:1]
            for target in targets:
                if not state.has(target):
                    _choose(facts, state, target, None, seed)
        if facts.create and not before_complete:
            bedtime = state.values.get("tone") == "CALM" or "bedtime" in state.values.get("genre", "")
            if bedtime and not state.has("setting"):
                state.values["setting"] = facts.new["setting"] = "a cosy bedroom"  # where bedtime stories happen
            for target in StoryRequirements.ESSENTIAL:
                if not state.has(target):
                    _choose(facts, state, target, None, seed)
    return facts


def _enrich(state: _State, scan: _Scan, facts: _Facts) -> None:
    """What the whole conversation says about its characters: apposition ("her friend is an owl called Pip"),
    who the hero is, each one's age and pronouns, and the age of the audience from the hero's age."""
    said = " ".join(state.said)
    for char in [c for c in state.chars if not c.name and c.kind and not c.plural]:
        # "a curious 8-year-old girl who loves inventing gadgets named Priya": one girl, named at the end.
        match = re.search(rf"\b{re.escape(char.kind)}\b(\s+(?:who|that)\s+[^.!?]*?)?\s+(?:named|called)\s+"
                          rf"([A-Z][\w'-]+)", said)
        if match:
            twin = next((c for c in state.chars if c.name == match.group(2)), None)
            if twin is not None and twin is not char and not twin.kind:
                state.chars.remove(twin)
            char.name = match.group(2)
            phrase = re.search(rf"\b(?:a|an)\s+((?:[\w-]+\s+){{0,3}}{re.escape(char.kind)})\b", said)
            noun = phrase.group(1) if phrase else char.kind_words
            trait = f" {_clean(match.group(1))}" if match.group(1) else ""
            char.given_description = f"{_article(noun)} {noun}{trait}"
            char.age = char.age or U.age_of(char.kind, said) or _age_in(noun)
    teller = re.search(r"\babout (?:me|myself),\s*((?:Grandma|Grandpa|Granny|Nana|Mum|Mom|Dad|Papa|Auntie|Aunt|Uncle)"
                       r"(?:\s+[A-Z][\w'-]+)?)", said)
    for char in list(state.chars):
        if char.listener and teller:
            if any(c.name == teller.group(1) for c in state.chars if c is not char):
                state.chars.remove(char)  # the grown-up telling is already in the story by name
                continue
            char.name, char.listener = teller.group(1), False
            char.kind = teller.group(1).split()[0].lower()
            char.pronoun = _kind_pronoun(char.kind)
    if len(state.chars) > 1 and state.chars[0].kind in _GROWN_UPS and not state.hero_name:
        child = next((c for c in state.chars if c.kind in _CHILD_NOUNS), None)
        if child is not None:
            state.chars.remove(child)
            state.chars.insert(0, child)
    state.specials = [x for x in state.specials if not U.moral(x) and not U.confirmation(x) and not U.scene_count(x)]
    state.plots = [x for x in state.plots if not re.search(r"\b(?:lesson|moral|learns? that)\b", x, re.I)
                   and not re.search(r"\b(?:named|called)\b", x)
                   and not re.match(r"[\w ]+ helps? (?:him|her|them|you)\.?$", x)]
    for match in re.finditer(r"\b([A-Z][\w'-]+) is (?:his|her|their|my) (?:little |big |best |older |younger )?"
                             r"(brother|sister|friend|cousin|dad|mum|mom|grandma|grandpa|dog|cat)\b", said):
        name, kind = match.group(1), match.group(2)
        unnamed = next((c for c in state.chars if not c.name and c.kind == kind), None)
        unnamed = unnamed or next((c for c in state.chars if not c.name and c.kind.endswith(kind)), None)
        if unnamed is not None:
            state.chars.remove(unnamed)
        named = next((c for c in state.chars if c.name == name), None)
        if named is None:
            child = next((c for c in state.audience if c.name == name), None)
            named = dataclasses.replace(child) if child else _Char(name=name)
            state.add_char(named)
        named.kind = named.kind if named.kind and named.kind not in _CHILD_NOUNS else kind
        named.pronoun = named.pronoun or _kind_pronoun(kind)
    myself = re.search(r"\bI'?m (?:a|an) ((?:\w+ ){0,2}?\w+)(?: with\b|[.,!?]|$)", said)
    for char in list(state.chars):
        if myself and char.listener is False and not char.name and char.kind and char.kind in myself.group(1).split():
            state.chars.remove(char)  # "I'm a pirate captain": the hero's description, not another character
            listener = next((c for c in state.chars if c.listener), None)
            if listener is not None:
                listener.given_description = f"{_article(myself.group(1))} {myself.group(1)}"
    wish = re.search(r"\b(?:and|who)\s+((?:wants? to|dreams? of|wishes to)\s+[\w ]+)", said)
    if wish and state.chars and not any(wish.group(1)[:15] in x for x in state.plots):
        hero = state.chars[0]
        if hero.name:
            state.plots.append(_cap(f"{hero.name} {_clean(wish.group(1))}."))
    if state.chars and state.chars[0].name and state.chars[0].pronoun in ("she", "he"):
        hero = state.chars[0]
        state.plots = [re.sub(rf"^{hero.pronoun.capitalize()}\b", hero.name, x) for x in state.plots]
    state.plots = [x for x in state.plots if not any(y != x and y.startswith(x.rstrip(".")) for y in state.plots)]
    for index, plot in enumerate(state.plots):  # "Mia, 4, who is afraid of the dark": Mia is, whoever came last
        subject, _, rest = plot.partition(" ")
        who = re.search(rf"\b([A-Z][\w'-]+)(?:,\s*\d{{1,2}},?)?\s+who\s+{re.escape(rest[:18])}", said)
        if who and who.group(1) != subject and any(c.name == who.group(1) for c in state.chars):
            state.plots[index] = f"{who.group(1)} {rest}"
    fear = re.search(r"\b(?:is|am|are|gets?)\s+(afraid|scared|frightened|nervous|worried)\s+(of|about)\s+"
                     r"([\w ]+?)[.,!?]", said, re.I)
    if fear and not any(fear.group(3) in x for x in state.plots + state.specials) and state.chars:
        hero = state.chars[0]
        afraid = hero.name or ("you" if hero.listener else f"the {hero.kind}")
        state.plots.append(_cap(f"{afraid} is {fear.group(1)} {fear.group(2)} {fear.group(3)}."))
    for char in state.chars:
        if not char.name:
            continue
        going = re.search(rf"\b{re.escape(_first(char.name))}\s+((?:crossing|searching|looking|trying|going|travelling|"
                          rf"flying|sailing)\b[^.!?]*)", said)
        if going and not any(going.group(1)[:20] in x for x in state.plots):
            state.plots.append(_cap(f"{char.name} is {_clean(going.group(1))}."))
    for role, kind_phrase, name in U.apposition(said):
        generic = next((c for c in state.chars if not c.name and c.kind in (role, "friend", "pet")), None)
        named = next((c for c in state.chars if c.name == name), None)
        if generic is not None:
            state.chars.remove(generic)
        words = kind_phrase.lower().split()
        if named is not None and not named.kind:
            named.kind, named.adjectives = words[-1], tuple(words[:-1])
    for child in scan.audience:
        if not any(c.name == child.name for c in state.audience):
            state.audience.append(child)
    declared = U.declared_hero(said)
    if declared and not _unsafe(declared) and declared != state.hero_name:
        stale = next((c for c in state.chars if c.name == state.hero_name), None)
        if stale is not None and any(a.name == stale.name for a in state.audience):
            state.chars.remove(stale)  # the child it is for, made the hero before the user named one
        state.hero_name = declared
    if not state.hero_name and state.audience:
        explicit = any(c.about for c in state.chars if c.name != state.audience[0].name)
        if not explicit:
            state.hero_name = state.audience[0].name
    if state.hero_name:
        found = next((c for c in state.chars if c.name and _first(c.name) == _first(state.hero_name)), None)
        if found is None:
            child = next((c for c in state.audience if c.name == state.hero_name), None)
            found = dataclasses.replace(child) if child else _Char(name=state.hero_name)
            found.owned = False
            if len(state.chars) >= MAX_CHARACTERS:
                state.chars.pop()
            state.chars.insert(0, found)
            facts.chars.append(found)
        elif state.chars[0] is not found and not state.chars[0].listener:
            state.chars.remove(found)
            state.chars.insert(0, found)
        if state.chars[0].listener and found is not state.chars[0] and state.chars[0].name != found.name:
            listener = state.chars.pop(0)  # the grown-up telling ("about me, Grandma Rose") comes second
            state.chars.insert(1, listener)
    for char in state.chars:
        if not char.name:
            continue
        char.age = U.age_of(char.name, said) or char.age
        char.pronoun = U.pronoun_of(char.name, said) or char.pronoun
    last = state.chars[-1] if state.chars else None
    for message in state.said:  # "she is white with a rainbow mane": of the one just talked about
        match = re.match(r"\s*(she|he|they)\s*(?:is|'s|are)\s+(?:a\s+|an\s+)?(\w+)", message, re.I) or re.search(
            r"\b(she|he)(?:'s| is)\s+(\d{1,2})\b", message, re.I)
        if match and last is not None and len(state.chars) == 1:
            last.pronoun = last.pronoun or match.group(1).lower()
            colour = match.group(2).lower()
            if colour in _COLOURS and colour not in last.adjectives:
                last.adjectives = (colour, *last.adjectives)
    for char in state.chars:
        if char.listener and state.age_self and state.age and not char.age:
            char.age = state.age
        if char.name and not char.pronoun and (char.listener or not char.kind or char.kind in _CHILD_NOUNS):
            char.pronoun = _name_pronoun(char.name)
        if char.name and not char.kind and char.age and not char.listener:
            char.kind = {"she": "girl", "he": "boy"}.get(char.pronoun, "child")
        if char.name and not char.pronoun:  # "Percy who lost his scarf": the only one named in that sentence
            for sentence in re.split(r"(?<=[.!?])\s+", said):
                named_here = [c for c in state.chars if c.name and re.search(rf"\b{re.escape(_first(c.name))}\b",
                                                                              sentence)]
                if char in named_here and len(named_here) == 1:
                    match = re.search(rf"\b{re.escape(_first(char.name))}\b\s+(?:who\s+)?(?:\w+ed|lost|loves|likes|has|"
                                      rf"had|wants|shares|learns to share|finds|found)\s+(his|her)\b", sentence)
                    if match:
                        char.pronoun = "he" if match.group(1) == "his" else "she"
                        break
    for char in state.chars:  # "a green dinosaur ... His name is Stompy": the pronoun of a named-later character
        if char.name and not char.pronoun:
            match = re.search(rf"\b(his|her|their)\s+name\s+is\s+{re.escape(_first(char.name))}\b", said, re.I)
            if match:
                char.pronoun = {"his": "he", "her": "she", "their": "they"}[match.group(1).lower()]
    if not state.values.get("audience_age_group") and state.chars:
        lead = state.chars[0]
        if 0 < lead.age <= 17:
            state.age, state.age_self = lead.age, False
            state.values["audience_age_group"] = facts.new["audience_age_group"] = _age_group(lead.age)
    if not state.values.get("audience_age_group"):
        for child in state.audience:
            age = U.age_of(child.name, said)
            if age:
                state.age = age
                state.values["audience_age_group"] = facts.new["audience_age_group"] = _age_group(age)
                break
    if U.not_babyish(said):
        state.specials = [x for x in state.specials if not U.not_babyish(x)]
        if state.values.get("audience_age_group") == "PRESCHOOL":
            state.values["audience_age_group"] = "EARLY_READERS"


def _name_unnamed(facts: _Facts, state: _State, seed: int) -> None:
    """"You choose the name": names the characters that have none yet."""
    taken = {c.name for c in state.chars}
    for char in state.chars:
        if char.name or char.listener or char.plural or not char.kind:
            continue
        by_kind = [name for _, kind, name in D.CHARACTER_OPTIONS if kind == char.kind]
        pool = [n for n in by_kind + list(D.NAMES) if n not in taken]
        fitting = by_kind and by_kind[0] not in taken
        char.name = by_kind[0] if fitting else pool[_digest(str(seed), char.kind) % len(pool)]
        taken.add(char.name)
        facts.picked.append(("names", f"the {char.kind} {char.name}"))


def _read_cues(facts: _Facts, plain: str, words: list[str], body: str, question: _Question | None,
               state: _State, before_complete: bool) -> None:
    n = len(words)
    size, _ = _match(_GREETINGS, words, 0) if words else (0, None)
    facts.greeting = bool(size)
    facts.thanks = _contains(plain, D.THANKS)
    facts.bye = n <= 6 and _contains(plain, D.BYES)
    facts.choose = _contains(plain, D.CHOOSE_PHRASES)
    bare = plain.strip(" !.-")
    affirm = bare in D.YES_WORDS or (n <= 4 and bool(words) and words[0] in D.YES_WORDS
                                      and not any(w in ("no", "not") for w in words))
    facts.accept = affirm and (bare in D.ACCEPT_WORDS or (bool(words) and words[0] in D.ACCEPT_WORDS))
    facts.declined = bare in D.NO_WORDS or bool(re.fullmatch(
        r"(?:no|nope|nah)(?: (?:thanks|thank you|that's all|that's it|that is all|i'm good|im good|not really|"
        r"i'm done|im done|it's fine|its fine|it's good|its good))?", bare))
    facts.create = _contains(plain, D.CREATE_PHRASES) and not facts.declined
    starting = question is None and not state.chars and _contains(plain, ("tell me a story", "make a story",
                                                                            "make a story now"))
    if starting:
        facts.create = False
    facts.affirm = affirm and not facts.declined
    facts.confirm = before_complete and (facts.affirm or facts.create)
    facts.story_intent = bool(re.search(r"\b(?:story|stories|tale)\b", plain))
    facts.question = body.rstrip().endswith("?") or bool(
        re.match(r"(?:what|why|how|who|where|when|can|could|do|does|are|is|will|would)\b", plain))
    facts.about_me = bool(_ABOUT_YOU.search(plain))
    facts.help = bool(re.search(r"\bhelp\b|\bwhat can you do\b|\bhow does this work\b", plain))
    facts.how_are_you = bool(re.search(r"\bhow are you\b|\bhow r u\b|\bhow's it going\b", plain))
    facts.joke = bool(re.search(r"\bjokes?\b", plain))
    name = re.search(r"\bmy name is ([^\W\d_][\w'-]*)|\bcall me ([^\W\d_][\w'-]*)", body, re.IGNORECASE) \
        or re.search(r"\b(?:I'm|I am|Im)\s+([A-Z][^\W\d_]+)\b", body) \
        or (n <= 5 and re.search(r"\b(?:i'm|i am|im)\s+([^\W\d_]+)\s*[.!]*$", body, re.IGNORECASE))
    if name:
        word = next(g for g in name.groups() if g)
        tok = _Tok(word, word.lower(), 0, 0)
        if _is_name_word(tok, loose=True) and not _unsafe(word):
            facts.user_name = state.user_name = _name_text(tok)
            for char in state.chars:
                if char.listener and not char.name:
                    char.name = state.user_name


_ABOUT_YOU = re.compile(r"\bwho are you\b|\bwhat are you\b|\bare you (?:a |an )?(?:robot|real|human|person|ai|"
                        r"computer|machine|alive)\b|\bwhat'?s your name\b|\bwhat is your name\b")


def _choose_targets(plain: str) -> list[str]:
    targets = []
    for m in re.finditer(r"\b(?:you|u)\s+(?:can\s+)?(?:choose|pick|decide)\s+(?:the\s+|a\s+|an\s+|its\s+|their\s+)?"
                         r"(\w+)|\bsurprise me with (?:the\s+)?(\w+)", plain):
        target = D.CHOOSE_TARGETS.get(m.group(1) or m.group(2), "")
        if target and target not in targets:
            targets.append(target)
    return targets


def _answer(facts: _Facts, state: _State, question: _Question, plain: str, words: list[str], body: str,
            seed: int, before_complete: bool) -> None:
    """Reads a message as the answer to the assistant's question (the asked slot is still unknown)."""
    slot, options = question.slot, question.options
    ordinal = None
    m = re.search(r"\b(first|1st|second|2nd|middle|third|3rd|last|number one|number two|number three)\b", plain)
    if m and len(words) <= 6:
        ordinal = dict(D.ORDINALS)[m.group(1)]
    if ordinal is not None and options and (slot != "audience_age_group" or not re.search(r"\d", plain)):
        index = ordinal if ordinal < len(options) else len(options) - 1
        _choose(facts, state, slot, options[index], seed, accepted=True)
        return
    targets = _choose_targets(plain)
    if facts.choose and (not targets or slot in targets or "*" in targets):
        if slot == "audience_age_group":
            option = next((o for o in options if o[1] == 7), None)
        else:
            option = options[_digest(str(seed), "choose") % len(options)] if options else None
        _choose(facts, state, slot, option, seed)
        return
    if facts.accept and options and not before_complete:
        _choose(facts, state, slot, options[0], seed, accepted=True)
        return
    if facts.declined or facts.create or (facts.greeting and len(words) <= 3) or facts.told_something:
        return
    value = _loose(slot, plain, words, body)
    if value is None:
        return
    if slot == "characters":
        for char in value:  # type: ignore[attr-defined]
            added = state.add_char(char)
            if added is not None:
                facts.chars.append(added)
    elif slot == "audience_age_group":
        state.age, state.age_self = value, False  # type: ignore[assignment]
        state.values[slot] = facts.new[slot] = _age_group(value)  # type: ignore[arg-type]
    else:
        state.values[slot] = facts.new[slot] = value  # type: ignore[assignment]


def _loose(slot: str, plain: str, words: list[str], body: str) -> object | None:
    if slot == "characters":
        sentence = _Sentence(body)
        loose = len(sentence.toks) <= 5
        names = [_name_text(t) for t in sentence.toks if _is_name_word(t, loose) and not _unsafe(t.text)]
        return [_Char(name=n) for n in names[:MAX_CHARACTERS]] or None
    if slot == "setting":
        if not 0 < len(words) <= 8 or _contains(plain, D.CHOOSE_PHRASES):
            return None
        text = re.sub(r"^(?:um+|hmm+|maybe|i think|it's|it is|it happens|the story is|let's say)\s+", "",
                      body.strip(), flags=re.IGNORECASE)
        text = re.sub(r"^(?:in|on|at)\s+", "", text, flags=re.IGNORECASE)
        text = _clean(re.sub(r"[.!?]+$", "", text))
        content = [w for w in re.findall(r"[^\W\d_]+", text.lower()) if w not in D.NOT_NAMES]
        return text if content else None
    if slot == "tone":
        for w in words:
            if w in D.TONE_ANSWERS:
                return str(D.TONE_ANSWERS[w])
        for i in range(len(words)):
            size, value = _match(_TONES, words, i)
            if size:
                return cast(tuple[str, bool], value)[0]
        return None
    if slot == "audience_age_group":
        m = re.search(r"\b" + _NUM + r"\b", plain)
        if m:
            age = _number(m.group(1))
            return age if age and 0 < age < 100 else None
        return None
    if slot == "length":
        minutes = _minutes(plain)
        if minutes:
            return minutes
        for w in words:
            if w in D.LENGTH_WORDS:
                return str(D.LENGTH_WORDS[w])
        return None
    if slot == "ending_preference":
        for w in words:
            if w in D.ENDING_ANSWERS:
                return str(D.ENDING_ANSWERS[w])
    return None


def _minutes(plain: str) -> str:
    m = re.search(_NUM + r"\s*(?:minutes?|mins?)\b", plain)
    if not m:
        return ""
    minutes = _number(m.group(1)) or 0
    return "SHORT" if minutes <= 5 else "MEDIUM" if minutes <= 12 else "LONG"


def _choose(facts: _Facts, state: _State, slot: str, option: tuple[str, object] | None, seed: int,
            accepted: bool = False) -> None:
    """Fills `slot` for the user: with the offered option, or one of the usual suggestions."""
    if option is None:
        pool = _option_pool(slot)
        option = pool[1] if slot == "audience_age_group" else pool[_digest(str(seed), "pick", slot) % len(pool)]
    phrase, value = option
    if slot == "characters":
        kind, name = cast(tuple[str, str], value)
        words = phrase.split()
        char = _Char(name="" if accepted else name, kind=kind, adjectives=tuple(words[1:-1]))
        state.add_char(char)
        facts.chars.append(char)
        spoken = phrase if accepted else f"{phrase} named {name}"
    elif slot == "setting":
        state.values["setting"] = spoken = str(value)
    elif slot == "audience_age_group":
        state.age, state.age_self = None, False
        state.values[slot] = _age_group(int(value))  # type: ignore[call-overload]
        spoken = f"a story for {D.AUDIENCE_PHRASES[state.values[slot]]}"
    else:
        state.values[slot] = str(value)
        spoken = f"a story that's {phrase}" if slot == "tone" else phrase
    facts.new[slot] = state.values.get(slot, "characters")
    (facts.accepted if accepted else facts.picked).append((slot, spoken))


class _Scan:
    """Everything the rules find in the sentences of one message."""

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

    def read(self, text: str) -> None:
        sentence = _Sentence(text)
        low = sentence.low
        if not low:
            return
        if re.search(r"\b(?:instead|actually|rather|change)\b", text, re.IGNORECASE):
            self.replace = True
        hits_before = self.neg_hits
        negated = self._negations(sentence)
        used: set[int] = set()
        found_chars = self._characters(sentence, negated, used)
        self.chars.extend(found_chars)
        self._names(sentence, used, found_chars)
        self._settings(sentence, negated, used)
        self._tone(sentence, negated, used)
        self._length(sentence, negated)
        self._ending_genre(sentence, negated)
        self._age(text.lower())
        self._title(text)
        self._others(text)
        self._plot(sentence, found_chars, used)
        self._special(sentence, used, self.neg_hits > hits_before)

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

    # -- settings: "in a magical forest", "on the moon", "under the sea", "a castle in the clouds"
    def _settings(self, s: _Sentence, negated: set[int], used: set[int]) -> None:
        low, toks = s.low, s.toks
        asked = self.question is not None and self.question.slot == "setting"
        i = 0
        while i < len(low):
            size, place = _match(_PLACES, low, i)
            if not size or i in negated or i in used:
                i += 1
                continue
            j = i + size
            if j < len(low) and s.plain_gap(j) and (_match(_KINDS, low, j)[0] or low[j] in _BODY_PARTS):
                i = j  # "space explorer", "jungle cat"
                continue
            k = i - 1
            words: list[str] = []
            while k >= 0 and len(words) < 3 and s.plain_gap(k + 1) and k not in used and (
                    low[k] in D.ADJECTIVES or low[k] in _KIND_WORDS or low[k] in _PLACE_WORDS
                    or (low[k].endswith("'s") and len(low[k]) > 3)):
                words.insert(0, toks[k].text if toks[k].capitalised and low[k].endswith("'s") else low[k])
                k -= 1
            det = ""
            if k >= 0 and s.plain_gap(k + 1) and low[k] in _DETERMINERS and low[k] not in _COUNTS:
                det = low[k]
                k -= 1
            if det in ("a", "an") and not words and j < len(low) and low[j] in ("one", "story", "adventure", "tale"):
                det = ""  # "a space one", "a jungle adventure": the place is "space", "the jungle"
            prep = ""
            if k >= 0 and low[k] in _PREPOSITIONS:
                prep = low[k]
            end, extra = self._setting_tail(s, j)
            if not (prep or det or size > 1 or place in ("space", "outer space", "underwater") or asked):
                i = j
                continue
            kept = prep if prep in D.KEPT_PREPOSITIONS and not str(place).startswith(("under ", "bottom ")) else ""
            if not det and not prep and size == 1 and not words and place not in _MASS_PLACES:
                det = "the" if place in _THE_PLACES else _article(str(place))  # "volcano" -> "a volcano"
            place_words = " ".join(w.capitalize() if w in _PROPER_PLACES else w for w in low[i:j])
            text = " ".join(w for w in (kept, det, *words, place_words, extra) if w)
            priority = 3 if re.search(r"\b(?:set|takes? place|happens?|lives?|live)\s+(?:in|on|at|under)\s*$",
                                      s.text[:toks[k].end] if k >= 0 else "", re.IGNORECASE) else 2 if prep else 1
            self.order += 1
            self.settings.append((priority, -self.order, text))
            used.update(range(max(k, 0) if prep else k + 1, end))
            i = end
        for m in re.finditer(r"\b(?:in|on|at|to|visit|visits|visiting)\s+([A-Z][^\W\d_]+(?:\s+[A-Z][^\W\d_]+)?)",
                             s.text):
            words = m.group(1).split()
            if any(w.lower() in D.NOT_NAMES or w.lower() in _VOCAB or w.lower() in D.LANGUAGES for w in words):
                continue
            if any(c.name and _first(c.name) == words[0] for c in [*self.chars, *self.state.chars]):
                continue
            if words[0] in self.pronoun_names or words[0] == self.renamed or words[0] in self.audience_names:
                continue
            if _unsafe(m.group(1)):
                continue
            self.order += 1
            self.settings.append((1, -self.order, m.group(1)))

    def _setting_tail(self, s: _Sentence, j: int) -> tuple[int, str]:
        low, toks = s.low, s.toks
        if j >= len(low) or not s.plain_gap(j):
            return j, ""
        w = low[j]
        if w in ("made", "full") and j + 1 < len(low) and low[j + 1] == "of":
            p = j + 2
            words: list[str] = []
            while p < len(low) and len(words) < 2 and s.plain_gap(p) and low[p] not in D.NOT_NAMES - {"candy"}:
                words.append(low[p])
                p += 1
            return (p, f"{w} of {' '.join(words)}") if words else (j, "")
        if w in ("called", "named") and j + 1 < len(low) and _is_name_word(toks[j + 1], loose=False):
            return j + 2, f"{w} {toks[j + 1].text}"
        if w in ("of", "in", "on", "under", "above", "near", "beyond", "by"):
            p = j + 1
            words = []
            if p < len(low) and low[p] in ("a", "an", "the"):
                words.append(low[p])
                p += 1
            while p < len(low) and len(words) < 4 and low[p] in D.ADJECTIVES:
                words.append(low[p])
                p += 1
            if p < len(low) and s.plain_gap(p):
                size, _ = _match(_PLACES, low, p)
                if size:
                    return p + size, " ".join([w, *words, *low[p:p + size]])
                if w == "of" and (low[p] in _KIND_WORDS or low[p] not in D.COMMON_WORDS):
                    return p + 1, " ".join([w, *words, low[p]])
        return j, ""

    # -- moods: a stated mood overrides; a hint ("adventure", "magic") only fills an unknown mood
    def _tone(self, s: _Sentence, negated: set[int], used: set[int]) -> None:
        low = s.low
        if re.search(r"\bshort and sweet\b", s.text, re.IGNORECASE):
            negated = negated | {i for i, w in enumerate(low) if w == "sweet"}
        for i in range(len(low)):
            if i in negated or i in used:
                continue
            size, value = _match(_TONES, low, i)
            if not size:
                continue
            tone, strong = cast(tuple[str, bool], value)
            if strong and not self.strong_tone:
                self.strong_tone = tone
            elif not strong and not self.weak_tone:
                self.weak_tone = tone

    # -- length: "a short story", "make it long", "10 minutes"; not "a long time ago"
    def _length(self, s: _Sentence, negated: set[int]) -> None:
        low = s.low
        text = s.text.lower()
        if re.search(r"\bnot (?:too |very |that |so )?long\b", text):
            self.length = self.length or "SHORT"
            return
        if re.search(r"\bnot (?:too |very |that |so )?short\b", text):
            self.length = self.length or "MEDIUM"
            return
        minutes = _minutes(text)
        if minutes and not self.length:
            self.length = minutes
            return
        for i, w in enumerate(low):
            if w not in D.LENGTH_WORDS or w in D.LOOSE_LENGTH_WORDS or i in negated or self.length:
                continue
            nxt = low[i + 1] if i + 1 < len(low) else ""
            punct = i + 1 >= len(low) or not s.plain_gap(i + 1)
            if nxt in D.NOT_LENGTH_AFTER or (not punct and (nxt in _KIND_WORDS or nxt in D.ADJECTIVES)):
                continue
            if w == "quick" and not (punct or nxt in ("story", "one", "tale", "please", "bedtime")):
                continue
            if punct or nxt in ("story", "stories", "one", "tale", "book", "please", "version", "and", "bedtime",
                                "adventure", "fairy", "poem", "length", "sized", "size"):
                self.length = D.LENGTH_WORDS[w]

    def _ending_genre(self, s: _Sentence, negated: set[int]) -> None:
        low = s.low
        for i in range(len(low)):
            if i in negated:
                continue
            size, value = _match(_ENDINGS, low, i)
            if size and not self.ending:
                self.ending = str(value)
            size, value = _match(_GENRES, low, i)
            if size and not self.genre:
                self.genre = str(value)

    # -- ages: "I'm 5", "for my 7 year old", "ages 4 to 6", "a preschooler"
    def _age(self, text: str) -> None:
        found: list[tuple[int, int, bool]] = []  # (priority, age, the user speaks of themself)
        for m in re.finditer(r"\b(?:for\s+(?:my|our|a|an|his|her|their|the)\s+(?:little\s+|big\s+)?)?" + _NUM
                             + r"\s*-?\s*(?:years?|yrs?|yr)\s*-?\s*olds?\b", text):
            found.append((3 if m.group().startswith("for") else 2, _number(m.group(1)) or 0, False))
        for m in re.finditer(r"\b(i'm|i am|im|i'm turning|turned|turning|(?:she|he|they|who|son|daughter|kids?|child|"
                             r"children|boy|girl|grandson|granddaughter|brother|sister|twins|baby|toddler)"
                             r"(?: [a-z]+)?(?:'s|'re| is| are| turned| just turned| turns))\s+"
                             r"(?:just\s+|only\s+|almost\s+|nearly\s+|now\s+)?" + _NUM
                             + r"(?=\s*(?:$|[.,!?;)]|and\b|years?\b|yrs?\b|now\b|today\b|so\b|but\b))", text):
            found.append((2, _number(m.group(2)) or 0, m.group(1) in ("i'm", "i am", "im", "i'm turning")))
        if re.search(r"\bfor (?:a |my |our |the )?(?:baby|babies|newborn|infant)\b", text):
            found.append((2, 1, False))
        for m in re.finditer(r"\b(?:ages?|aged)\s+" + _NUM + r"\b", text):
            found.append((2, _number(m.group(1)) or 0, False))
        for m in re.finditer(_NUM + r"\s*(?:-|to)\s*" + _NUM + r"\s*(?:years?|yrs?)", text):
            found.append((2, _number(m.group(1)) or 0, False))
        words = re.findall(r"[\w'-]+", text)
        for i in range(len(words)):
            size, value = _match(_AGE_WORDS, words, i)
            if size:
                found.append((1, int(value), False))  # type: ignore[call-overload]
        found = [f for f in found if 0 < f[1] < 100]
        if found:
            best = max(found, key=lambda f: f[0])
            if best[0] >= self.age_priority:
                self.age, self.age_priority = (best[1], best[2]), best[0]

    def _title(self, text: str) -> None:
        m = re.search(r"(?:\btitled?\b(?:\s+(?:is|should be|will be))?|\b(?:story|book|tale)\s+(?:is\s+|should be\s+|"
                      r"will be\s+)?(?:called|named)|\bcall\s+(?:the\s+)?(?:story|book)|\bname\s+(?:the\s+)?"
                      r"(?:story|book))\s*[:,-]?\s*(?:\"([^\"]{1,80})\"|'([^']{1,80})'|([^.!?\n\"]{1,80}))", text,
                      re.IGNORECASE)
        if not m:
            return
        title = m.group(1) or m.group(2) or ""
        if not title:
            title = re.split(r"\s+(?:about|where|which|because|for (?:my|a|an|our)|please|but|so)\b|,",
                             m.group(3) or "")[0]
            title = " ".join(title.split()[:8])
        title = _clean(title)
        if title and not _unsafe(title) and re.search(r"[^\W\d_]", title):
            small = {"a", "an", "the", "of", "and", "in", "on", "to", "with"}
            words = title.split()
            self.title = " ".join(w if (i and w.lower() in small) else _cap(w) for i, w in enumerate(words))

    def _others(self, text: str) -> None:
        low = text.lower()
        if re.search(r"\brhym(?:e|es|ing)\b|\bpoem\b|\bpoetic\b", low):
            self.others["writing_style"] = "POETIC"
        elif re.search(r"\b(?:simple|easy)\s+words\b|\beasy to read\b", low):
            self.others["writing_style"] = "SIMPLE"
        elif re.search(r"\bdescriptive\b", low):
            self.others["writing_style"] = "DESCRIPTIVE"
        for phrase, pov in (("first person", "FIRST_PERSON"), ("second person", "SECOND_PERSON"),
                            ("third person", "THIRD_PERSON_LIMITED")):
            if phrase in low:
                self.others["narrative_point_of_view"] = pov
        m = re.search(r"\bin\s+(" + "|".join(D.LANGUAGES) + r")\b", low)
        if m:
            self.others["language_code"] = D.LANGUAGES[m.group(1)]
        if re.search(r"\bpg[- ]?13\b", low):
            self.others["content_rating"] = "PG_13"
        elif re.search(r"\bPG\b|\bpg[- ]rated\b|\brated pg\b", text):
            self.others["content_rating"] = "PG"
        elif re.search(r"\brated\s+g\b|\bg[- ]rated\b|\brating\s+g\b", low):
            self.others["content_rating"] = "G"
        styles = "|".join(re.escape(s) for s in D.ILLUSTRATION_STYLES)
        m = re.search(r"\b(" + styles + r")\s+(?:style|pictures|drawings|illustrations|art|images)\b|"
                      r"\b(?:pictures|drawings|illustrations|images)\s+(?:in|like)\s+(?:a\s+)?(" + styles + r")\b",
                      low)
        if m:
            self.others["illustration_style"] = m.group(1) or m.group(2)

    # -- plot: "a fox named Luna who wants to find the moon", "He met an alien called Zip."
    def _plot(self, s: _Sentence, found: list[_Char], used: set[int]) -> list[tuple[int, int]]:
        text = s.text
        spans = []
        known = [c for c in [*self.state.chars, *self.chars] if c.name]
        starts = [(m.end(), m.group(1), m.group(2)) for m in re.finditer(
            r"\b(who|that|and then|where|and|but)\s+((?:[A-Z][^\W\d_]+|they|he|she|it)\s+)?", text)]
        if re.match(r"\s*We\s", text):
            text = re.sub(r"^\s*We\b", "They", text)
        m = re.match(r"\s*((?:[A-Z][^\W\d_]+|He|She|They|It)\s+)", text)
        if m and (m.group(1).strip().lower() in ("he", "she", "they", "it")
                  or any(_first(c.name) == m.group(1).strip() for c in [*known, *found] if c.name)):
            starts.insert(0, (m.end(), "^", m.group(1)))
        for position, link, subject in starts:
            subject = (subject or "").strip()
            rest = text[position:]
            if subject and link not in ("^",) and subject[0].isupper() and subject.lower() not in (
                    "he", "she", "they", "it") and not any(_first(c.name) == subject for c in known + found):
                continue
            if link in ("and", "where", "and then", "but") and not subject:
                continue
            verb = re.match(_PLOT_VERB, rest) or (link in ("who", "that", "^") and re.match(
                r"(?!(?:is|was|has|does|likes|likes|needs)\b)[a-z]{3,}(?:ed|s)\b", rest))
            if not verb:
                continue
            clause = re.split(r",|;|\s+but\s+|\s+so\s+|\s+and\s+(?:it|the story|make|please)\b", rest)[0]
            clause = re.sub(r"\b(?:a|the) story (?:about|where|in which|of)\s+", "", _clean(clause)).rstrip(".!?")
            if re.match(r"(?:lives?|lived|living|happens|meets?|met|is|was|comes along|keeps \w+ company)\b", clause):
                continue  # "lives in a jungle", "meets a dragon": the setting and the cast say it already
            thing = re.search(r"\b(?:the|a|an|his|her|their|my)\s+((?:[a-z]+\s+){0,2}[a-z]+)\s+(?:that|which)\s*$",
                              text[:position].rstrip() + " ")
            if link in ("that", "which") and thing and not _match(_KINDS, thing.group(1).split(), 0)[0]:
                subject = "the " + thing.group(1)  # "his magic hat that keeps flying away"
            if len(clause.split()) < 2 or re.search(r"\b(?:ending|end|story)\b", clause.lower()) or _unsafe(clause):
                continue
            if not subject or subject.lower() in ("he", "she", "it"):
                where = position - len(link) - 1
                pool = [c for c in self.chars if c not in found] if link == "^" else [
                    c for c in found if self.ends.get(id(c), 0) <= where]
                before = [c for c in pool if c.name or c.kind or c.listener] or [
                    c for c in self.state.chars if c.name or c.kind]
                first = clause.split()[0].lower()
                if len(before) > 1 and link in ("who", "that") and not first.endswith("s") and first not in (
                        "must", "lost", "can't", "cannot") and not first.endswith("ed"):
                    subject = _join([("you" if c.listener and not c.name else c.name or f"the {c.kind}")
                                     for c in before])
                elif before:
                    last = before[-1]
                    subject = "you" if last.listener and not last.name else last.name or f"the {last.kind}"
                elif subject and self.audience_names:
                    # "My daughter Emma is 4 and she loves butterflies": about the listener, worth passing on.
                    wish = _cap(f"{self.audience_names[-1]} {clause}") + "."
                    if not _unsafe(wish) and wish not in self.specials:
                        self.specials.append(wish)
                    continue
                else:
                    subject = subject or "they"
            plot = _cap(_second_person(f"{subject} {clause}".strip())) + "."
            if plot not in self.plots and len(self.plots) < 4:
                self.plots.append(plot)
            offset = text.find(clause)
            if offset >= 0:
                spans.append((offset, offset + len(clause)))
        for a, b in spans:
            used.update(i for i, t in enumerate(s.toks) if t.start >= a and t.end <= b and t.low not in _KIND_WORDS)
        return spans

    # -- special requests: "please make sure the fox has a red scarf", "no scary parts"
    def _special(self, s: _Sentence, used: set[int], negated_things: bool) -> None:
        names = {w.lower() for c in [*self.chars, *self.state.chars] for w in c.name.split()}
        names.update(n.lower() for n in self.audience_names)
        unused = " ".join(t.low for i, t in enumerate(s.toks) if i not in used)
        clauses = re.split(r",\s*|;\s*|\s+and\s+(?=(?:please|make sure|don't|do not|no|i want|i'd like|can you|"
                           r"include|also)\b)", s.text)
        for clause in clauses:
            low = clause.lower()
            if not re.search(_SPECIAL_MARKERS, low):
                continue
            words = re.findall(r"[^\W_]+(?:['\-][^\W_]+)*", low)
            leftover = [w for i, w in enumerate(words) if w not in D.COMMON_WORDS and w not in _VOCAB and w not in names
                        and w not in _MARKER_WORDS and not w.isdigit() and w not in D.NUMBER_WORDS and len(w) > 2
                        and not _match(_GENRES, words, i)[0] and not _match(_ENDINGS, words, i)[0]
                        and not _match(_AGE_WORDS, words, i)[0] and re.search(r"\b" + re.escape(w) + r"\b", unused)]
            negation = negated_things and re.search(r"\b(?:no|not|without|don't|never)\b", low)
            if leftover or negation:
                special = _clean(re.sub(r"^(?:and|also|but|so)\s+", "", clause.strip(), flags=re.IGNORECASE))
                if special and not _unsafe(special):
                    special = _cap(special)
                    self.specials.append(special if special[-1] in ".!?" else special + ".")


_PLOT_VERB = re.compile(
    r"(?:wants?|wanted|loves?|loved|learns?|learned|finds?|found|looks?|looked|searches|searched|goes|go|went|"
    r"grows?|grew|plants?|planted|bakes?|baked|rides?|rode|sings?|sang|watch(?:es)?|watched|fix(?:es)?|fixed|"
    r"climbs?|climbed|sails?|sailed|crosses|crossed|crossing|is crossing|is afraid|is scared|is nervous|"
    r"tries|tried|try|needs?|needed|must|helps?|helped|saves?|saved|meets?|met|discovers?|discovered|builds?|built|"
    r"makes?|made|gets?|got|loses?|lost|dreams?|dreamed|dreamt|wishes|wished|wish|can't|cannot|becomes?|became|"
    r"visits?|visited|travels?|travelled|traveled|flies|flew|fly|rescues?|rescued|explores?|explored|bakes?|baked|"
    r"has to|had to|have to|is looking|are looking|is searching|is trying|are trying|is scared|is afraid|"
    r"was scared|was afraid|are scared|decides?|decided|hopes?|hoped|plans?|planned|sets? off|set off|"
    r"escapes?|escaped|follows?|followed|teaches|taught|shares?|shared|sings?|sang|dances?|danced|"
    r"wakes? up|woke up|falls? asleep|fell asleep|wins?|won|solves?|solved|befriends?|befriended|"
    r"lives?|lived|live)\b", re.IGNORECASE)
_SPECIAL_MARKERS = (r"\bsomething (?:with|about)\b|\bplease\b|\bmake sure\b|\bi want\b|\bi'd like\b|\bi would like\b|"
                    r"\bcan you\b|\bcould you\b|"
                    r"\bshould\b|\bmust\b|\bdon't\b|\bdo not\b|\bno\b|\binclude\b|\bhas to\b|\bhave to\b|"
                    r"\bneeds? to\b|\bremember\b|\bwithout\b|\bnot\b")


_DETERMINERS = frozenset({"a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "some", "this",
                          "that", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                          "lots", "many"})
# Words before "a girl", "a friend" that make it a character rather than part of the plot ("find a friend").
_INTRODUCING = frozenset({"", "about", "and", "with", "starring", "of", "meet", "meets", "was", "is", "like"})
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "sir", "captain", "princess", "prince", "king", "queen", "doctor",
                     "dr", "professor", "lady", "lord", "uncle", "aunt", "auntie", "grandma", "grandpa", "little",
                     "big", "baby", "mister", "señor", "madame"})
_MASS_PLACES = frozenset({"space", "underwater", "home", "school", "mars", "venus", "jupiter", "saturn", "antarctica",
                          "wonderland", "fairyland", "dreamland", "stars", "clouds"})
_THE_PLACES = frozenset({"sky", "moon", "sea", "ocean", "arctic", "beach", "seaside", "jungle", "desert", "rainforest",
                         "world", "woods", "city", "countryside"})
_FONDNESS = frozenset({"loves", "love", "likes", "like", "adores", "enjoys", "wants", "asked", "asks", "is"})
_EXTRA_ACKS = (("scene_count", "{v} scenes"), ("moral", "a lesson about {v}"), ("writing_style", "{v}"),
               ("narrative_point_of_view", "told in the {v}"),
               ("language_code", "written in {v}"), ("illustration_style", "{v} pictures"),
               ("content_rating", "rated {v}"))
_EXTRA_VALUES = {"POETIC": "a rhyming story", "SIMPLE": "simple words", "DESCRIPTIVE": "lots of description",
                 "FIRST_PERSON": "first person", "SECOND_PERSON": "second person",
                 "THIRD_PERSON_LIMITED": "third person", "PG_13": "PG-13",
                 **{code: name.capitalize() for name, code in D.LANGUAGES.items()}}
_PROPER_PLACES = frozenset({"mars", "venus", "jupiter", "saturn", "antarctica"})
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
_MARKER_WORDS = frozenset([
    "please", "make", "sure", "want", "like", "would", "can", "could", "should", "must", "don't", "do", "not", "no",
    "include", "has", "have", "needs", "need", "remember", "without", "put", "add", "story", "called", "named"])


def _apply(scan: _Scan, state: _State, facts: _Facts) -> None:
    """Puts what one message said into the state; later statements win."""
    for removed in scan.removed:
        keep = [c for c in state.chars if not (c.kind == removed or c.name == removed) or c in scan.chars]
        if len(keep) < len(state.chars):
            facts.removed.append(removed)
            state.chars = keep
        elif removed in D.KINDS:
            facts.excluded.append(removed)
    if scan.chars and scan.replace and not facts.removed:
        state.chars = [c for c in state.chars if c.listener and any(n.listener for n in scan.chars)]
    state.named_now = []
    for char in scan.chars:
        added = state.add_char(char)
        if added is not None and added not in facts.chars:
            facts.chars.append(added)
    facts.named = list(state.named_now)
    for name in scan.pronoun_names:
        target = next((c for c in reversed(state.chars) if not c.name and not c.listener), None)
        if target is None and scan.replace and state.chars:
            target = state.chars[-1]
        if target is not None:
            target.name, target.plural = name, False
            facts.renamed = name
        elif not any(c.name == name for c in state.chars):
            added = state.add_char(_Char(name=name))
            if added is not None:
                facts.chars.append(added)
    if scan.renamed and state.chars:
        target = next((c for c in reversed(state.chars) if not c.listener), state.chars[-1])
        target.name = facts.renamed = scan.renamed
    if scan.settings:
        setting = _clean(max(scan.settings)[2])
        if setting:
            state.values["setting"] = facts.new["setting"] = setting
    asked_tone = scan.question is not None and scan.question.slot == "tone"
    tone = scan.strong_tone or (scan.weak_tone if (asked_tone or not state.values.get("tone")) else "")
    if tone:
        state.values["tone"] = facts.new["tone"] = tone
    if scan.age:
        state.age, state.age_self = scan.age
        state.values["audience_age_group"] = facts.new["audience_age_group"] = _age_group(scan.age[0])
    for slot, value in (("length", scan.length), ("ending_preference", scan.ending), ("genre", scan.genre),
                        ("title", scan.title), *scan.others.items()):
        if value:
            state.values[slot] = facts.new[slot] = value
    for plot in scan.plots:
        if plot not in state.plots:
            state.plots.append(plot)
            facts.plot = plot
    for special in scan.specials:
        if special not in state.specials and special not in scan.plots:
            state.specials.append(special)
            facts.special = True


# --- writing the reply ------------------------------------------------------------------------------

def _memory_name(memories: Sequence[str]) -> str:
    for memory in memories:
        m = re.search(r"\bname is ([A-Z][^\W\d_]+)", memory)
        if m and not _unsafe(m.group(1)):
            return m.group(1)
    return ""


def _compose(analysis: _Analysis, turns: list[ChatTurn], memory_name: str) -> str:
    state, facts, seed = analysis.state, analysis.facts, analysis.seed
    name = state.user_name or memory_name
    out: list[str] = []
    if facts is None:  # nothing from the user yet: open the conversation
        if not analysis.assistant_turns:
            out.append(_pick(seed, "greet", D.GREETING_FIRST).format(name=f" {name}" if name else ""))
        out.extend(_next_step(analysis, first_complete=True))
        return _finish(out)
    if facts.empty:
        out.append(_pick(seed, "empty", D.NOT_UNDERSTOOD))
    if facts.unsafe:
        out.append(_pick(seed, "unsafe", D.REDIRECT_UNSAFE))
    if facts.foreign and not analysis.foreign_noted:
        name = U.language_name(facts.language)
        out.append(D.FOREIGN.format(language=name) if facts.language and facts.language != "und" else D.FOREIGN_UNKNOWN)
    if facts.nonsense:
        out.append(D.NONSENSE.format(text=facts.nonsense))
    for written, original, about in facts.famous:
        out.append(D.FAMOUS.format(written=written, original=original, about=about))
    if facts.greeting:
        templates = D.GREETING_AGAIN if analysis.assistant_turns else D.GREETING_FIRST
        out.append(_pick(seed, "greet", templates).format(name=f" {name}" if name else ""))
    elif facts.user_name:
        out.append(f"Nice to meet you, {facts.user_name}!")
    if facts.thanks:
        out.append(D.THANKS_REPLY)
    acks = _acknowledge(facts, state, seed)
    if facts.bye and not acks:
        out.append(D.BYE_REPLY)
        return _finish(out)
    if not acks and not (facts.greeting or facts.unsafe or facts.thanks or facts.empty or facts.user_name
                         or facts.nonsense or facts.famous):
        if facts.about_me:
            out.append(D.ABOUT_ME)
        elif facts.help:
            out.append(D.HELP)
        elif facts.how_are_you:
            out.append(D.HOW_ARE_YOU)
        elif facts.joke:
            out.append(_pick(seed, "joke", D.JOKES))
        elif facts.confirm:
            pass
        elif facts.declined:
            if not state.complete:
                out.append(_pick(seed, "declined", D.DECLINED))
        elif facts.affirm:
            out.append("Great!")
        elif facts.story_intent:
            out.append("I'd love to make a story with you!")
        elif facts.question:
            out.append(_pick(seed, "offq", D.OFF_TOPIC_QUESTION))
        elif facts.foreign:
            pass
        elif _looks_like_chat(turns[-1].text):
            out.append(_pick(seed, "off", D.OFF_TOPIC))
        else:
            out.append(_pick(seed, "unclear", D.NOT_UNDERSTOOD))
    out.extend(acks)
    if state.complete and not facts.told_something and (facts.confirm or (facts.declined and analysis.before
                                                                           and analysis.before.complete)):
        out.append(_pick(seed, "ready", D.READY if facts.confirm else D.DECLINED_READY))
        return _finish(out)
    before_complete = analysis.before.complete if analysis.before else False
    out.extend(_next_step(analysis, first_complete=not before_complete, changed=facts.told_something))
    return _finish(out)


def _looks_like_chat(text: str) -> bool:
    return len(re.findall(r"[^\W\d_]+", text)) >= 3


def _finish(sentences: list[str]) -> str:
    text = " ".join(s.strip() for s in sentences if s.strip())
    text = re.sub(r"[<>*#_`~\[\]{}|\\^]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _next_step(analysis: _Analysis, first_complete: bool, changed: bool = True) -> list[str]:
    state, seed = analysis.state, analysis.seed
    missing = state.missing()
    if not state.complete:
        return [_question(missing[0], seed)]
    out = []
    if first_complete or changed:
        out.append(_pick(seed, "enough", D.ENOUGH_FIRST if first_complete else D.ENOUGH_AGAIN))
        out.append(_pick(seed, "restate", D.RESTATE).format(idea=_idea(state)))
        out.append(_pick(seed, "invite", D.INVITE))
    else:
        out.append(_pick(seed, "still", D.STILL_READY))
    if missing:
        question = _question(missing[0], seed)
        out.append(D.INVITE_MORE_QUESTION.format(question=question[:1].lower() + question[1:]))
    else:
        out.append(_pick(seed, "more", D.INVITE_MORE))
    return out


def _question(slot: str, seed: int) -> str:
    pool = _option_pool(slot)
    count = 3
    if slot in ("characters", "setting", "tone", "ending_preference"):
        start = _digest(str(seed), "options", slot) % len(pool)
        options = [pool[(start + i) % len(pool)] for i in range(count)]
    else:
        options = pool[:count]
    spoken = [_where(p) if slot == "setting" else p for p, _ in options]
    question = _pick(seed, "q-" + slot, D.QUESTIONS[slot])
    suggestion = _pick(seed, "s-" + slot, D.SUGGESTIONS[slot]).format(options=_join_or(spoken))
    return f"{question} {suggestion}"


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


def _spoken_chars(chars: Sequence[_Char]) -> str:
    return _join([c.spoken() for c in chars])


def _plural_subject(chars: Sequence[_Char]) -> bool:
    return len(chars) > 1 or any(c.plural or (c.listener and not c.name) for c in chars)


def _idea(state: _State) -> str:
    chars = [c for c in state.chars if not _unsafe(c.spoken())]
    subject = _spoken_chars(chars) or "our hero"
    action = D.TONE_ACTIONS.get(state.values.get("tone", ""), D.TONE_ACTIONS[""])[1 if _plural_subject(chars) else 0]
    setting = state.values.get("setting", "")
    where = _second_person(_where(setting)) if setting and not _unsafe(setting) else ""
    text = f"{_cap(subject)} {action} {where}".strip() + "."
    for plot in state.plots[:1]:
        if not _unsafe(plot):
            text += f" In the story, {plot[:1].lower() + plot[1:] if plot.startswith('The ') else plot}"
    details = []
    length = D.LENGTH_PHRASES.get(state.values.get("length", ""), "")
    genre = state.values.get("genre", "") or "story"
    audience = ""
    if state.age:
        audience = _aged(state.age)
    elif state.values.get("audience_age_group"):
        audience = D.AUDIENCE_PHRASES.get(state.values["audience_age_group"], "")
    ending = D.ENDING_PHRASES.get(state.values.get("ending_preference", ""), "")
    if length or audience or state.values.get("genre"):
        details.append(f"It will be {_article(length or genre)} {' '.join(w for w in (length, genre) if w)}"
                       + (f" for {audience}" if audience else "") + (f", with {ending}" if ending else "") + ".")
    elif ending:
        details.append(f"It will have {ending}.")
    if state.values.get("title") and not _unsafe(state.values["title"]):
        details.append(f"It's called {state.values['title']}.")
    return " ".join([text, *details])


def _acknowledge(facts: _Facts, state: _State, seed: int) -> list[str]:
    """Warm, specific sentences about what the user just said (or what was picked for them)."""
    out: list[str] = []
    names = [spoken for slot, spoken in facts.picked if slot == "names"]
    if names:
        out.append(f"Then I'll call {_join(names)}!")
    picked = [spoken for slot, spoken in facts.picked if slot != "names"]
    if picked:
        out.append(_pick(seed, "picked", D.PICKED).format(x=_join(picked)))
    if facts.accepted:
        out.append(_cap(_pick(seed, "accepted", D.ACCEPTED).format(x=_join([s for _, s in facts.accepted]))))
    if facts.removed:
        gone = _join([r if r[:1].isupper() else f"the {r}" for r in facts.removed])
        out.append(f"Okay, I've taken {gone} out of our story.")
    if facts.excluded:
        out.append(f"No {_join([_plural(k) for k in facts.excluded])}, got it.")
    if facts.renamed and not facts.chars:
        out.append(f"{facts.renamed} it is!")
    chosen = {slot for slot, _ in facts.picked + facts.accepted} - {"names"}
    items: list[str] = []
    if facts.named:
        lovely = "what lovely names" if len(facts.named) > 1 else "what a lovely name"
        items.append(_cap(f"{_spoken_chars(facts.named)}, {lovely}!"))
    chars = [c for c in facts.chars if "characters" not in chosen and not _unsafe(c.spoken()) and c not in facts.named]
    setting = facts.new.get("setting") if "setting" not in chosen else None
    if setting and not chars and facts.about_them and state.chars and not _unsafe(state.chars[0].spoken()):
        chars = [state.chars[0]]  # "She lives in a snowy forest": say whom it is about
    if chars and setting:
        items.append(_cap(_pick(seed, "charset", ("{c} {p}, how lovely!", "Ooh, {c} {p}! I can already picture it."))
                          .format(c=_spoken_chars(chars), p=_second_person(_where(setting)))))
    elif chars:
        templates = D.ACK_CHARACTERS_MANY if _plural_subject(chars) else D.ACK_CHARACTERS_ONE
        items.append(_cap(_pick(seed, "chars", templates).format(c=_spoken_chars(chars))))
    elif setting:
        items.append(_pick(seed, "setting", D.ACK_SETTING).format(
            s=_cap(_second_person(setting)), p=_second_person(_where(setting))))
    for slot, table in (("tone", D.ACK_TONE), ("length", D.ACK_LENGTH), ("ending_preference", D.ACK_ENDING)):
        value = facts.new.get(slot)
        if value and slot not in chosen and value in table:
            items.append(_pick(seed, "ack-" + slot, table[value]))
    if facts.new.get("audience_age_group") and "audience_age_group" not in chosen:
        if state.age and state.age_self:
            items.append(f"You're {state.age}, how wonderful!")
        elif state.age:
            items.append(f"A story for {_aged(state.age)}, lovely.")
        else:
            items.append(f"Perfect for {D.AUDIENCE_PHRASES[facts.new['audience_age_group']]}.")
    if facts.new.get("title"):
        items.append(f"{facts.new['title']}, what a great title!")
    if facts.plot:
        items.append(f"I love the idea: {facts.plot}")
    if facts.new.get("genre") and not items:
        items.append(f"{_cap(_article(facts.new['genre']))} {facts.new['genre']}, lovely.")
    extras = [phrase.format(v=_EXTRA_VALUES.get(facts.new[field], facts.new[field]))
              for field, phrase in _EXTRA_ACKS if facts.new.get(field)]
    if extras:
        items.append(_cap(_join(extras)) + ", got it.")
    if len(items) >= 4:
        # The restatement that follows (or this partial one) says it all.
        items = [_pick(seed, "many", D.MANY_DETAILS)] + ([] if state.complete else [f"So far: {_idea(state)}"])
    out.extend(items)
    named = [c for c in facts.chars if not c.name and c.kind and not c.listener and not c.plural]
    if len(facts.chars) == 1 and named and "characters" not in {s for s, _ in facts.picked}:
        out.append(D.NAME_HINT.format(c=f"the {named[0].kind}"))
    if facts.special and not facts.excluded:
        out.append("I'll remember your special wish.")
    return out


# --- summaries and prompts ------------------------------------------------------------------------

def _describe_chars(characters: Sequence[Character]) -> str:
    parts = []
    for c in characters:
        if c.name.lower().startswith("the ") and c.description:
            parts.append(c.description)
        elif c.description:
            parts.append(f"{c.name} ({c.description})")
        else:
            parts.append(c.name)
    return _join(parts)


def _prompt(req: StoryRequirements, state: _State | None = None) -> str:
    """One plain paragraph summing up the requirements, for a story writer."""
    if not (req.characters or req.setting or req.tone or req.genre or req.plot_elements or req.title) and not any(
            getattr(req, f) for f in _SCALARS) and not req.special_requests:
        return ""
    length = D.LENGTH_PHRASES.get(req.length, "")
    tone = D.TONE_ADJECTIVES.get(req.tone, "")
    adjectives = ", ".join(w for w in (length, tone) if w)
    noun = req.genre or "story"
    head = [f"Write {_article(adjectives or noun)} {adjectives + ' ' if adjectives else ''}{noun}"]
    if state is not None and state.age:
        head.append(f"for {_aged(state.age)}")
    elif req.audience_age_group:
        head.append(f"for {D.AUDIENCE_PHRASES.get(req.audience_age_group, req.audience_age_group.lower())}")
    if req.characters:
        head.append(f"about {_describe_chars(req.characters)}")
    sentence = " ".join(head)
    if req.setting:
        sentence += f", set {_where(req.setting)}"
    parts = [sentence + "."]
    if req.plot_elements:
        parts.append(f"In the story: {req.plot_elements}")
    if req.ending_preference:
        parts.append(f"It should end with {D.ENDING_PHRASES.get(req.ending_preference, 'a good ending')}.")
    if req.title:
        parts.append(f"Title: {req.title}.")
    for label, value in (("Writing style", req.writing_style), ("Point of view", req.narrative_point_of_view),
                         ("Content rating", req.content_rating), ("Language", req.language_code),
                         ("Illustration style", req.illustration_style), ("Persona", req.persona)):
        if value:
            spoken = value.replace("_", " ").lower() if value.isupper() and len(value) > 2 else value
            parts.append(f"{label}: {spoken}.")
    if req.special_requests:
        parts.append(f"Special requests: {req.special_requests}")
    return _clean(" ".join(parts))


def _summary(analysis: _Analysis) -> str:
    state = analysis.state
    req = state.requirements()
    parts = []
    if req.characters:
        parts.append(f"The user asked for a story about {_describe_chars(req.characters)}.")
    if req.setting:
        parts.append(f"Set {_where(req.setting)}.")
    if req.tone:
        parts.append(f"Mood: {D.TONE_ADJECTIVES.get(req.tone, req.tone.lower())}.")
    if state.age:
        parts.append(f"For {_aged(state.age)}.")
    elif req.audience_age_group:
        parts.append(f"For {D.AUDIENCE_PHRASES.get(req.audience_age_group, '')}.")
    if req.length:
        parts.append(f"Length: {req.length.lower()}.")
    if req.ending_preference:
        parts.append(f"Ending: {D.ENDING_PHRASES.get(req.ending_preference, '')}.")
    if req.genre:
        parts.append(f"Kind of story: {req.genre}.")
    if req.title:
        parts.append(f"Title: {req.title}.")
    if req.plot_elements:
        parts.append(f"Plot: {req.plot_elements}")
    if req.special_requests:
        parts.append(f"Special requests: {req.special_requests}")
    if not parts:
        parts.append("The user chatted but gave no story details yet.")
    return _clean(" ".join(parts))

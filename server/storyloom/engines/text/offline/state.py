"""What the chat knows: each character found (`_Char`), the story so far (`_State`, from which the requirements and
their one-paragraph prompt are built), what the assistant last asked (`_Question`), what one user message did
(`_Facts`), and a whole conversation read (`_Analysis`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import cast

from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.offline.words import (
    _CHILD_NOUNS,
    _HE_KINDS,
    _KIND_WORDS,
    _KINDS,
    _SHE_KINDS,
    D,
    _aged,
    _article,
    _clean,
    _join,
    _match,
    _plural,
    _Sentence,
    _sentences,
    _where,
)

MAX_CHARACTERS = 6


SLOTS = StoryRequirements.ASKED
_LISTENER = "the child hearing the story, as the hero"
_SCALARS = tuple(f.name for f in dataclasses.fields(StoryRequirements)
                 if f.name not in ("characters", "special_requests", "plot_elements", "extracted_prompt",
                                   "scene_count"))


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

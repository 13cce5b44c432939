"""The story's cast: who each character is (species, colour, gender, age, pronouns, a toy or not), read from the
requirements' characters. The hero is the first character; the rest are companions.

A description is read the way a parent writes it: "a curious 8-year-old girl who loves inventing gadgets" is a
human girl of 8, she; "her stuffed bunny" is a toy bunny; "a green dinosaur" is green. Pronouns given with the
character win over anything guessed; an animal whose gender nobody said is "they" unless its name says more.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from storyloom.domain.requirements import Character
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.safety import unsafe
from storyloom.engines.text.story_common import plain_text

LISTENER = "the child hearing the story, as the hero"

PRONOUNS: dict[str, tuple[str, str, str, str, str]] = {
    # subject, object, possessive, reflexive, "was"
    "she": ("she", "her", "her", "herself", "was"),
    "he": ("he", "him", "his", "himself", "was"),
    "they": ("they", "them", "their", "themselves", "were"),
    "it": ("it", "it", "its", "itself", "was"),
    "I": ("I", "me", "my", "myself", "was"),
    "you": ("you", "you", "your", "yourself", "were"),
}


@dataclasses.dataclass(frozen=True)
class Person:
    name: str            # "" when unnamed ("the dragons")
    ref: str             # how the narration names them: "Mia", "Grandpa Joe", "the dragons"
    kind_phrase: str     # a noun phrase with its article: "a green dinosaur", "a stuffed bunny"
    species: str         # human, dinosaur, owl... ("" when unknown)
    noun: str            # the word the story uses for what they are: girl, dinosaur, grandpa
    colour: str = ""
    gender: str = ""     # female, male, "" (not said)
    age: int = 0
    pronoun: str = "they"
    toy: bool = False
    listener: bool = False
    plural: bool = False
    trait: str = ""      # "who loves inventing gadgets"

    @property
    def forms(self) -> tuple[str, str, str, str, str]:
        return PRONOUNS[self.pronoun]

    def intro(self) -> str:
        """ "Mia, a four-year-old girl" / "a stuffed bunny named Button" style first mention (name first)."""
        if not self.name:
            return self.kind_phrase or self.ref
        return f"{self.name}, {self.kind_phrase}" if self.kind_phrase else self.name

    def named_intro(self) -> str:
        """ "a curious eight-year-old girl named Priya, who loves inventing gadgets"."""
        head = f"{self.kind_phrase} named {self.name}" if self.name and self.kind_phrase else (
            self.name or self.kind_phrase or self.ref)
        return head + (f", {self.trait}" if self.trait else "")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())


_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14}
_NUMBER_WORDS = {v: k for k, v in _NUMBERS.items()}


def age_in(text: str) -> int:
    low = text.lower()
    match = re.search(r"\b(\d{1,2}|" + "|".join(_NUMBERS) + r")[- ]?(?:years?|yrs?)[- ]?old\b|\baged? (\d{1,2})\b",
                      low)
    if not match:
        return 0
    value = match.group(1) or match.group(2)
    return int(value) if value.isdigit() else _NUMBERS[value]


# Grown-ups the story names by their role are drawn (and described) at about this age.
_AGE_OF_ROLE = {"grandpa": 70, "grandma": 70, "granny": 70, "grandad": 70, "grandfather": 70, "grandmother": 70,
                "nana": 70, "mum": 35, "mom": 35, "mummy": 35, "mommy": 35, "mama": 35, "dad": 35, "daddy": 35,
                "papa": 35, "mother": 35, "father": 35, "fisherman": 60, "keeper": 60, "teacher": 35, "aunt": 35,
                "uncle": 35, "king": 50, "queen": 50, "man": 40, "woman": 40}


def age_words(age: int) -> str:
    return f"{_NUMBER_WORDS.get(age, str(age))}-year-old"


def species_of(words: Sequence[str]) -> tuple[str, str]:
    """(species, the noun used) for the first creature word of a description; people are "human"."""
    data = load("cast")
    for word in words:
        for candidate in (word, word[:-1] if word.endswith("s") else word, word[:-2] if word.endswith("es") else ""):
            if candidate in data.SPECIES_WORDS:
                return data.SPECIES_WORDS[candidate], candidate
    for word in words:
        if word in data.PEOPLE_WORDS:
            return "human", word
    return "", ""


def gender_of(words: Sequence[str], name: str) -> str:
    data = load("cast")
    found = set(words) | set(_words(name))
    if any(w.endswith("man") and w not in ("human", "woman", "snowman") for w in found):
        found.add("man")
    if found & data.FEMININE_WORDS:
        return "female"
    if found & data.MASCULINE_WORDS:
        return "male"
    first = name.split()[0].lower() if name else ""
    if first in data.FEMININE_NAMES:
        return "female"
    if first in data.MASCULINE_NAMES:
        return "male"
    return ""


def _clean(text: str, limit: int) -> str:
    text = " ".join(plain_text(text).split())[:limit]
    text = re.sub(r"[<>*#_`~\[\]{}|\\^=@$%]", " ", text)
    return " ".join(text.split()).strip(" ,;:-.!")


def _article(phrase: str) -> str:
    low = phrase.lower()
    if low.startswith(("uni", "use", "usu", "eu", "one", "ukulele")):
        return "a"
    return "an" if low[:1] in "aeiou8" or low.startswith(("hour", "honest", "11-", "18-")) else "a"


def with_article(phrase: str) -> str:
    if re.match(r"(?i)(?:a|an|the|some|his|her|their|my|our|your)\b", phrase):
        return phrase
    return f"{_article(phrase)} {phrase}"


_PAST = {"is": "was", "are": "were", "has": "had", "have": "had", "does": "did", "can": "could", "will": "would",
         "wants": "wanted", "loves": "loved", "likes": "liked", "lives": "lived", "knows": "knew", "goes": "went",
         "makes": "made", "keeps": "kept", "dreams": "dreamed", "sings": "sang", "builds": "built", "finds": "found",
         "hates": "hated", "enjoys": "enjoyed", "plays": "played", "collects": "collected", "helps": "helped"}


def _past(clause: str) -> str:
    """A "who loves to sing" clause told in the story's past tense: "who loved to sing"."""
    return re.sub(r"\b(" + "|".join(_PAST) + r")\b", lambda m: _PAST[m.group(1)], clause)


def person(character: Character) -> Person | None:
    """The story's view of one character, or None when nothing safe is left of it."""
    name = _clean(character.name, 60)
    description = _clean(character.description, 240)
    if unsafe(name):
        return None
    if unsafe(description):
        description = ""
    given = (getattr(character, "pronouns", "") or "").split("/")[0].strip().lower()
    if description == LISTENER or name.lower() in ("you", "me"):
        listener_name = "" if name.lower() in ("you", "me") else name
        return Person(name=listener_name, ref=listener_name or "you", kind_phrase="a child just like you",
                      species="human", noun="child", pronoun=given if given in PRONOUNS else "you",
                      listener=not listener_name)
    # "She is a shy dragon who loves to sing." -> "a shy dragon", "who loves to sing", she
    sentence = re.match(r"(?i)(she|he|it|they)\s+(?:is|was|are|were|'s)\s+(.*)", description)
    spoken = ""
    if sentence:
        spoken, description = sentence.group(1).lower(), sentence.group(2)
    description = re.sub(r"(?i)^(?:the user's|my|our|your|his|her|their)\s+", "", description)
    trait = ""
    head = re.match(r"(?i)(.*?)\s*,?\s+\b((?:who|that|which)\s.*)$", description)
    if head and head.group(1):
        description, trait = head.group(1), head.group(2)
    elif re.match(r"(?i)(?:who|that|which)\s", description):
        description, trait = "", description
    trait = _past(trait)
    words = _words(description + " " + trait)
    head_words = _words(description)
    species, noun = species_of(head_words or words)
    if not species:
        species, noun = species_of(_words(name))
    toy = bool(set(head_words) & {"stuffed", "toy", "plush", "teddy", "cuddly", "soft"}) or noun == "teddy"
    colours = [w for w in head_words if w in load("cast").COLOURS]
    colour = {"gray": "grey", "golden": "gold"}.get(colours[0], colours[0]) if colours else ""
    age = age_in(description) or age_in(trait) or _AGE_OF_ROLE.get(noun, 0) or next(
        (_AGE_OF_ROLE[w] for w in _words(name) if w in _AGE_OF_ROLE), 0)
    gender = {"she": "female", "he": "male"}.get(given or spoken, "") or gender_of(head_words, name)
    if given == "they" or spoken == "they":
        gender = ""
    pronoun = given if given in ("she", "he", "they", "it") else spoken if spoken in ("she", "he", "it") else (
        {"female": "she", "male": "he"}.get(gender, "they"))
    if pronoun == "it" and species in ("human",):
        pronoun = "they"
    plural = not name or name.lower().startswith("the ") and bool(
        re.match(r"(?i)(?:some|two|three|four|five|many|lots of)\b", description))
    plural = plural and bool(re.match(r"(?i)(?:some|two|three|four|five|many|lots of)\b", description))
    if description:
        # "8-year-old" reads better in words ("an eight-year-old girl").
        description = re.sub(r"\b(\d{1,2})-year-old\b", lambda m: age_words(int(m.group(1))), description)
        kind_phrase = with_article(re.sub(r"^(?:a|an)\s+", "", description))
    elif noun:
        kind_phrase = with_article(noun)
    else:
        kind_phrase = ""
    if not name:
        name = ""
    ref = name or (f"the {noun}" if noun else "the stranger")
    if name.lower().startswith("the "):
        ref, name = name[0].lower() + name[1:], ""
    return Person(name=name, ref=ref, kind_phrase=kind_phrase, species=species or ("human" if noun else ""),
                  noun=noun, colour=colour, gender=gender, age=age, pronoun="they" if plural else pronoun, toy=toy,
                  plural=plural, trait=trait)


def default_hero(seed: int) -> Person:
    name, phrase, pronoun, species = load("cast").DEFAULT_HEROES[seed % len(load("cast").DEFAULT_HEROES)]
    return Person(name=name, ref=name, kind_phrase=phrase, species=species, noun=species, pronoun=pronoun,
                  gender={"she": "female", "he": "male"}.get(pronoun, ""))

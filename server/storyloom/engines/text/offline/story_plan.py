"""The plan of an offline story, made from the requirements alone: the hero and companions, the setting's
lexicon, the problem and moral, the reading level, and the beats of each scene (see writer.py for the whole picture).

Also the small text helpers every part of the story grammar shares (hash-based choice, capitals, lists, titles).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.cast import Person, default_hero, person, with_article
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.offline.plot import Problem, read_moral, read_problem
from storyloom.engines.text.safety import unsafe
from storyloom.engines.text.scenes import clean, find_family, place_word
from storyloom.engines.text.story_common import effective


def digest(*parts: object) -> int:
    data = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def join(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def possessive(ref: str) -> str:
    return ref + "'" if ref.endswith("s") and not ref[:1].isupper() else ref + "'s"


_SMALL = frozenset([
    "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "by", "for", "with", "up", "from", "as", "but",
    "into", "onto", "under", "over"])


def title_case(text: str) -> str:
    return " ".join(w if (i and w.lower() in _SMALL) else w[:1].upper() + w[1:] for i, w in enumerate(text.split()))


# --- the setting ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Setting:
    family: Mapping[str, Any]
    a_place: str     # first mention: "a cosy bedroom", "the moon"
    place: str       # later: "the bedroom"
    prep: str

    @property
    def name(self) -> str:
        return str(self.family["name"])

    @property
    def in_a_place(self) -> str:
        return f"{self.prep} {self.a_place}"

    @property
    def in_place(self) -> str:
        return f"{self.prep} {self.place}"


def make_setting(text: str, hero: Person, bedtime: bool) -> Setting:
    raw = " ".join(clean(text, 120).split()).rstrip(".!") if text else ""
    whole = raw
    if not raw or unsafe(raw):
        if bedtime:
            his = hero.forms[2] if hero.pronoun in ("she", "he", "they") and not hero.listener else "a"
            raw = f"{his} cosy bedroom" if his != "a" else "a cosy bedroom"
        else:
            raw = "a sunny meadow"
    family = find_family(whole or raw)
    prep = str(family["prep"])
    head = place_word(raw)
    if head:
        prep = str(load("chat").PLACE_PREPOSITION.get(head, prep))
    given = re.match(r"(?i)(in|on|at|inside|under|underneath|beneath|above|beyond|near|over|by)\s+(.*)", raw)
    if given:
        prep, raw = given.group(1).lower(), given.group(2)
    low = raw.lower()
    if re.match(r"(?:a|an)\s", low):
        a_place, place = raw, "the " + raw.split(" ", 1)[1]
    elif re.match(r"(?:the|his|her|their|my|your|our)\s", low) or raw[:1].isupper() or low in (
            "space", "outer space", "home", "school"):
        a_place = place = raw
    else:
        a_place, place = with_article(raw), f"the {raw}"
    if re.match(r"(?:my|our|your)\s", low):
        owner = hero.forms[2] if not hero.listener else "your"
        a_place = place = re.sub(r"^(?:my|our|your)\b", owner, raw, flags=re.I)
    return Setting(family=family, a_place=a_place, place=place, prep=prep)


# --- the plan ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    req: StoryRequirements
    seed: int
    hero: Person
    companions: tuple[Person, ...]
    setting: Setting
    problem: Problem
    moral: str
    level: str          # little, middle, older
    pov: str
    rating: str
    bedtime: bool

    def pick(self, salt: str, items: Sequence[Any]) -> Any:
        return items[digest(self.seed, salt) % len(items)]


def _seed(req: StoryRequirements) -> int:
    return digest(*(f"{f.name}={getattr(req, f.name)!r}" for f in dataclasses.fields(req)
                    if f.name != "extracted_prompt"))


def _level(req: StoryRequirements, hero: Person) -> str:
    if req.audience_age_group == "PRESCHOOL" or (hero.species == "human" and 0 < hero.age <= 5
                                                 and not req.audience_age_group):
        return "little"
    if req.audience_age_group in ("MIDDLE_GRADE", "TEENS", "ADULTS"):
        return "older"
    return "middle"


@functools.lru_cache(maxsize=256)
def make_plan(requirements: StoryRequirements) -> Plan:
    req = effective(requirements)
    seed = _seed(req)
    people = [p for p in (person(c) for c in req.characters[:6]) if p is not None]
    listeners = [p for p in people if p.listener]
    if listeners and people[0] is not listeners[0]:
        people.remove(listeners[0])
        people.insert(0, listeners[0])
    hero = people[0] if people else default_hero(seed)
    companions = tuple(people[1:])
    bedtime = req.tone == "CALM" or req.persona == "BEDTIME_STORYTELLER" or "bedtime" in req.genre.lower()
    setting = make_setting(req.setting, hero, bedtime)
    text = " ".join(x for x in (req.special_requests, req.plot_elements) if x)
    if unsafe(text):
        text = " ".join(s for s in re.split(r"(?<=[.!?])\s+", text) if not unsafe(s))
    problem = read_problem(text, setting.name, seed)
    moral = read_moral(req.moral, text, req.ending_preference, problem)
    pov = "SECOND_PERSON" if hero.listener else req.narrative_point_of_view
    return Plan(req=req, seed=seed, hero=hero, companions=companions, setting=setting, problem=problem, moral=moral,
                level=_level(req, hero), pov=pov, rating=req.content_rating, bedtime=bedtime)


def beats_for(count: int) -> list[list[str]]:
    """The beats of each scene: exactly `count` scenes, opening first and the ending last."""
    if count == 1:
        return [["open", "problem", "turn", "ending"]]
    if count == 2:
        return [["open", "problem"], ["turn", "ending"]]
    if count == 3:
        return [["open", "problem"], ["attempt0"], ["turn", "ending"]]
    if count == 4:
        return [["open"], ["problem"], ["attempt0"], ["turn", "ending"]]
    middle = [f"attempt{i}" for i in range(count - 4)]
    if count >= 7:
        middle[-1] = "low"
    return [["open"], ["problem"], *[[m] for m in middle], ["turn"], ["ending"]]

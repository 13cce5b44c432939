"""The offline story writer: a story composed from plot beats that the request drives (no model, deterministic).

The plan comes from the requirements alone: the hero (the first character) and the companions (a toy or a pet is a
companion unless it is named first), the setting's own lexicon (places to go, sights, sounds, helpers, facts), the
central problem read from the special request and plot elements (plot.py), and the moral that resolves it. The
plan is cut into beats (opening, problem, attempts, a low point, the turn, the ending) spread over exactly the
scenes asked for, and each beat is written from phrase banks (engines/text/data/story.json):

- a template may carry alternatives ([a|b|c]) and slots ({Hname}, {the_obj}, {sight}...), so two requests rarely
  share a sentence; templates marked L: are for little ones (under 6), O: for older children (9 and up), M: for
  anyone but little ones, Y: for anyone but older children;
- the content rating keeps frightening words out of a G story's own sentences (a fear the family named is kept);
- the point of view sets the pronouns (I, you, she, he, they), styles and personas add rhymes, facts, asides and
  closings, and the ending preference picks the ending.

Every choice is made by a hash of the requirements, never at random: the same requirements give the same story.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from storyloom.domain.picture_spec import FigureSpec, PictureSpec
from storyloom.domain.ports.story import OutlineScene, Premise, SceneText
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.cast import PRONOUNS, Person, age_words, default_hero, person, with_article
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.offline.plot import Problem, read_moral, read_problem
from storyloom.engines.text.safety import scary, unsafe
from storyloom.engines.text.scenes import clean, derive_picture, find_family, guess_mood, place_word, tell
from storyloom.engines.text.scenes import split as split_into_scenes
from storyloom.engines.text.story_common import check_scene_count, effective, paragraphs

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z_0-9]*)\}")
_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")
_CONTRACTIONS = {"don't": "do not", "didn't": "did not", "can't": "cannot", "couldn't": "could not",
                 "won't": "will not", "wasn't": "was not", "weren't": "were not", "isn't": "is not", "it's": "it is",
                 "let's": "let us", "i'm": "I am", "that's": "that is", "you're": "you are", "we're": "we are",
                 "they're": "they are", "i'll": "I will", "we'll": "we will", "you'll": "you will",
                 "there's": "there is", "what's": "what is", "i've": "I have", "we've": "we have",
                 "haven't": "have not", "hasn't": "has not", "wouldn't": "would not", "shouldn't": "should not"}


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


# --- filling templates ------------------------------------------------------------------------------------------


class Teller:
    """Fills the phrase banks' templates for one plan: pronouns by point of view, the setting, the problem."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.used: set[object] = set()
        self.bank = load("story").BANKS
        hero, pov = plan.hero, plan.pov
        if pov == "FIRST_PERSON" and not hero.listener:
            forms = PRONOUNS["I"]
            h_ref, h_pos = "I", "my"
        elif pov == "SECOND_PERSON" or hero.listener:
            forms = PRONOUNS["you"]
            h_ref, h_pos = "you", "your"
        else:
            forms = hero.forms
            h_ref, h_pos = hero.ref, possessive(hero.ref)
        name = hero.name or hero.ref
        problem = plan.problem
        goal_kind = load("story").GOALS.get(problem.kind, load("story").GOALS["gentle"])
        self.base: dict[str, str] = {
            "H": h_ref, "he": forms[0], "him": forms[1], "his": forms[2], "himself": forms[3], "was": forms[4],
            "Hs": h_pos, "Hname": name if pov not in ("FIRST_PERSON",) else h_ref,
            "Name": title_case(name), "hero_kind": hero.kind_phrase or "someone very special",
            "hero_intro": hero.named_intro(), "hero_noun": hero.noun or "friend",
            "hero_age": age_words(hero.age) if hero.age else "", "trait": hero.trait,
            "place": plan.setting.place, "a_place": plan.setting.a_place, "in_place": plan.setting.in_place,
            "in_a_place": plan.setting.in_a_place, "obj": problem.obj, "the_obj": problem.the_obj,
            "The_obj": cap(problem.the_obj), "trouble": problem.trouble or "would not work", "moral": plan.moral,
            "Ho": forms[1], "was_obj": "were" if problem.plural else "was",
            "is": "are" if problem.plural else "is", "it": "they" if problem.plural else "it",
            "its": "their" if problem.plural else "its", "them_obj": "them" if problem.plural else "it",
        }
        friend = plan.companions[0] if plan.companions else None
        self.base.update({"F": "a little lost friend", "fhe": "they", "fhim": "them", "fhis": "their", "fwas": "were",
                          "Fs": "their", "f_kind": "a friend", "F_intro": "a friend", "f_noun": "friend",
                          "f_ability": "helped"})
        if friend is not None:
            f_forms = friend.forms
            self.base.update({"F": friend.ref, "fhe": f_forms[0], "fhim": f_forms[1], "fhis": f_forms[2],
                              "fwas": f_forms[4], "Fs": possessive(friend.ref), "f_kind": friend.kind_phrase,
                              "F_intro": friend.intro(), "f_noun": friend.noun or "friend",
                              "f_ability": self.ability(friend, f_forms[2])})
        self.base["goal"] = self.fill(str(goal_kind["goal"]), "goal")
        self.base["goal_done"] = self.fill(str(goal_kind["done"]), "done")
        self.set_group()

    def set_group(self) -> None:
        plan, base = self.plan, self.base
        names = [f.ref for f in plan.companions[:2]]
        if not names:
            base.update({"W": base["H"], "Wo": base["him"], "we": base["he"], "us": base["him"], "our": base["his"],
                         "were": base["was"]})
            return
        if plan.pov == "FIRST_PERSON" and not plan.hero.listener:
            group, obj, forms = join(names) + " and I", join(names) + " and me", ("we", "us", "our")
        elif base["H"] == "you":
            group = obj = "you and " + join(names)
            forms = ("you", "you", "your")
        else:
            group = obj = join([base["H"], *names])
            forms = ("they", "them", "their")
        base.update({"W": group, "Wo": obj, "we": forms[0], "us": forms[1], "our": forms[2], "were": "were"})

    def ability(self, someone: Person, pos: str) -> str:
        data = load("cast")
        for kinds, phrase in data.ABILITIES:
            if someone.species in kinds or someone.noun in kinds:
                return str(phrase).replace("{xhis}", pos)
        if someone.toy:
            return f"stayed close and kept {pos} soft paws ready for a hug"
        words = set(re.findall(r"[a-z]+", someone.kind_phrase.lower()))
        for adjective, phrase in data.ADJECTIVE_ABILITIES:
            if adjective in words:
                return str(phrase).replace("{xhis}", pos)
        return str(data.DEFAULT_ABILITY).replace("{xhis}", pos)

    def allowed(self, template: str) -> bool:
        level = self.plan.level
        tag = template[:2]
        if tag == "L:" and level != "little" or tag == "O:" and level != "older":
            return False
        if tag == "M:" and level == "little" or tag == "Y:" and level == "older":
            return False
        return not (self.plan.rating == "G" and scary(template))

    def fill(self, template: str, salt: str, extra: Mapping[str, str] | None = None) -> str:
        text = template[2:] if template[1:2] == ":" and template[:1] in "LOMY" else template
        for _ in range(3):
            if "[" not in text:
                break
            text = _ALTERNATIVES.sub(lambda m: self._alternative(m.group(1), salt), text)
        values = dict(self.base)
        if extra:
            values.update(extra)
        for _ in range(3):
            if "{" not in text:
                break
            text = _PLACEHOLDER.sub(lambda m: self._value(m.group(1), values), text)
        return text

    def _alternative(self, options: str, salt: str) -> str:
        choices = options.split("|")
        return choices[digest(self.plan.seed, salt, options) % len(choices)]

    @staticmethod
    def _value(key: str, values: Mapping[str, str]) -> str:
        if key in values:
            return values[key]
        lower = key[:1].lower() + key[1:]
        if key[:1].isupper() and lower in values:
            return cap(values[lower])
        raise KeyError(f"story template placeholder {{{key}}} has no value")

    def say(self, key: str, salt: str, extra: Mapping[str, str] | None = None, *, again: bool = True) -> str:
        """One template of bank `key`, filled; one not used yet in this story when there is one (else, with
        `again`, any of them; without, nothing)."""
        pool = [t for t in self.bank.get(key, ()) if self.allowed(t)]
        if not pool:
            return ""
        start = digest(self.plan.seed, salt, key) % len(pool)
        ordered = pool[start:] + pool[:start]
        fresh = [t for t in ordered if (key, t) not in self.used]
        if not fresh and not again:
            return ""
        template = (fresh or ordered)[0]
        self.used.add((key, template))
        return self.fill(template, f"{salt}.{key}", extra)

    def lexicon(self, what: str, salt: str) -> str:
        """A word or clause from the setting's own lexicon, not used before in this story when possible."""
        items = [i for i in self.plan.setting.family[what] if not (self.plan.rating == "G" and scary(str(i)))]
        if not items:
            return ""
        start = digest(self.plan.seed, salt, what) % len(items)
        ordered = items[start:] + items[:start]
        fresh = [i for i in ordered if ("lex", what, str(i)) not in self.used]
        item = (fresh or ordered)[0]
        self.used.add(("lex", what, str(item)))
        return str(item) if not isinstance(item, (list, tuple)) else "|".join(map(str, item))


# --- the beats --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Part:
    paragraphs: list[list[str]]
    title: str
    mood: str
    summary: str
    action: str
    extra_people: tuple[Person, ...] = ()
    objects: tuple[str, ...] = ()


class Writer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.t = Teller(plan)

    def say(self, key: str, salt: str, **extra: str) -> str:
        return self.t.say(key, salt, extra)

    def scenery(self, salt: str) -> str:
        sight = self.t.lexicon("sights", salt + ".s")
        return self.say("scenery", salt, sight=sight) if sight else ""

    def sound(self, salt: str) -> str:
        sound = self.t.lexicon("sounds", salt + ".n")
        return self.say("sound", salt, sound=sound) if sound else ""

    def spot(self, salt: str) -> tuple[str, str]:
        noun, prep = self.t.lexicon("spots", salt).split("|")
        return noun, prep

    def flavour(self, kind: str, salt: str) -> list[str]:
        """Style, persona and tone sentences a beat adds."""
        req, plan = self.plan.req, self.plan
        out = []
        if kind in ("attempt", "problem") and (req.tone == "FUNNY" or req.writing_style == "HUMOROUS"
                                               or req.persona == "HUMORIST"):
            out.append(self.t.say("aside", salt + ".aside", again=False))
        if kind in ("open", "attempt") and (req.tone == "EDUCATIONAL" or req.persona == "EDUCATOR"):
            fact = self.t.lexicon("facts", salt + ".fact")
            if ("fact", fact) not in self.t.used:
                self.t.used.add(("fact", fact))
                out.append(f"Did you know that {fact}?")
        if kind == "attempt" and req.writing_style == "CASUAL":
            out.append(self.t.say("casual", salt + ".casual", again=False))
        if kind in ("attempt", "low") and plan.pov == "THIRD_PERSON_OMNISCIENT":
            out.append(self.t.say("omniscient", salt + ".omni", again=False))
        if kind in ("problem", "attempt", "turn") and plan.level == "older" and req.audience_age_group in (
                "TEENS", "ADULTS") or req.writing_style == "DESCRIPTIVE" and kind == "attempt":
            out.append(self.t.say("reflection", salt + ".reflect", again=False))
        return [s for s in out if s]

    def couplet(self, salt: str) -> list[str]:
        req = self.plan.req
        if req.writing_style != "POETIC" and req.persona != "POET":
            return []
        text = self.t.say("couplet", salt, again=False)
        return [text] if text else []

    def p(self, bank: str, salt: str, **extra: str) -> str:
        """A sentence of the problem kind's own bank (falling back to the generic one)."""
        kind = self.plan.problem.kind
        key = f"{kind}.{bank}" if f"{kind}.{bank}" in self.t.bank else f"any.{bank}"
        return self.say(key, salt, **extra)

    # the beats -----------------------------------------------------------------------------------------------

    def open(self) -> Part:
        plan, t = self.plan, self.t
        hero = plan.hero
        pov = "listener" if hero.listener else {"FIRST_PERSON": "first", "SECOND_PERSON": "second"}.get(plan.pov,
                                                                                                    "third")
        persona = plan.req.persona if pov == "third" else ""
        first = [self.say(f"open.{pov}", "open", opening=self.say(f"opening.{persona}", "opening")
                          if f"opening.{persona}" in t.bank else self.say("opening.any", "opening"))]
        if hero.trait and pov in ("first", "second"):
            first.append(self.say("open.trait", "trait"))
        second: list[str] = []
        if len(plan.companions) == 1:
            friend = plan.companions[0]
            bank = "open.toy" if friend.toy else "open.companion"
            second.append(self.say(bank, "companion"))
        elif plan.companions:
            for index, friend in enumerate(plan.companions):
                second.append(self.say("open.friends", f"friends.{index}", friend=friend.intro()))
        second.append(self.scenery("open"))
        if plan.level != "little":
            second.append(self.sound("open"))
        if plan.bedtime:
            second.append(self.say("open.bedtime", "bedtime"))
        second += self.flavour("open", "open")
        if plan.level == "older":
            return Part([first, self.couplet("open"), second, [self.scenery("open.more"), self.sound("open.more")]],
                        {"listener": "A Story About You"}.get(pov) or self.say("title.open", "title.open"), "cozy"
                        if plan.bedtime else "bright",
                        f"Meet {self._cast()}, {plan.setting.in_a_place}.", "a peaceful day")
        title = {"listener": "A Story About You"}.get(pov) or self.say("title.open", "title.open")
        summary = f"Meet {self._cast()}, {plan.setting.in_a_place}."
        mood = "cozy" if plan.bedtime else "bright"
        return Part([first, self.couplet("open"), second], title, mood, summary,
                    f"at home {plan.setting.in_place}" if plan.setting.family.get("indoor") else "a peaceful day")

    def _cast(self) -> str:
        hero = self.plan.hero
        return join([hero.named_intro() if hero.name else ("you" if hero.listener else hero.kind_phrase),
                     *[f.intro() for f in self.plan.companions]])

    def problem(self) -> Part:
        plan = self.plan
        first = [self.p("discover", "discover"), self.p("feel", "feel")]
        second = []
        if plan.companions:
            friend = plan.companions[0]
            second.append(self.say("join.toy" if friend.toy else "join", "join"))
        second.append(self.say("resolve", "resolve"))
        second += self.flavour("problem", "problem")
        mood = {"MYSTERIOUS": "mysterious", "SUSPENSEFUL": "tense"}.get(plan.req.tone, "curious")
        if plan.rating == "G" and mood == "tense":
            mood = "curious"
        summary = cap(self.t.fill(self.t.bank["summary.problem"][digest(plan.seed, "sp") % len(
            self.t.bank["summary.problem"])], "sp"))
        return Part([first, self.couplet("problem"), second], self.say("title.problem", "title.problem"), mood,
                    summary, self.t.fill("{goal}", "a"), objects=(plan.problem.obj,))

    def attempt(self, index: int) -> Part:
        plan = self.plan
        noun, prep = self.spot(f"attempt.{index}")
        if index == 0 and plan.problem.where[0] and plan.problem.where[0] not in plan.problem.obj:
            noun, prep = f"the {plan.problem.where[0]}", plan.problem.where[1]
        kinds = {p.species for p in (plan.hero, *plan.companions)}
        helpers = [h for h in plan.setting.family["helpers"] if h[2] not in kinds] or plan.setting.family["helpers"]
        helper = plan.pick(f"helper.{index}", helpers)
        extra = {"spot": noun, "at_spot": f"{prep} {noun}", "a_helper": helper[0], "the_helper": helper[1],
                 "step": plan.pick(f"step.{index}", load("story").STEPS)}
        first = [self.say("attempt.go", f"go.{index}", **extra), self.scenery(f"attempt.{index}")]
        if plan.level == "older":
            first.append(self.sound(f"attempt.{index}"))
        second = [self.p("try", f"try.{index}", **extra), self.say("attempt.notyet", f"notyet.{index}", **extra)]
        if plan.companions:
            second.append(self.say("attempt.friend", f"friend.{index}", **extra))
        third = [self.say("attempt.helper", f"helper.{index}", **extra),
                 self.say("attempt.clue", f"clue.{index}", **extra, tip=self.p("tip", f"tip.{index}", **extra))]
        second += self.flavour("attempt", f"attempt.{index}")
        if plan.rating != "G" and index == 0:
            third.append(self.say(f"peril.{plan.rating}", "peril", **extra))
        mood = "hopeful" if index % 2 == 0 else ("mysterious" if plan.req.tone == "MYSTERIOUS" else "curious")
        title = self.say("title.attempt", f"title.attempt.{index}", Spot=title_case(noun),
                         The_helper=title_case(helper[1]))
        summary = self.t.fill(f"{{Hname}} [goes|heads] {prep} {noun}, where {helper[1]} [helps|has a good idea].",
                              f"summary.{index}")
        guest = Person(name="", ref=helper[1], kind_phrase=helper[0], species=helper[2], noun=helper[2])
        return Part([[s for s in first if s], self.couplet(f"attempt.{index}"), second, third], title, mood,
                    summary, f"meeting {helper[0]} {prep} {noun}", extra_people=(guest,),
                    objects=(plan.problem.obj, noun))

    def low(self) -> Part:
        plan = self.plan
        lines = [self.say("low", "low.0"), self.say("low", "low.1"), self.say("low.friend" if plan.companions
                                                                            else "low.alone", "low.2")]
        lines += self.flavour("low", "low")
        return Part([lines[:2], self.couplet("low"), lines[2:]], self.say("title.low", "title.low"),
                    "tense" if plan.rating == "PG_13" else "calm",
                    self.t.fill("Tired, {Hname} almost gives up, but not quite.", "sl"), "resting, tired but hopeful",
                    objects=(plan.problem.obj,))

    def turn(self) -> Part:
        plan = self.plan
        first = [self.say("turn.idea", "idea"), self.p("turn", "turn")]
        moral = plan.moral if plan.moral in load("story").MORAL_NAMES else ""
        if moral:
            first.append(self.say(f"moral.{moral}.act", "moral.act"))
        second = []
        if plan.companions:
            second.append(self.say("turn.team", "team", f_ability=self.t.base["f_ability"]))
        second.append(self.p("solved", "solved"))
        second += self.flavour("turn", "turn")
        mood = {"CALM": "calm", "MYSTERIOUS": "mysterious"}.get(plan.req.tone, "bright")
        summary = self.t.fill("{Hname} [finds a way|has an idea], and {goal_done}.", "st")
        third = [self.t.say("reflection", "turn.reflect", again=False), self.scenery("turn")] if plan.level == "older" \
            else []
        return Part([first, self.couplet("turn"), second, third], self.say("title.turn", "title.turn"), mood, summary,
                    self.t.fill("{goal_done}", "a"), objects=(plan.problem.obj,))

    def ending(self) -> Part:
        plan = self.plan
        ending = plan.req.ending_preference
        first = [self.say(f"ending.{ending}", "ending")]
        moral = plan.moral if plan.moral in load("story").MORAL_NAMES else ""
        if moral and ending != "MORAL":
            first.append(self.say(f"moral.{moral}.lesson", "lesson"))
        elif ending == "MORAL":
            first.append(self.say("ending.MORAL.lesson", "lesson",
                                  lesson=self.t.fill(plan.pick("lesson", load("story").LESSONS.get(
                                      moral or "teamwork", load("story").LESSONS["teamwork"])), "lesson")))
        second = [self.say("ending.wrap", "wrap")]
        if plan.companions:
            second.append(self.say("ending.friend", "ending.friend"))
        second.append(self.scenery("ending"))
        if plan.bedtime:
            second.append(self.say("ending.bedtime", "ending.bedtime"))
        closing = self.closing()
        mood = {"HAPPY": "cozy" if plan.bedtime else "joyful", "BITTERSWEET": "calm", "OPEN": "curious",
                "TWIST": "bright", "MORAL": "hopeful"}[ending]
        summary = self.t.fill(load("story").ENDING_SUMMARY[ending], "se")
        return Part([first, self.couplet("ending"), [*second, closing]],
                    self.say(f"title.ending.{ending}", "title.ending"),
                    mood, summary, "together and happy", objects=(plan.problem.obj,))

    def closing(self) -> str:
        plan = self.plan
        if plan.req.ending_preference == "OPEN":
            return self.say("closing.OPEN", "closing")
        persona = "BEDTIME_STORYTELLER" if plan.bedtime else plan.req.persona
        key = f"closing.{persona}" if f"closing.{persona}" in self.t.bank else "closing.any"
        text = self.say(key, "closing")
        if plan.req.ending_preference == "BITTERSWEET":
            text = text.replace("happily ever after", "with full hearts")
        return text


# --- assembling scenes --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Story:
    title: str
    premise: str
    outline: tuple[OutlineScene, ...]
    scenes: tuple[SceneText, ...]


def finish(sentences: Sequence[str], plan: Plan) -> str:
    """Sentences into one tidy paragraph: capitals at sentence starts, no doubled spaces or stops, formal style
    without contractions."""
    text = " ".join(s.strip() for s in sentences if s and s.strip())
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.!?])", r"\1", text)
    text = re.sub(r"([.!?])\.", r"\1", text)
    text = re.sub(r"(^|[.!?]\s+|[.!?]\"\s+|\n)([\"“]?)([a-z])", lambda m: m.group(1) + m.group(2) + m.group(3).upper(),
                  text)
    if plan.req.writing_style == "FORMAL":
        text = re.sub(r"\b(" + "|".join(re.escape(c) for c in _CONTRACTIONS) + r")\b",
                      lambda m: _keep_case(m.group(1), _CONTRACTIONS[m.group(1).lower()]), text, flags=re.I)
    return text


def _keep_case(original: str, replacement: str) -> str:
    return cap(replacement) if original[:1].isupper() else replacement


def _scene_text(parts: Sequence[Part], plan: Plan) -> str:
    """The beats' paragraphs as 2 to 4 paragraphs (2 to 3 for little ones), a rhyme (at most one) kept whole."""
    prose: list[str] = []
    rhymes: list[str] = []
    for part in parts:
        for sentences_ in part.paragraphs:
            if not any(s.strip() for s in sentences_):
                continue
            if "\n" in "".join(sentences_):
                rhymes.append("\n".join(sentences_))
            else:
                prose.append(finish([_shorter(s) if plan.level == "little" else s for s in sentences_], plan))
    rhymes = rhymes[:1]
    most = (2 if plan.level == "little" else 4) - len(rhymes)
    while len(prose) > max(1, most):  # merge the two shortest neighbours
        index = min(range(len(prose) - 1), key=lambda i: len(prose[i]) + len(prose[i + 1]))
        prose[index:index + 2] = [prose[index] + " " + prose[index + 1]]
    paragraphs_ = prose[:1] + rhymes + prose[1:]
    if len(paragraphs_) == 1:
        sentences_ = re.split(r"(?<=[.!?])\s+", paragraphs_[0])
        half = max(1, len(sentences_) // 2)
        paragraphs_ = [" ".join(sentences_[:half]), " ".join(sentences_[half:])]
    return "\n\n".join(p for p in paragraphs_ if p)


def _shorter(sentence: str) -> str:
    """A sentence for little ones: "X did this, and Y did that." becomes two sentences; dialogue is left alone."""
    if '"' in sentence:
        return sentence
    def cut(match: re.Match[str]) -> str:
        before, after = sentence[:match.start()], sentence[match.end():]
        if len(before.split()) < 3 or len(after.split()) < 3:
            return match.group(0)
        return ". " + {"but": "But ", "so": "So ", "and then": "Then "}.get(match.group(1), "")
    out = re.sub(r", (and then|and|but|so) |: ()", cut, sentence)
    out = re.sub(r", (?:hoping|looking|turning|checking|peeking|smiling|side by side|one by one|tired and|just as)"
                 r"[^.!?]*(?=[.!?])", "", out)
    # A short lead-in ("All around, ...", "Just then, ...") is left out: little ones hear the main thing.
    out = re.sub(r"^(?:[A-Z][a-z]+(?: [a-z]+){0,2}), (?=[a-z])", "", out)
    out = re.sub(r", (?:who|which|where|when|while) [^,.!?]+(?=[.!?])", "", out)
    return cap(re.sub(r"\. ([a-z])", lambda m: ". " + m.group(1).upper(), out))


def _hero_named(text: str, plan: Plan, writer: Writer, index: int) -> str:
    """A third-person scene always names its hero: a scene that only says "she" starts with the name."""
    hero = plan.hero
    if hero.listener or plan.pov in ("FIRST_PERSON", "SECOND_PERSON") or not hero.ref:
        return text
    if re.search(rf"(?<![\w]){re.escape(hero.ref.split()[0])}(?![\w])", text):
        return text
    return finish([writer.say("bridge", f"bridge.{index}")], plan) + " " + text


def _picture(plan: Plan, text: str, parts: Sequence[Part], mood: str, index: int, count: int) -> PictureSpec:
    figures = []
    low = text.lower()
    for role, someone in [("hero", plan.hero), *[("companion", c) for c in plan.companions]]:
        mentioned = someone.ref and re.search(rf"(?<![\w]){re.escape(someone.ref.split()[0].lower())}(?![\w])", low)
        if role == "hero" or mentioned or (someone.toy and index > 0):
            figures.append(FigureSpec(name=someone.name or someone.ref, role=role, species=someone.species,
                                      colour=someone.colour, gender=someone.gender, age=someone.age, toy=someone.toy,
                                      accessory=_accessory(someone)))
    for part in parts:
        for guest in part.extra_people:
            if guest.species and guest.ref.lower() in low:
                figures.append(FigureSpec(name=guest.ref, role="guest", species=guest.species))
    objects: list[str] = []
    for part in parts:
        for thing in part.objects:
            if thing and thing not in ("the dark", "way home", "new friends", "new school") and thing not in objects \
                    and thing.split()[-1].lower() in low:
                objects.append(thing)
    for prop in plan.setting.family["props"]:
        if re.search(rf"\b{re.escape(prop)}", low) and prop not in objects:
            objects.append(prop)
    for thing in load("story").DRAWABLE:
        if re.search(rf"\b{re.escape(thing)}", low) and thing not in objects:
            objects.append(thing)
    night = plan.bedtime and (index == count - 1 or index == 0) or bool(re.search(
        r"\b(?:night|moon|stars|bedtime|midnight)\b", low)) or plan.setting.name == "space"
    time_of_day = "night" if night else "sunset" if re.search(r"\b(?:sunset|dusk|evening)\b", low) else "day"
    return PictureSpec(characters=tuple(figures), objects=tuple(objects[:6]), setting=str(plan.setting.family["paint"]),
                       place=plan.setting.place, time_of_day=time_of_day, mood=mood,
                       action=" ".join(p.action for p in parts if p.action)[:160])


def _accessory(someone: Person) -> str:
    words = set(re.findall(r"[a-z]+", f"{someone.kind_phrase} {someone.name}".lower()))
    for accessory, keys in (("crown", {"princess", "prince", "king", "queen"}), ("wizard_hat", {"wizard", "witch"}),
                            ("helmet", {"astronaut", "knight"}), ("pirate_hat", {"pirate", "captain"}),
                            ("glasses", {"grandpa", "grandma", "detective", "inventor", "teacher", "keeper"})):
        if words & keys:
            return accessory
    return ""


@functools.lru_cache(maxsize=64)
def write(requirements: StoryRequirements, scene_count: int) -> Story:
    check_scene_count(scene_count)
    plan = make_plan(requirements)
    writer = Writer(plan)
    scenes, outline = [], []
    titles: set[str] = set()
    attempts = 0
    for index, beats in enumerate(beats_for(scene_count)):
        parts = []
        for beat in beats:
            if beat.startswith("attempt"):
                parts.append(writer.attempt(attempts))
                attempts += 1
            else:
                parts.append(getattr(writer, beat)())
        text = _hero_named(_scene_text(parts, plan), plan, writer, index)
        mood = parts[-1].mood
        title = title_case(parts[0].title if len(parts) == 1 or beats[0] != "open" else parts[0].title)
        if title in titles or not title:
            title = title_case(parts[-1].title)
        if title in titles or not title:
            title = f"Part {index + 1}"
        titles.add(title)
        summary = " ".join(cap(p.summary.rstrip(".")) + "." for p in parts)
        picture = _picture(plan, text, parts, mood, index, scene_count)
        prompt = _prompt(plan, picture)
        outline.append(OutlineScene(title=title, summary=_agree(summary, plan)))
        scenes.append(SceneText(title=title, text=text, mood=mood, illustration_prompt=prompt, picture=picture))
    return Story(title=story_title(requirements), premise=premise_text(requirements), outline=tuple(outline),
                 scenes=tuple(scenes))


def _prompt(plan: Plan, picture: PictureSpec) -> str:
    who = join([(f"{f.name} the {f.colour + ' ' if f.colour else ''}{_noun(f)}" if f.name and f.species else f.name)
                for f in picture.characters if f.role != "guest"][:3]) or "The characters"
    things = f", with {join(list(picture.objects[:3]))}" if picture.objects else ""
    text = f"{cap(who)} {plan.setting.in_place}{things}, {picture.action}".strip(" ,")
    return clean(text, 400).rstrip(".") + "."


def _noun(figure: FigureSpec) -> str:
    if figure.species != "human":
        return figure.species
    if figure.age >= 60:
        return "grandpa" if figure.gender == "male" else "grandma" if figure.gender == "female" else "grandparent"
    return {"female": "girl", "male": "boy"}.get(figure.gender, "child") if figure.age < 18 else "grown-up"


_THIRD_PERSON_VERBS = {"finds": "find", "meets": "meet", "goes": "go", "heads": "head", "has": "have",
                       "helps": "help", "gives": "give", "is": "are", "learns": "learn", "sets": "set"}


def _agree(text: str, plan: Plan) -> str:
    """Present-tense summaries written for "Mia finds" said of "you": "you find"."""
    if not plan.hero.listener:
        return text
    return re.sub(rf"\byou ({'|'.join(_THIRD_PERSON_VERBS)})\b", lambda m: f"you {_THIRD_PERSON_VERBS[m.group(1)]}",
                  text, flags=re.IGNORECASE)


def story_title(requirements: StoryRequirements) -> str:
    if requirements.title.strip() and not unsafe(requirements.title):
        return clean(requirements.title, 120)
    plan = make_plan(requirements)
    teller = Teller(plan)
    return title_case(teller.say("title.story", "title.story"))


_AUDIENCES = {"PRESCHOOL": "little ones (about 3 to 5)", "EARLY_READERS": "early readers (about 6 to 8)",
              "MIDDLE_GRADE": "middle-grade readers (about 9 to 12)", "TEENS": "teenagers", "ADULTS": "grown-ups"}
_ENDINGS = {"HAPPY": "a happy ending", "BITTERSWEET": "a gentle, bittersweet ending", "OPEN": "an open ending",
            "TWIST": "a surprise twist", "MORAL": "a lesson at the end"}


def premise_text(requirements: StoryRequirements) -> str:
    plan = make_plan(requirements)
    teller = Teller(plan)
    hero = plan.hero
    who = "You, the hero," if hero.listener else cap(hero.intro()) + ("," if hero.name and hero.kind_phrase else "")
    parts = [f"{who} {'live' if hero.listener else 'lives'} {plan.setting.in_a_place}."]
    if plan.companions:
        parts.append(f"{cap(join([c.intro() for c in plan.companions]))} {'is' if len(plan.companions) == 1 else 'are'}"
                     f" always close by.")
    parts.append(cap(teller.fill(load("story").PREMISE_PROBLEM.get(plan.problem.kind, "{Hname} sets out to {goal}."),
                                 "premise")))
    if plan.problem.request and not unsafe(plan.problem.request):
        parts.append(clean(plan.problem.request, 300).rstrip(".") + ".")
    if plan.moral:
        parts.append(f"It is a story about {plan.moral}.")
    tone = load("chat").TONE_ADJECTIVES.get(plan.req.tone, "")
    parts.append(f"{cap(with_article(tone + ' story' if tone else 'story'))} for "
                 f"{_AUDIENCES.get(plan.req.audience_age_group, 'children')}, with "
                 f"{_ENDINGS.get(plan.req.ending_preference, 'a happy ending')}.")
    return _agree(" ".join(parts), plan)


# --- the step-by-step API -----------------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.split())


def follows_outline(requirements: StoryRequirements, outline: Sequence[OutlineScene]) -> bool:
    if not 1 <= len(outline) <= 12:
        return False
    ours = write(requirements, len(outline)).outline
    return all(_normal(a.title) == _normal(b.title) and _normal(a.summary) == _normal(b.summary)
               for a, b in zip(ours, outline, strict=True))


def scenes_for(requirements: StoryRequirements, outline: Sequence[OutlineScene]) -> list[SceneText]:
    if not outline:
        raise ValueError("the outline has no scenes")
    if follows_outline(requirements, outline):
        return list(write(requirements, len(outline)).scenes)
    return _around_outline(requirements, tuple(outline))


@functools.lru_cache(maxsize=64)
def _around_outline(requirements: StoryRequirements, outline: tuple[OutlineScene, ...]) -> list[SceneText]:
    """Scenes for an outline written elsewhere: each tells its summary, the first introduces the cast, the last
    closes the story."""
    plan = make_plan(requirements)
    writer = Writer(plan)
    count = len(outline)
    scenes = []
    for index, item in enumerate(outline):
        summary = clean(item.summary, 600)
        summary = "" if unsafe(summary) else summary
        title = clean(item.title, 100)
        title = title if title and not unsafe(title) else f"Part {index + 1}"
        paragraphs_: list[list[str]] = []
        if index == 0:
            opening = writer.open()
            paragraphs_.append([s for p in opening.paragraphs for s in p if s][:4])
        if summary:
            paragraphs_.append([tell(summary)])
        if index == count - 1:
            paragraphs_.append([writer.closing()])
        elif index > 0:
            paragraphs_.append([writer.scenery(f"around.{index}") or writer.say("bridge", f"around.{index}")])
        while len(paragraphs_) < 2:
            more = writer.scenery(f"around.more.{index}.{len(paragraphs_)}")
            paragraphs_.append([more or "And so the story went on."])
        text = "\n\n".join(finish(p, plan) for p in paragraphs_[:4])
        mood = guess_mood(text, index, count)
        picture = derive_picture(text, requirements, plan.setting.place)
        scenes.append(SceneText(title=title_case(title), text=text, mood=mood,
                                illustration_prompt=clean(f"{summary or title}, {plan.setting.in_place}.", 400),
                                picture=picture))
    return scenes


def opening_text(requirements: StoryRequirements, outline: Sequence[OutlineScene]) -> str:
    return scenes_for(requirements, outline)[0].text


def continuation(requirements: StoryRequirements, outline: Sequence[OutlineScene], story_so_far: str
                 ) -> tuple[str, bool]:
    scenes = scenes_for(requirements, outline)
    written = _normal(story_so_far)
    covered = 0
    for index, scene in enumerate(scenes):
        last_paragraph = _normal(paragraphs(scene.text)[-1])
        if _normal(scene.text) in written or (last_paragraph and last_paragraph in written):
            covered = index + 1
    if covered == 0 and written:
        per_scene = sum(len(paragraphs(s.text)) for s in scenes) / len(scenes)
        covered = max(1, min(len(scenes), round(len(paragraphs(story_so_far)) / per_scene)))
    if covered >= len(scenes):
        return "", True
    return scenes[covered].text, covered + 1 >= len(scenes)


class OfflineStoryWriter:
    """StoryWriter on the story grammar; the offline storyteller inherits it. Work runs in a worker thread."""

    async def premise(self, requirements: StoryRequirements) -> Premise:
        return await asyncio.to_thread(
            lambda: Premise(title=story_title(requirements), premise=premise_text(requirements)))

    async def outline(self, requirements: StoryRequirements, premise: str, scene_count: int) -> list[OutlineScene]:
        """Exactly `scene_count` scenes (1 to 12)."""
        check_scene_count(scene_count)
        return list((await asyncio.to_thread(write, requirements, scene_count)).outline)

    async def scene(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene],
                    index: int, story_so_far: Sequence[SceneText]) -> SceneText:
        if not 0 <= index < len(outline):
            raise ValueError(f"scene index {index} is outside the outline of {len(outline)} scenes")
        return (await asyncio.to_thread(scenes_for, requirements, outline))[index]

    async def opening(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene]) -> str:
        return await asyncio.to_thread(opening_text, requirements, outline)

    async def continue_story(self, requirements: StoryRequirements, premise: str, outline: Sequence[OutlineScene],
                             story_so_far: str) -> tuple[str, bool]:
        return await asyncio.to_thread(continuation, requirements, outline, story_so_far)

    async def split_story(self, requirements: StoryRequirements, text: str, scene_count: int) -> list[SceneText]:
        return await asyncio.to_thread(split_into_scenes, requirements, text, scene_count)

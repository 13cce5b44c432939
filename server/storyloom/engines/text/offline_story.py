"""The offline story writer: a story grammar driven by the requirements (no model, deterministic).

A story is planned from the requirements alone: a hero and friends (or a friendly animal hero and a
companion met on the way), a setting family (forest, sea, space...) that gives places to go, folk to
meet, sights and sounds, and a problem (a plot) that suits the tone or the plot elements. The plan is cut
into beats (introduction, problem, attempts, a rest, the low point, the big idea, the ending) spread
over the scenes the caller asks for, and each beat is written with templates:

- the audience sets the sentence length and the amount of detail (preschool: very short sentences);
- the content rating caps the peril (G: nothing frightening; PG: mild peril, resolved; PG_13: real
  stakes, nothing graphic), never above what the audience allows;
- the point of view sets the pronouns (I, you, she, they), the writing style and the persona add
  rhymes, jokes, facts, contractions, openings and closings, and the ending preference picks the ending.

Every choice between variants is made by a hash of the requirements, never at random: the same
requirements always give the same story. `OfflineStoryWriter` is the StoryWriter mixin the offline
storyteller inherits; the module functions do the work and are pure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.story import OutlineScene, Premise, SceneText
from storyloom.engines.text import offline_data as D
from storyloom.engines.text import offline_story_data as S
from storyloom.engines.text.story_common import (MOODS, check_scene_count, effective, paragraphs, plain_text,
                                                 sentences, split_spans)

_LISTENER = "the child hearing the story, as the hero"


# --- small text helpers -------------------------------------------------------------------------------

def _digest(*parts: object) -> int:
    data = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(word: str) -> str:
    low = word.lower()
    if low.startswith(("uni", "use", "usu", "eu", "one", "ukulele")):
        return "a"
    return "an" if low[:1] in "aeiou" or low.startswith(("hour", "honest")) else "a"


def _join(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _possessive(ref: str) -> str:
    return ref + "'" if ref.endswith("s") and not ref[:1].isupper() else ref + "'s"


_BLOCKED = re.compile(r"\b(?:" + "|".join(re.escape(s) for s in sorted(D.BLOCKED_STEMS, key=len, reverse=True))
                      + r")(?:s|es|ed|d|ing|er|ers|y)?\b", re.IGNORECASE)
_SAFE = re.compile(r"\b(?:" + "|".join(re.escape(s) for s in D.SAFE_PHRASES) + r")\b", re.IGNORECASE)
_SCARY = re.compile(r"\b(?:" + "|".join(sorted(S.SCARY_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def unsafe(text: str) -> bool:
    """Whether `text` has a word no children's story should carry (violence, sex, drugs, swearing...)."""
    return bool(_BLOCKED.search(_SAFE.sub(" ", text)))


def _clean_user_text(text: str, limit: int = 160) -> str:
    text = " ".join(plain_text(text).split())[:limit]
    text = re.sub(r"[<>*#_`~\[\]{}|\\^=@$%]", " ", text)
    return " ".join(text.split()).strip(" ,;:-")


_SMALL_WORDS = frozenset("a an the and or of in on at to by for with up from as but into onto".split())


def _title_case(text: str) -> str:
    words = text.split(" ")
    out = []
    for i, word in enumerate(words):
        if i and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


# --- the cast -----------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Person:
    name: str           # "" when unnamed
    ref: str            # how the narration names them in the third person: "Ember", "the dragons"
    desc: str           # a noun phrase with its article: "a friendly dragon"
    clause: str = ""    # more about them that is not a noun phrase: "who loves to sing"
    pronoun: str = "they"  # she, he, they, it
    kind: str = ""
    plural: bool = False
    listener: bool = False

    def intro(self) -> str:
        """ "Ember, a friendly dragon" (or "the dragons", "Ember, who loves to sing")."""
        if not self.name:
            return self.desc or self.ref
        parts = [self.name]
        if self.desc:
            parts.append(self.desc)
        if self.clause:
            parts.append(self.clause)
        return ", ".join(parts)

    def named_intro(self) -> str:
        """ "a friendly dragon named Ember" (for "there lived ...")."""
        if not self.name:
            return self.desc + (f", {self.clause}" if self.clause else "")
        head = f"{self.desc} named {self.name}" if self.desc else self.name
        return head + (f", {self.clause}" if self.clause else "")

    def label(self) -> str:
        """How a picture names them: "Ember the friendly dragon", "a child"."""
        if self.listener and not self.name:
            return "a child"
        if self.name and re.match(r"(?:a|an) ", self.desc):
            return f"{self.name} the {self.desc.split(' ', 1)[1]}"
        return self.name or self.desc or self.ref


_PRONOUNS = {
    "she": ("she", "her", "her", "herself", "was"),
    "he": ("he", "him", "his", "himself", "was"),
    "they": ("they", "them", "their", "themselves", "were"),
    "it": ("it", "it", "its", "itself", "was"),
    "I": ("I", "me", "my", "myself", "was"),
    "you": ("you", "you", "your", "yourself", "were"),
    "we": ("we", "us", "our", "ourselves", "were"),
    "you all": ("you", "you", "your", "yourselves", "were"),
}
_IT_KINDS = frozenset({"robot", "cloud", "cupcake", "snowman", "toy", "doll", "gumdrop", "kite", "balloon", "clock"})
_ARTICLES = ("a ", "an ", "the ", "some ", "one ", "two ", "three ", "four ", "five ", "six ", "his ", "her ",
             "their ", "its ", "many ", "lots of ")
_VERBISH = ("loves ", "likes ", "has ", "can ", "is ", "lives ", "wants ", "was ", "had ", "knows ", "always ",
            "never ", "enjoys ", "dreams ")


def _kind_of(text: str) -> str:
    """The first kind of being a text names ("a shy dragon who loves cats" is a dragon)."""
    low = text.lower()
    found: list[tuple[int, int, str]] = []
    for kind in D.KINDS:
        match = re.search(rf"\b{re.escape(kind)}(?:s|es)?\b", low)
        if match:
            found.append((match.start(), -len(kind), kind))
    for plural, kind in D.IRREGULAR_PLURALS.items():
        match = re.search(rf"\b{plural}\b", low)
        if match:
            found.append((match.start(), -len(plural), kind))
    return min(found)[2] if found else ""


def _pronoun(name: str, desc: str, kind: str, plural: bool) -> str:
    if plural:
        return "they"
    words = set(re.findall(r"[a-z]+", desc.lower()))
    if words & {"she", "her", "herself"}:
        return "she"
    if words & {"he", "him", "his", "himself"}:
        return "he"
    kind_words = set(kind.split()) | words
    if kind_words & S.FEMININE_WORDS:
        return "she"
    if kind_words & S.MASCULINE_WORDS:
        return "he"
    first = name.split(" ")[0].lower() if name else ""
    if first in S.FEMININE_NAMES:
        return "she"
    if first in S.MASCULINE_NAMES:
        return "he"
    if kind in _IT_KINDS and not name:
        return "it"
    if kind in _IT_KINDS:
        return "it"
    return "they"


def _person(character: Character) -> _Person | None:
    name = _clean_user_text(character.name, 60)
    desc = _clean_user_text(character.description, 200).rstrip(".!")
    if not name and not desc:
        return None
    if unsafe(name):
        return None
    if unsafe(desc):
        desc = ""
    if desc == _LISTENER or name.lower() in ("you", "me"):
        listener_name = "" if name.lower() in ("you", "me") else name
        return _Person(name=listener_name, ref=listener_name or "you", desc="a child just like you",
                       pronoun=_pronoun(listener_name, "", "child", False) if listener_name else "you",
                       kind="child", listener=not listener_name)
    unnamed = name.lower().startswith("the ") or not name
    kind = _kind_of(desc) or _kind_of(name)
    counted = bool(re.match(r"(?:some|two|three|four|five|six|many|lots of)\b", desc.lower()))
    plural = unnamed and (counted or (bool(kind) and name.lower().startswith("the ")
                                      and name.lower() != f"the {kind}" and not name.lower().endswith(kind)))
    # A description written as a sentence: "She is a shy dragon who loves to sing."
    sentence = re.match(r"(?i)(she|he|it|they)\s+(?:is|was|are|were|'s)\s+(.*)", desc)
    spoken_pronoun = ""
    if sentence:
        spoken_pronoun = sentence.group(1).lower()
        desc = sentence.group(2)
    owned = re.match(r"(?i)(?:the user's|my|our|your)\s+(.*)", desc)
    if owned:
        rest = owned.group(1)
        desc = f"{_article(rest)} {rest}"
    low = desc.lower()
    clause = ""
    if not desc:
        np = f"{_article(kind)} {kind}" if kind else ""
    elif low.startswith(("who ", "that ", "which ")):
        np, clause = (f"{_article(kind)} {kind}" if kind else ""), desc
    elif low.startswith(_VERBISH):
        np, clause = (f"{_article(kind)} {kind}" if kind else ""), "who " + desc
    elif low.startswith(_ARTICLES):
        np = desc
    else:
        np = f"{_article(desc)} {desc}"
    if np and len(np.split()) > 14 and not clause:
        head = re.match(r"(.*?)\s+(who|that|which|with)\s+(.*)", np)
        if head:
            np, clause = head.group(1), f"{head.group(2)} {head.group(3)}"
    if unnamed:
        ref = name if name else (f"the {kind}" if kind else "the stranger")
        ref = ref[0].lower() + ref[1:] if ref.lower().startswith("the ") else ref
        pronoun = "they" if plural else _pronoun("", spoken_pronoun + " " + desc, kind, False)
        return _Person(name="", ref=ref, desc=np or ref, clause=clause, pronoun=pronoun, kind=kind, plural=plural)
    pronoun = spoken_pronoun if spoken_pronoun in ("she", "he", "it") else _pronoun(name, desc, kind, False)
    return _Person(name=name, ref=name, desc=np, clause=clause, pronoun=pronoun, kind=kind)


def _ability(person: _Person, possessive: str) -> str:
    kind = person.kind
    for kinds, phrase in S.ABILITIES:
        if kind in kinds:
            return phrase.replace("{xhis}", possessive)
    words = set(re.findall(r"[a-z]+", person.desc.lower()))
    for adjective, phrase in S.ADJECTIVE_ABILITIES:
        if adjective in words:
            return phrase.replace("{xhis}", possessive)
    return S.DEFAULT_ABILITY.replace("{xhis}", possessive)


# --- the setting --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Place:
    family: str
    a_place: str     # first mention: "an enchanted forest"
    place: str       # later: "the enchanted forest"
    spot: str        # short: "the forest"
    prep: str        # "in", "on", "under"...

    @property
    def in_a_place(self) -> str:
        return f"{self.prep} {self.a_place}" if self.prep else self.a_place

    @property
    def in_place(self) -> str:
        return f"{self.prep} {self.place}" if self.prep else self.place


def _find(words_: Sequence[str], low: str) -> tuple[int, str] | None:
    best: tuple[int, int, str] | None = None
    for word in words_:
        match = re.search(rf"\b{re.escape(word)}\b", low)
        if match and (best is None or (match.start(), -len(word)) < (best[0], -best[1])):
            best = (match.start(), len(word), word)
    return (best[0], best[2]) if best else None


def _place(setting: str, pov: str) -> _Place:
    raw = _clean_user_text(setting, 120).rstrip(".!") if setting else ""
    if not raw or unsafe(raw):
        raw = S.DEFAULT_SETTING
    prep = ""
    given = re.match(r"(?i)(in|on|at|inside|under|underneath|beneath|above|beyond|near|over|behind)\s+(.*)", raw)
    if given:
        prep, raw = given.group(1).lower(), given.group(2)
    owner = re.match(r"(?i)(my|our|your)\s+(.*)", raw)
    if owner:
        mine = {"FIRST_PERSON": "my", "SECOND_PERSON": "your"}.get(pov, "")
        raw = f"{mine} {owner.group(2)}" if mine else f"{_article(owner.group(2))} {owner.group(2)}"
    low = raw.lower()
    family = "anywhere"
    found_at = None
    for name, data in S.FAMILIES.items():
        hit = _find(data["words"], low)
        if hit and (found_at is None or hit[0] < found_at):
            family, found_at = name, hit[0]
    if not prep:
        head = _find(sorted(D.PLACES), low)
        prep = D.PLACE_PREPOSITION.get(head[1], "in") if head else "in"
    if low.startswith(("a ", "an ")):
        a_place, place = raw, "the " + raw.split(" ", 1)[1]
    elif low in S.BARE_PLACES or low.startswith(("the ", "my ", "your ", "our ")) or raw[:1].isupper():
        a_place = place = raw
    else:
        a_place, place = f"{_article(raw)} {raw}", f"the {raw}"
    spot_word = _find(sorted(D.PLACES), low)
    if spot_word:
        word = spot_word[1]
        word = {"under the sea": "sea", "under the ocean": "ocean", "bottom of the sea": "sea",
                "bottom of the ocean": "ocean", "under the bed": "bed", "outer space": "space"}.get(word, word)
        spot = word if word in S.BARE_PLACES else f"the {word}"
        if word in ("mars", "venus", "jupiter", "saturn", "antarctica"):
            spot = word.capitalize()
    else:
        spot = place
    return _Place(family=family, a_place=a_place, place=place, spot=spot, prep=prep)


# --- the plan -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Beat:
    kind: str            # intro, problem, attempt, interlude, low, climax, ending
    index: int = 0       # which attempt or interlude
    peril: bool = False  # the attempt runs into trouble on the way (PG and above)
    ordinal: int = 0     # "First", "Next"...


def _beats(scene_count: int, rating: str) -> list[list[_Beat]]:
    if scene_count == 1:
        return [[_Beat("intro"), _Beat("problem"), _Beat("climax"), _Beat("ending")]]
    if scene_count == 2:
        return [[_Beat("intro"), _Beat("problem")], [_Beat("climax"), _Beat("ending")]]
    peril = rating != "G"
    if scene_count == 3:
        return [[_Beat("intro"), _Beat("problem")], [_Beat("attempt", 0, peril), _Beat("climax")],
                [_Beat("ending")]]
    if scene_count == 4:
        return [[_Beat("intro")], [_Beat("problem")], [_Beat("attempt", 0, peril), _Beat("climax")],
                [_Beat("ending")]]
    middle = {
        1: ["a0"], 2: ["a0", "a1"], 3: ["a0", "a1", "low"], 4: ["a0", "a1", "a2", "low"],
        5: ["a0", "a1", "a2", "a3", "low"], 6: ["a0", "i0", "a1", "a2", "a3", "low"],
        7: ["a0", "i0", "a1", "i1", "a2", "a3", "low"], 8: ["a0", "i0", "a1", "i1", "a2", "i2", "a3", "low"],
    }[scene_count - 4]
    peril_at = "a1" if "a1" in middle else "a0"
    scenes = [[_Beat("intro")], [_Beat("problem")]]
    ordinal = 0
    for step in middle:
        if step == "low":
            scenes.append([_Beat("low")])
            continue
        kind = "attempt" if step[0] == "a" else "interlude"
        scenes.append([_Beat(kind, int(step[1]), peril and step == peril_at, ordinal)])
        ordinal += 1
    scenes.append([_Beat("climax")])
    scenes.append([_Beat("ending")])
    return scenes


@dataclasses.dataclass
class _Plan:
    req: StoryRequirements          # with the defaults filled in
    seed: int
    hero: _Person
    friends: list[_Person]          # the user's friends, or the companion
    companion: bool                 # the friend is met in the problem beat
    guest: _Person | None
    place: _Place
    family: Mapping[str, Any]
    problem_key: str
    problem: Mapping[str, Any]
    pov: str
    rating: str
    detail: int                     # 0 (preschool) .. 3 (teens, adults, descriptive)
    little: bool                    # preschool sentence shapes
    stations: list[tuple[str, str]]
    helpers: list[tuple[str, str, str]]
    baby: str

    def pick(self, salt: str, items: Sequence[str]) -> str:
        return items[_digest(self.seed, salt) % len(items)]


def _problem_key(req: StoryRequirements, seed: int) -> str:
    text = " ".join([req.plot_elements, req.special_requests, req.title, req.genre]).lower()
    matches = []
    for key, problem in S.PROBLEMS.items():
        hits = [k for k in problem["keywords"] if re.search(rf"\b{re.escape(k)}\b", text)]
        if hits:
            position = min(text.find(k) for k in hits)
            matches.append((req.tone not in problem["tones"], position, key))
    if matches:
        return min(matches)[2]
    # Each tone has plots of its own (the tone listed first), so that tones always tell different stories.
    fitting = [key for key, problem in S.PROBLEMS.items() if problem["tones"][0] == req.tone]
    fitting = fitting or [key for key, problem in S.PROBLEMS.items() if req.tone in problem["tones"]] or ["star"]
    return fitting[_digest(seed, "problem") % len(fitting)]


def _seed(req: StoryRequirements) -> int:
    return _digest(*(f"{f.name}={getattr(req, f.name)!r}" for f in dataclasses.fields(req)
                     if f.name != "extracted_prompt"))


def _taken(names: set[str], options: Sequence[tuple[str, str, str, str]], seed: int, salt: str
           ) -> tuple[str, str, str, str]:
    free = [o for o in options if o[0].lower() not in names] or list(options)
    return free[_digest(seed, salt) % len(free)]


@functools.lru_cache(maxsize=256)
def _plan(requirements: StoryRequirements) -> _Plan:
    req = effective(requirements)
    seed = _seed(req)
    people = [p for p in (_person(c) for c in req.characters[:6]) if p is not None]
    listeners = [p for p in people if p.listener]
    if listeners and people[0] is not listeners[0]:
        people.remove(listeners[0])
        people.insert(0, listeners[0])
    if not people:
        name, desc, pronoun, kind = S.DEFAULT_HEROES[_digest(seed, "hero") % len(S.DEFAULT_HEROES)]
        people = [_Person(name=name, ref=name, desc=desc, pronoun=pronoun, kind=kind)]
    hero, friends = people[0], people[1:]
    pov = req.narrative_point_of_view
    if hero.listener:
        pov = "SECOND_PERSON"
    place = _place(req.setting, pov)
    family = S.FAMILIES[place.family]
    names = {p.name.lower() for p in people if p.name}
    companion = not friends
    if companion:
        own = family["companion"]
        name, desc, pronoun, kind = own if own[0].lower() not in names else _taken(
            names, S.DEFAULT_HEROES, seed, "companion")
        friends = [_Person(name=name, ref=name, desc=desc, pronoun=pronoun, kind=kind)]
        names.add(name.lower())
    problem_key = _problem_key(req, seed)
    problem = S.PROBLEMS[problem_key]
    guest = None
    if "guests" in problem:
        if problem_key == "moving" and not companion:
            guest = friends[0]
        else:
            name, desc, pronoun, kind = _taken(names, problem["guests"], seed, "guest")
            guest = _Person(name=name, ref=name, desc=desc, pronoun=pronoun, kind=kind)
    detail = {"PRESCHOOL": 0, "EARLY_READERS": 1, "MIDDLE_GRADE": 2}.get(req.audience_age_group, 3)
    if req.writing_style == "SIMPLE":
        detail = min(detail, 1)
    elif req.writing_style == "DESCRIPTIVE":
        detail = min(3, detail + 1)
    stations = list(family["stations"])
    shift = _digest(seed, "stations") % len(stations)
    stations = stations[shift:] + stations[:shift]
    kinds = {p.kind for p in (hero, *friends) if p.kind}
    helpers = [h for h in family["helpers"] if not any(re.search(rf"\b{re.escape(k)}s?\b", h[0]) for k in kinds)]
    helpers = helpers or list(family["helpers"])
    shift = _digest(seed, "helpers") % len(helpers)
    helpers = helpers[shift:] + helpers[:shift]
    return _Plan(req=req, seed=seed, hero=hero, friends=friends, companion=companion, guest=guest, place=place,
                 family=family, problem_key=problem_key, problem=problem, pov=pov, rating=req.content_rating,
                 detail=detail, little=req.audience_age_group == "PRESCHOOL", stations=stations, helpers=helpers,
                 baby=S.BABIES[place.family])


# --- the voice: filling templates ------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z_0-9]*)\}")
_ALTERNATIVES = re.compile(r"\{([^{}]*\|[^{}]*)\}")
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


class _Voice:
    """Fills templates for one plan: pronouns for the point of view, places, the people of the scene."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.used: set[str] = set()
        hero = plan.hero
        pov = plan.pov
        if pov == "FIRST_PERSON":
            forms = _PRONOUNS["we" if hero.plural else "I"]
            h_ref, h_pos, h_obj = ("we", "our", "us") if hero.plural else ("I", "my", "me")
        elif pov == "SECOND_PERSON" or hero.listener:
            forms = _PRONOUNS["you all" if hero.plural else "you"]
            h_ref, h_pos, h_obj = "you", "your", "you"
        else:
            forms = _PRONOUNS[hero.pronoun]
            h_ref, h_pos, h_obj = hero.ref, _possessive(hero.ref), hero.ref
        self.hero_forms = forms
        name = hero.name or hero.ref
        self.base: dict[str, str] = {
            "H": h_ref, "he": forms[0], "him": forms[1], "his": forms[2], "himself": forms[3], "was": forms[4],
            "Hs": h_pos, "Ho": h_obj, "Hname": name, "Hname_pos": "your" if hero.listener else _possessive(name),
            "Name": _title_case(name if hero.name else hero.ref),
            "hero_desc": hero.desc or "someone very special", "hero_intro": hero.named_intro(),
            "place": plan.place.place, "spot": plan.place.spot, "a_place": plan.place.a_place,
            "in_place": plan.place.in_place, "in_a_place": plan.place.in_a_place,
            "summit": plan.family["summit"][0],
            "at_summit": f"{plan.family['summit'][1]} {plan.family['summit'][0]}",
            "to_summit": f"{plan.family['summit'][2]} {plan.family['summit'][0]}",
            "snack": str(plan.family["snack"]), "baby": plan.baby,
            "lesson": str(plan.problem["lesson"]),
        }
        friend = plan.friends[0]
        f_forms = _PRONOUNS[friend.pronoun]
        self.base.update({"F": friend.ref, "Fname": friend.name or friend.ref, "fhe": f_forms[0], "fhim": f_forms[1],
                          "fhis": f_forms[2], "fwas": f_forms[4], "Fs": _possessive(friend.ref),
                          "companion": friend.intro(), "Companion": friend.name or friend.ref})
        guest = plan.guest
        if guest is not None:
            g_forms = _PRONOUNS[guest.pronoun]
            self.base.update({"N": guest.ref, "nhe": g_forms[0], "nhim": g_forms[1], "nhis": g_forms[2],
                              "Ns": _possessive(guest.ref), "N_intro": guest.named_intro(), "N_desc": guest.desc})
        self.base["goal"] = self.fill(str(plan.problem["goal"]), "goal")
        self.base["stakes_short"] = self.fill(str(plan.problem["stakes_short"]), "stakes_short")
        self.set_group(joined=True)

    def set_group(self, joined: bool) -> None:
        """The group {W}: the hero with the friends (once the companion has joined), or the hero alone."""
        plan, base = self.plan, self.base
        members = plan.friends if (joined or not plan.companion) else []
        if not members:
            forms = self.hero_forms
            base.update({"W": base["H"], "Wo": base["H"] if plan.pov not in ("FIRST_PERSON",) else forms[1],
                         "we": forms[0], "us": forms[1], "our": forms[2], "ourselves": forms[3], "were": forms[4]})
            return
        names = [f.ref for f in members] if len(members) <= 2 else [f"{base['his']} friends"]
        if plan.pov == "FIRST_PERSON":
            forms = _PRONOUNS["we"]
            group, obj = _join(names) + " and I", _join(names) + " and me"
        elif base["H"] == "you":
            forms = _PRONOUNS["you all"]
            group = obj = "you and " + _join(names)
        else:
            forms = _PRONOUNS["they"]
            group = obj = _join([base["H"], *names])
        base.update({"W": group, "Wo": obj, "we": forms[0], "us": forms[1], "our": forms[2],
                     "ourselves": forms[3], "were": "were"})

    # Templates -------------------------------------------------------------------------------------------

    def allowed(self, template: str) -> bool:
        if template.startswith("L:") and not self.plan.little:
            return False
        if template.startswith("R:") and self.plan.little:
            return False
        if self.plan.rating == "G" and _SCARY.search(template):
            return False
        return True

    def fill(self, template: str, salt: str, extra: Mapping[str, str] | None = None) -> str:
        """The template with its alternatives picked, its details kept or dropped, its placeholders filled."""
        if not self.allowed(template):
            return ""
        text = template[2:] if template[:2] in ("L:", "R:") else template
        detail = self.plan.detail

        def bracket(match: re.Match[str]) -> str:
            if detail >= 2:
                return match.group(1)
            if detail == 1 and _digest(self.plan.seed, salt, match.group(1)) % 3 == 0:
                return match.group(1)
            return ""

        text = _BRACKETS.sub(bracket, text)
        text = _ALTERNATIVES.sub(
            lambda m: m.group(1).split("|")[_digest(self.plan.seed, salt, m.group(1)) % len(m.group(1).split("|"))],
            text)
        values = dict(self.base)
        if extra:
            values.update(extra)
        for _ in range(3):
            if "{" not in text:
                break
            text = _PLACEHOLDER.sub(lambda m: self._value(m.group(1), values), text)
        return text

    @staticmethod
    def _value(key: str, values: Mapping[str, str]) -> str:
        if key in values:
            return values[key]
        lower = key[:1].lower() + key[1:]
        if key[:1].isupper() and lower in values:
            return _cap(values[lower])
        raise KeyError(f"story template placeholder {{{key}}} has no value")

    def choose(self, pool: Sequence[str], salt: str, extra: Mapping[str, str] | None = None,
               fresh: bool = True, strict: bool = True) -> str:
        """One template of `pool`, filled. With `fresh`, one not used before in this story: when all have been,
        nothing ("") if `strict` (asides, rhymes, facts), else any of them again (the frames of a scene)."""
        allowed = [t for t in pool if self.allowed(t)]
        if not allowed:
            return ""
        start = _digest(self.plan.seed, salt) % len(allowed)
        ordered = allowed[start:] + allowed[:start]
        if fresh:
            unused = [t for t in ordered if t not in self.used]
            if not unused and strict:
                return ""
            ordered = unused or ordered
        template = ordered[0]
        self.used.add(template)
        return self.fill(template, salt, extra)


# --- writing the beats ---------------------------------------------------------------------------------

@dataclasses.dataclass
class _Part:
    """What one beat writes: paragraphs (lists of sentences), the optional ones last."""

    core: list[list[str]]
    optional: list[list[str]]
    title: str
    mood: str
    summary: str
    picture: str          # doing what, for the illustration
    where: str            # where, for the illustration
    people: list[_Person]


_THIRD_PERSON_VERBS = {"finds": "find", "wakes": "wake", "gets": "get", "sees": "see", "meets": "meet",
                       "wants": "want", "learns": "learn", "goes": "go", "tries": "try", "has": "have", "is": "are",
                       "lives": "live", "sets": "set", "gives": "give", "must": "must"}


def _agree(text: str, plan: _Plan) -> str:
    """Present-tense summaries written for "Pip finds": "you find", "the dragons find"."""
    hero = plan.hero
    if not (hero.listener or hero.plural):
        return text
    subject = "you" if hero.listener else re.escape(hero.ref)
    return re.sub(rf"\b({subject}) ({'|'.join(_THIRD_PERSON_VERBS)})\b",
                  lambda m: f"{m.group(1)} {_THIRD_PERSON_VERBS[m.group(2)]}", text, flags=re.IGNORECASE)


class _Writer:
    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.voice = _Voice(plan)
        self.titles: set[str] = set()

    # helpers ---------------------------------------------------------------------------------------------

    def p(self, key: str) -> Any:
        return self.plan.problem[key]

    def fill(self, template: str, salt: str, **extra: str) -> str:
        return self.voice.fill(template, salt, extra)

    def fill_all(self, templates: Sequence[str], salt: str, **extra: str) -> list[str]:
        return [s for s in (self.fill(t, f"{salt}.{i}", **extra) for i, t in enumerate(templates)) if s]

    def subject(self) -> tuple[str, bool]:
        """The hero and friends as the outline (third person, present tense) names them; always plural."""
        hero = self.plan.hero
        name = "you" if hero.listener else (hero.name or hero.ref)
        friends = [f.ref for f in self.plan.friends]
        if len(friends) > 2:
            return f"{name} and {'your' if hero.listener else _PRONOUNS[hero.pronoun][2]} friends", True
        return _join([name, *friends]), True

    def hero_subject(self) -> tuple[str, bool]:
        hero = self.plan.hero
        if hero.listener:
            return "you", True
        return hero.name or hero.ref, hero.plural

    def extras(self, kind: str, index: int) -> list[str]:
        """Style, persona, tone and point-of-view sentences a beat adds to one of its paragraphs."""
        plan, req, voice = self.plan, self.plan.req, self.voice
        out = []
        salt = f"extra.{kind}.{index}"
        if kind in ("attempt", "interlude", "problem", "climax") and (
                req.tone == "FUNNY" or req.writing_style == "HUMOROUS" or req.persona == "HUMORIST"):
            out.append(voice.choose(S.ASIDES, salt + ".aside"))
        if kind in ("attempt",) and (req.tone == "EDUCATIONAL" or req.persona == "EDUCATOR"):
            out.append(self.fact(salt))
        if kind in ("attempt", "interlude", "low") and plan.pov == "THIRD_PERSON_OMNISCIENT":
            out.append(voice.choose(S.OMNISCIENT, salt + ".omni", {"the_helper": self.helper(index)[1]}))
        if kind in ("attempt", "problem") and req.writing_style == "CASUAL":
            out.append(voice.choose(S.CASUAL_ASIDES, salt + ".casual"))
        flavor = S.PERSONA_FLAVOR.get(req.persona)
        if flavor and kind in ("attempt", "interlude"):
            out.append(voice.choose(flavor, salt + ".persona"))
        if plan.detail >= 3 and kind in ("problem", "attempt", "interlude", "low", "climax"):
            out.append(voice.choose(S.REFLECTIONS, salt + ".reflect"))
        return [s for s in out if s]

    def fact(self, salt: str) -> str:
        """A true fact about the setting, each told at most once."""
        facts = [f"Did you know that {fact}?" for fact in self.plan.family["facts"]]
        return self.voice.choose(facts, salt + ".fact")

    def couplet(self, beat: str, index: int) -> list[str]:
        req = self.plan.req
        if req.writing_style != "POETIC" and req.persona != "POET":
            return []
        text = self.voice.choose(S.COUPLETS[beat], f"couplet.{beat}.{index}")
        return [text] if text else []

    def scenery(self, salt: str, count: int) -> list[str]:
        family = self.plan.family
        pool = list(family["sights"]) + list(family["sounds"])
        out = []
        for i in range(count):
            sentence = self.voice.choose(pool, f"{salt}.scenery.{i}")
            if sentence:
                out.append(sentence)
        return out

    def station(self, index: int) -> tuple[str, str]:
        return self.plan.stations[index % len(self.plan.stations)]

    def helper(self, index: int) -> tuple[str, str, str]:
        return self.plan.helpers[index % len(self.plan.helpers)]

    # the beats -------------------------------------------------------------------------------------------

    def intro(self) -> _Part:
        plan, voice = self.plan, self.voice
        voice.set_group(joined=False)
        hero = plan.hero
        pov = "FIRST_PERSON" if plan.pov == "FIRST_PERSON" else "SECOND_PERSON" if voice.base["H"] == "you" \
            else "THIRD"
        if plan.little:
            pool = {"FIRST_PERSON": S.INTRO_LITTLE_FIRST if hero.name else S.INTRO_FIRST_UNNAMED,
                    "SECOND_PERSON": S.INTRO_LITTLE_SECOND if hero.name else S.INTRO_SECOND_UNNAMED,
                    "THIRD": S.INTRO_LITTLE_THIRD if hero.name else S.INTRO_LITTLE_THIRD_UNNAMED}[pov]
        else:
            pool = {"FIRST_PERSON": S.INTRO_FIRST if hero.name else S.INTRO_FIRST_UNNAMED,
                    "SECOND_PERSON": S.INTRO_SECOND if hero.name else S.INTRO_SECOND_UNNAMED,
                    "THIRD": S.OPENINGS.get(plan.req.persona, S.OPENINGS["CHILDRENS_BOOK_AUTHOR"])}[pov]
        first = []
        frame = S.PERSONAL_FRAMES.get(plan.req.persona) if pov != "THIRD" else None
        if frame:
            first.append(frame)
            pool = pool[:1]
        if hero.listener:
            pool = S.INTRO_LISTENER
        first.append(voice.choose(pool, "intro.open", fresh=False))
        friends = [] if plan.companion else plan.friends
        second = []
        if len(friends) == 1:
            pool = S.FRIEND_ONE_PERSONAL if pov == "FIRST_PERSON" else S.FRIEND_ONE_THIRD
            second.append(voice.choose(pool, "intro.friend", {"friend": friends[0].intro()}, fresh=False))
        elif friends:
            count = _NUMBER_WORDS.get(len(friends), str(len(friends)))
            head = S.FRIENDS_THIRD_HEAD if pov == "THIRD" else (
                S.FRIENDS_PERSONAL_HEAD if pov == "FIRST_PERSON" else S.FRIENDS_SECOND_HEAD)
            second.append(self.fill(head, "intro.friends", count=count))
            for i, friend in enumerate(friends):
                template = S.FRIEND_LINE[1] if i == len(friends) - 1 else S.FRIEND_LINE[0]
                be = ("are" if friend.plural else "is") if pov == "FIRST_PERSON" else (
                    "were" if friend.plural else "was")
                second.append(self.fill(template, f"intro.friend.{i}", friend=friend.intro(), be=be))
        routine = self.fill(str(self.p("routine")), "intro.routine")
        if pov != "FIRST_PERSON" or not second:
            second.append(routine)
        optional = []
        scenery = self.scenery("intro", {0: 0, 1: 1, 2: 2, 3: 2}[plan.detail])
        if plan.req.persona == "EDUCATOR" or plan.req.tone == "EDUCATIONAL":
            scenery.append(self.fact("intro"))
        if scenery:
            optional.append(scenery)
        core = [[s for s in first if s], self.couplet("intro", 0), [s for s in second if s]]
        if routine not in second:
            core.append([routine])
        voice.set_group(joined=True)
        cast = _join(["you, the hero" if hero.listener else hero.label(), *[p.label() for p in friends]])
        summary = f"Meet {cast}, {plan.place.in_a_place}."
        mood = "cozy" if plan.req.persona == "BEDTIME_STORYTELLER" else S.INTRO_MOOD.get(plan.req.tone, "bright")
        if hero.listener:
            title = "A Story About You"
        elif plan.little or pov != "THIRD":
            title = "Meet " + voice.base["Name"]
        else:
            title = f"{voice.base['Name']} of {_title_case(plan.place.spot)}"
        pictures = self.p("pictures")
        return _Part(core, optional, title, mood, _cap(summary), self.fill(pictures[0], "pic"),
                     plan.place.in_place, [hero, *friends])

    def problem(self) -> _Part:
        plan, voice = self.plan, self.voice
        voice.set_group(joined=False)
        first = self.fill_all(self.p("discover"), "problem.discover")
        second = []
        voice.set_group(joined=True)
        if plan.companion:
            second.append(voice.choose(S.COMPANION_JOINS, "problem.companion", fresh=False))
        stakes = self.p("stakes")[plan.rating]
        second.extend(self.fill_all(stakes, "problem.stakes"))
        third = [voice.choose(S.TO_THE_RESCUE, "problem.rescue", strict=False),
                 voice.choose(S.SET_OFF, "problem.setoff", strict=False)]
        first.extend(self.extras("problem", 0))
        core = [first, second, self.couplet("problem", 0), [s for s in third if s]]
        optional: list[list[str]] = []
        summary = _cap(self.fill(str(self.p("premise")), "problem.premise").rstrip(".")) + ". "
        if plan.companion:
            summary += f"{plan.friends[0].label()} comes along to help."
        else:
            summary += _cap(self.subject()[0]) + " set off together."
        mood = S.PROBLEM_MOOD.get(plan.req.tone, "curious")
        if plan.rating == "PG_13" and plan.req.tone in ("SUSPENSEFUL", "ADVENTUROUS", "MYSTERIOUS"):
            mood = "tense"
        if plan.rating == "G" and mood == "tense":
            mood = "curious"
        title = self.fill(self.p("titles")[0], "problem.title")
        people = [plan.hero] + (plan.friends if plan.companion else [])
        if plan.guest is not None and plan.guest not in people:
            people.append(plan.guest)
        return _Part(core, [o for o in optional if o], title, mood, summary,
                     self.fill(self.p("pictures")[1], "pic"), plan.place.in_place, people)

    def attempt(self, beat: _Beat) -> _Part:
        plan, voice = self.plan, self.voice
        k = beat.index
        noun, prep = self.station(k)
        helper = self.helper(k)
        speaker_pronoun = "she" if k % 2 == 0 else "he"
        extra = {"station": noun, "at_station": f"{prep} {noun}", "helper": helper[0], "the_helper": helper[1],
                 "speaker": helper[2], "Ord": S.ORDINALS[beat.ordinal % len(S.ORDINALS)],
                 "xhe": speaker_pronoun}
        method_summary, method = self.p("methods")[k % 4]
        hint = str(self.p("hints")[k % 4])
        first = [voice.choose(S.ARRIVE, f"attempt.{k}.arrive", extra, strict=False)]
        if plan.detail >= 1:
            first.extend(self.scenery(f"attempt.{k}", 1))
        second = [voice.choose(S.MEET, f"attempt.{k}.meet", extra, strict=False),
                  *self.fill_all(method, f"attempt.{k}.method", **extra)]
        third = [voice.choose(S.HINT, f"attempt.{k}.hint", {**extra, "hint": self.fill(hint, "hint", **extra)},
                              strict=False),
                 voice.choose(S.THANKS, f"attempt.{k}.thanks", extra, strict=False)]
        second.extend(self.extras("attempt", k))
        core = [[s for s in first if s], [s for s in second if s], self.couplet("attempt", k),
                [s for s in third if s]]
        optional: list[list[str]] = []
        mood = "hopeful" if k % 2 == 0 else ("mysterious" if plan.req.tone == "MYSTERIOUS" else "curious")
        title_pool = S.ATTEMPT_TITLES
        names = {"Station": _title_case(noun), "At_station": _title_case(f"{prep} {noun}"),
                 "Helper_title": _title_case(helper[1])}
        title = voice.choose(title_pool, f"attempt.{k}.title", names, strict=False)
        subject, _ = self.subject()
        summary = _cap(self.fill(f"{subject} go to {{station}} and try {method_summary}; {{helper}} has a helpful "
                                 f"idea.", f"attempt.{k}.summary", **extra))
        if beat.peril:
            peril = self.peril(extra)
            core.insert(3, peril)
            mood = "tense"
            summary += " " + self.peril_summary()
        picture = self.fill(f"{method_summary}, with {helper[0]} nearby", "pic", **extra)
        return _Part(core, [o for o in optional if o], title, mood, summary, picture,
                     f"{prep} {noun} {plan.place.in_place}", [plan.hero, *plan.friends])

    def peril(self, extra: Mapping[str, str]) -> list[str]:
        plan = self.plan
        family = plan.family
        if plan.rating == "PG_13":
            lines = self.fill_all([*family["stakes"], *family["stakes_end"]],
                                  "peril.stakes", **extra)
            lines.append(self.fill("{W} {were} shaken, and {H} knew how close it had been.", "peril.after", **extra))
            return lines
        return self.fill_all([*family["peril"], *family["peril_end"]], "peril", **extra)

    def peril_summary(self) -> str:
        return "Along the way, trouble strikes, and real danger has to be faced." if self.plan.rating == "PG_13" \
            else "Along the way, a wild moment gives everyone a fright, but they come through it together."

    def interlude(self, beat: _Beat) -> _Part:
        plan = self.plan
        j = beat.index
        start = _digest(plan.seed, "interludes") % len(S.INTERLUDES)
        title, action, picture, templates = S.INTERLUDES[(start + j) % len(S.INTERLUDES)]
        noun, prep = self.station(j + 4)
        helper = self.helper(j + 4)
        extra = {"station": noun, "at_station": f"{prep} {noun}", "helper": helper[0], "the_helper": helper[1],
                 "speaker": helper[2], "Ord": S.ORDINALS[beat.ordinal % len(S.ORDINALS)]}
        lines = self.fill_all(templates, f"interlude.{j}", **extra)
        core = [lines[:2] + self.extras("interlude", j), self.couplet("attempt", j + 4), lines[2:]]
        optional = [self.scenery(f"interlude.{j}", 1 if plan.detail >= 1 else 0)]
        subject, _ = self.subject()
        summary = _cap(f"On the way, {subject} {action} {prep} {noun}.")
        mood = {"A Little Rest": "cozy", "A Walking Song": "joyful", "The Stepping Stones": "bright",
                "Oops!": "joyful"}.get(title, "bright")
        return _Part([c for c in core if c], [o for o in optional if o], title, mood, summary,
                     picture, f"{prep} {noun} {plan.place.in_place}", [plan.hero, *plan.friends])

    def low(self) -> _Part:
        plan, voice = self.plan, self.voice
        lines = self.fill_all(S.LOW[plan.rating], "low")
        core = [lines[:2], self.couplet("low", 0), lines[2:] + self.extras("low", 0)]
        optional: list[list[str]] = []
        title = voice.choose(S.LOW_TITLES, "low.title", fresh=False)
        subject, _ = self.hero_subject()
        summary = _cap(f"Tired and far from home, {subject} almost {'give' if subject == 'you' else 'gives'} up, "
                       f"but {plan.friends[0].ref} will not let {'you' if subject == 'you' else 'them'} quit.")
        mood = "tense" if plan.rating == "PG_13" else "calm"
        return _Part(core, [o for o in optional if o], title, mood, summary,
                     "resting, tired, as the sun sinks low, with a friend close by", plan.place.in_place,
                     [plan.hero, *plan.friends])

    def climax(self, attempts: int) -> _Part:
        plan, voice = self.plan, self.voice
        pool = list(S.IDEA) if attempts else [t for t in S.IDEA if "{the_first_helper}" not in t]
        idea = voice.choose(pool, "climax.idea", {"the_first_helper": self.helper(0)[1]}, fresh=False)
        climax = self.fill_all(self.p("climax"), "climax")
        first = [idea]
        second = list(climax)
        if plan.problem_key not in _NO_TEAMWORK:
            members = [plan.hero, *plan.friends[:2]]
            team = []
            for person in members:
                if person is plan.hero:
                    ref, possessive = voice.base["H"], voice.base["his"]
                else:
                    ref, possessive = person.ref, _PRONOUNS[person.pronoun][2]
                team.append(f"{_cap(ref)} {_ability(person, possessive)}.")
            first.append("Everyone had a part to play.")
            first.extend(team)
        third = [self.fill(str(self.p("solved")), "climax.solved")]
        first.extend(self.extras("climax", 0))
        optional: list[list[str]] = []
        title = self.fill(self.p("titles")[1], "climax.title")
        subject, _ = self.hero_subject()
        summary = _cap(f"{subject} {'have' if subject == 'you' else 'has'} an idea, and "
                       f"{self.fill(str(self.p('solved_summary')), 'summary')}.")
        mood = {"CALM": "calm", "MYSTERIOUS": "mysterious"}.get(plan.req.tone, "bright")
        summit, at, _ = plan.family["summit"]
        people = [plan.hero, *plan.friends] + ([plan.guest] if plan.guest and plan.guest not in plan.friends else [])
        return _Part([first, second, self.couplet("climax", 0), third], optional, title, mood, summary,
                     self.fill(self.p("pictures")[2], "pic"), f"{at} {summit} {plan.place.in_place}", people)

    def ending(self) -> _Part:
        plan, voice = self.plan, self.voice
        ending = plan.req.ending_preference
        first: list[str] = []
        second: list[str] = []
        calm = plan.req.tone == "CALM" or plan.req.persona == "BEDTIME_STORYTELLER"
        if ending == "HAPPY":
            first = self.fill_all(self.p("happy"), "end.happy")
            second.append(voice.choose(S.HAPPY_CALM if calm else S.HAPPY, "end.generic", fresh=False))
        elif ending == "BITTERSWEET":
            first = self.fill_all(self.p("bitter"), "end.bitter")
            second.append(voice.choose(S.BITTERSWEET, "end.generic", fresh=False))
        elif ending == "TWIST":
            first = self.fill_all(self.p("twist"), "end.twist")
            second.append(voice.choose(S.TWIST, "end.generic", fresh=False))
        elif ending == "MORAL":
            first = self.fill_all(self.p("happy"), "end.happy")
            second.append(voice.choose(S.MORAL, "end.generic", fresh=False))
        else:  # OPEN
            first = self.fill_all(self.p("hook"), "end.hook")
            second.append(voice.choose(S.OPEN, "end.generic", fresh=False))
        closing = self.closing()
        couplet = self.couplet("ending", 0) if ending in ("HAPPY", "MORAL") else []
        optional: list[list[str]] = []
        summary = self.fill(S.ENDING_SUMMARY[ending], "end.summary",
                            bitter_summary=self.fill(str(self.p("bitter_summary")), "s"),
                            hook_summary=self.fill(str(self.p("hook_summary")), "s"),
                            twist_summary=self.fill(str(self.p("twist_summary")), "s"),
                            learns="learn" if plan.hero.listener or plan.hero.plural else "learns")
        title = {"OPEN": "What Happens Next?", "TWIST": "A Surprise at the End"}.get(
            ending, self.fill(self.p("titles")[2], "end.title"))
        mood = S.ENDING_MOOD[ending]
        if ending == "HAPPY" and calm:
            mood = "cozy"
        people = [plan.hero, *plan.friends] + ([plan.guest] if plan.guest and plan.guest not in plan.friends else [])
        core = [first, second + [closing]] if not couplet else [first, second, couplet, [closing]]
        return _Part(core, optional, title, mood, _cap(summary),
                     self.fill(self.p("pictures")[3], "pic"), plan.place.in_place, people)

    def closing(self) -> str:
        plan = self.plan
        ending = plan.req.ending_preference
        if ending == "OPEN":
            return plan.pick("closing.open", S.OPEN_CLOSINGS)
        persona = plan.req.persona
        closing = plan.pick("closing", S.CLOSINGS.get(persona, S.CLOSINGS["CHILDRENS_BOOK_AUTHOR"]))
        if "happily ever after" in closing and ending == "BITTERSWEET":
            return S.NOT_EVER_AFTER
        return closing


# Plots whose big moment is quiet or personal: no "everyone helped" roll call.
_NO_TEAMWORK = frozenset({"moving", "seed", "raindrop"})
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


# --- assembling scenes -----------------------------------------------------------------------------------

_SPLIT_AND = re.compile(r"(?<=[a-z]), (and then|and|but|so) (?=[a-zI])")
_CLAUSE_START = re.compile(r"(?:the|a|an|he|she|they|it|I|we|you|his|her|their|its|my|our|your|everyone|nobody|"
                           r"there|then|all|soon|down|up|off)\b")
_ASIDE_CLAUSE = re.compile(r", (?:when|while|as|because|although|where|the way|very, very) [^,.!?\"]+,")
_TAIL = re.compile(r", (?:right|just|as if|as hard|the way|like|with|where|ready|all together|building|munching|"
                   r"looking|watching|holding|stopping|talking|hanging|a little bigger|one by one|no bigger|"
                   r"all the way|shining|brighter)\b[^.!?\"]*(?=[.!?])")


def _little(text: str) -> str:
    """Preschool sentence shapes, outside dialogue: "X did this, and the Y did that." becomes two sentences,
    a clause tucked between commas (", when the sky turned pink,") and a trailing detail (", right where it
    should be twinkling") are left out."""
    parts = re.split(r'("[^"]*")', text)
    for index in range(0, len(parts), 2):
        part = _ASIDE_CLAUSE.sub(",", parts[index])
        part = _TAIL.sub("", part)

        def split(match: re.Match[str], part: str = part) -> str:
            before = part[:match.start()]
            start = max(before.rfind(". "), before.rfind("! "), before.rfind("? "))
            current = before[start + 1:]
            after = re.split(r"[,.!?\"]", part[match.end():], maxsplit=1)[0]
            clause = bool(_CLAUSE_START.match(part[match.end():]))
            if len(current.split()) < 3 or len(after.split()) < 3 or ("," in current and not clause):
                return match.group(0)
            word = match.group(1)
            return ". " + {"but": "But ", "so": "So ", "and then": "Then "}.get(word, "")

        parts[index] = _SPLIT_AND.sub(split, part)
    return "".join(parts)


def _pronominalize(sentences_: Sequence[str], voice: _Voice | None) -> list[str]:
    """Within a paragraph, a sentence that starts with the same group (or hero) as the sentence before it
    names them by pronoun: "Pip and Ember went... They met..." rather than "Pip and Ember met...". """
    if voice is None:
        return list(sentences_)
    base = voice.base
    group, group_pronoun = base["W"], base["we"]
    hero, hero_pronoun = base["H"], base["he"]
    use_hero = hero not in ("I", "you", "we") and hero_pronoun in ("he", "she", "it")
    out: list[str] = []
    for sentence in sentences_:
        previous = out[-1] if out else ""
        if group != hero and previous and sentence.startswith(group + " ") and group in previous \
                and not previous.startswith('"'):
            sentence = _cap(group_pronoun) + sentence[len(group):]
        elif use_hero and previous.startswith(hero + " ") and sentence.startswith(hero + " ") \
                and not previous.startswith(group + " "):
            sentence = _cap(hero_pronoun) + sentence[len(hero):]
        out.append(sentence)
    return out


def _finish_text(sentences_: Sequence[str], plan: _Plan, voice: _Voice | None = None) -> str:
    sentences_ = _pronominalize([s.strip() for s in sentences_ if s and s.strip()], voice)
    text = " ".join(sentences_)
    text = re.sub(r"[ \t]+", " ", text).strip()
    text = re.sub(r" ?\n ?", "\n", text)
    text = _DIALOGUE_COMMA.sub(r',\1', text)
    text = re.sub(r"\b([Aa]) ([aeiouAEIOU])(?!ni|se|su|ne|nce)", lambda m: m.group(1) + "n " + m.group(2), text)
    text = re.sub(r"\b([Aa])n ([b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z])(?!our|onest)", lambda m: m.group(1) + " " + m.group(2),
                  text)
    if plan.little:
        text = _little(text)
    style = plan.req.writing_style
    if style == "FORMAL":
        for short, full in _CONTRACTIONS:
            text = re.sub(rf"\b{short}\b", full, text)
            text = re.sub(rf"\b{_cap(short)}\b", _cap(full), text)
    elif style == "CASUAL":
        for short, full in _CONTRACTIONS:
            text = re.sub(rf"\b{full}\b", short, text)
            text = re.sub(rf"\b{_cap(full)}\b", _cap(short), text)
    return _capitalize_sentences(text)


_DIALOGUE_COMMA = re.compile(r"\.(\"\s+(?:[\w']+\s+){0,3}?(?:said|asked|whispered|called|told|cried|shouted|"
                             r"squeaked|sighed|explained|added)\b)")
_CONTRACTIONS = (("don't", "do not"), ("didn't", "did not"), ("couldn't", "could not"), ("wasn't", "was not"),
                 ("can't", "cannot"), ("won't", "will not"), ("isn't", "is not"), ("wouldn't", "would not"),
                 ("let's", "let us"), ("it's", "it is"), ("I'm", "I am"), ("you're", "you are"),
                 ("that's", "that is"), ("weren't", "were not"), ("aren't", "are not"))


def _capitalize_sentences(text: str) -> str:
    text = re.sub(r"(^|[.!?]\s+|\n)([\"']?)([a-z])", lambda m: m.group(1) + m.group(2) + m.group(3).upper(), text)
    return text


def _arrange(paragraphs_: list[list[str]], optional: list[list[str]], target: int) -> list[list[str]]:
    """2 to 4 paragraphs: the core ones, then optional ones up to `target`, merging or splitting to fit."""
    result = [[s for s in p if s] for p in paragraphs_]
    result = [p for p in result if p]
    for extra in optional:
        extra = [s for s in extra if s]
        if len(result) >= target:
            break
        if extra:
            result.append(extra)
    while len(result) > 4:
        # Merge the two shortest neighbours.
        sizes = [sum(len(s.split()) for s in result[i]) + sum(len(s.split()) for s in result[i + 1])
                 for i in range(len(result) - 1)]
        i = sizes.index(min(sizes))
        if any("\n" in s for s in result[i] + result[i + 1]):  # keep rhymes on their own
            i = next((j for j in range(len(result) - 1)
                      if not any("\n" in s for s in result[j] + result[j + 1])), i)
        result[i:i + 2] = [result[i] + result[i + 1]]
    while len(result) < 2:
        longest = max(range(len(result)), key=lambda i: len(result[i]))
        if len(result[longest]) < 2:
            break
        half = len(result[longest]) // 2
        result[longest:longest + 1] = [result[longest][:half], result[longest][half:]]
    return result


def _target_paragraphs(plan: _Plan) -> int:
    base = {"PRESCHOOL": 2, "EARLY_READERS": 3, "MIDDLE_GRADE": 3}.get(plan.req.audience_age_group, 4)
    base += {"SHORT": -1, "LONG": 1}.get(plan.req.length, 0)
    return max(2, min(4, base))


_LIGHT = {"tense": "under a wild, windy sky", "calm": "in soft evening light", "cozy": "in warm golden light",
          "joyful": "in bright sunshine", "mysterious": "in silvery moonlight", "curious": "in clear morning light",
          "hopeful": "in gentle morning light", "bright": "in bright, sparkling light"}


def _illustration(parts: Sequence[_Part], plan: _Plan, mood: str) -> str:
    main = parts[-1]
    people: list[_Person] = []
    for part in parts:
        for person in part.people:
            if person not in people:
                people.append(person)
    who = _join([p.label() for p in people[:4]])
    where = f", {main.where}" if "," in main.picture else f" {main.where}"
    text = f"{_cap(who)} {main.picture}{where}"
    if not re.search(r"\b(?:night|evening|sunset|moon|moonlight|morning|sunshine|rain|sky)\b", main.picture):
        text += f", {plan.problem.get('light') or _LIGHT.get(mood, 'in bright light')}"
    if plan.req.illustration_style:
        style = _clean_user_text(plan.req.illustration_style, 60)
        if style and not unsafe(style):
            text += f", in a {style} style" if not style.lower().endswith("style") else f", in a {style}"
    return _clean_user_text(text, 400).rstrip(".") + "."


@dataclasses.dataclass(frozen=True)
class _Story:
    title: str
    premise: str
    outline: tuple[OutlineScene, ...]
    scenes: tuple[SceneText, ...]


@functools.lru_cache(maxsize=128)
def write(requirements: StoryRequirements, scene_count: int) -> _Story:
    """The whole story for these requirements, in `scene_count` scenes (cached: it is deterministic)."""
    check_scene_count(scene_count)
    plan = _plan(requirements)
    writer = _Writer(plan)
    beats = _beats(scene_count, plan.rating)
    attempts = sum(1 for scene in beats for b in scene if b.kind == "attempt")
    target = _target_paragraphs(plan)
    scenes: list[SceneText] = []
    outline: list[OutlineScene] = []
    for number, scene_beats in enumerate(beats):
        parts = []
        for beat in scene_beats:
            if beat.kind == "intro":
                parts.append(writer.intro())
            elif beat.kind == "problem":
                parts.append(writer.problem())
            elif beat.kind == "attempt":
                parts.append(writer.attempt(beat))
            elif beat.kind == "interlude":
                parts.append(writer.interlude(beat))
            elif beat.kind == "low":
                parts.append(writer.low())
            elif beat.kind == "climax":
                parts.append(writer.climax(attempts))
            else:
                parts.append(writer.ending())
        if len(parts) == 1:
            arranged = _arrange(parts[0].core, parts[0].optional, target)
        else:
            # Several beats share the scene: each keeps its core, merged down to at most 4 paragraphs.
            core = [paragraph for part in parts for paragraph in part.core]
            arranged = _arrange(core, [], target)
        text = "\n\n".join(_finish_text(p, plan, writer.voice) for p in arranged)
        mood = parts[-1].mood
        title = _title_case(_pick_title(parts, writer, scene_count, plan))
        writer.titles.add(title)
        scenes.append(SceneText(title=title, text=text, mood=mood if mood in MOODS else "bright",
                                illustration_prompt=_illustration(parts, plan, mood)))
        outline.append(OutlineScene(title=title, summary=" ".join(
            _agree(_finish_text([p.summary], plan), plan) for p in parts)))
    return _Story(title=story_title(requirements), premise=premise_text(requirements), outline=tuple(outline),
                  scenes=tuple(scenes))


def _pick_title(parts: Sequence[_Part], writer: _Writer, scene_count: int, plan: _Plan) -> str:
    if scene_count == 1:
        return story_title(plan.req)
    ranked = sorted(parts, key=lambda p: 0 if p in parts[-1:] else 1)
    for part in ranked:
        if _title_case(part.title) not in writer.titles:
            return part.title
    for fallback in ("Onward", "Further Along", "The Next Step", "Not Far Now", "On and On"):
        if fallback not in writer.titles:
            return fallback
    return f"Part {len(writer.titles) + 1}"


def story_title(requirements: StoryRequirements) -> str:
    plan = _plan(requirements)
    given = _clean_user_text(plan.req.title, 100)
    if given and not unsafe(given):
        return given
    voice = _Voice(plan)
    return _title_case(voice.fill(str(plan.problem["title"]), "title"))


def premise_text(requirements: StoryRequirements) -> str:
    plan = _plan(requirements)
    writer = _Writer(plan)
    voice = writer.voice
    hero = plan.hero
    if hero.listener:
        who, lives = "You, the hero,", "live"
    else:
        who, lives = (hero.intro() if hero.name else _cap(hero.ref)), ("live" if hero.plural else "lives")
        if hero.name and (hero.desc or hero.clause):
            who += ","
    first = f"{who} {lives} {plan.place.in_a_place}."
    second = _cap(voice.fill(str(plan.problem["premise"]), "premise").rstrip(".")) + "."
    if plan.companion:
        helpers, helps = f"a new friend, {plan.friends[0].label()},", "helps"
    else:
        helpers = _join([f.label() for f in plan.friends])
        helps = "help" if len(plan.friends) > 1 or plan.friends[0].plural else "helps"
    third = f"Along the way, {helpers} {helps} out, and so do the folk they meet."
    parts = [first, second, third]
    plots = _clean_user_text(plan.req.plot_elements, 300)
    if plots and not unsafe(plots):
        parts.append("Along the way: " + plots.rstrip(".") + ".")
    tone = D.TONE_ADJECTIVES.get(plan.req.tone, "")
    audience = D.AUDIENCE_PHRASES.get(plan.req.audience_age_group, "")
    pov = {"FIRST_PERSON": "told in the first person", "SECOND_PERSON": "told to you, as the hero",
           "THIRD_PERSON_OMNISCIENT": "told by a narrator who sees into every heart"}.get(plan.pov, "")
    ending = D.ENDING_PHRASES.get(plan.req.ending_preference, "a happy ending")
    meta = f"{_cap(_article(tone or 'story'))} {tone + ' ' if tone else ''}story for {audience}"
    meta += f", {pov}," if pov else ","
    meta += f" with {ending}."
    parts.append(meta)
    return _agree(_finish_text(parts, dataclasses.replace(plan, little=False)), plan)


# --- the step-by-step API and splitting ------------------------------------------------------------------

def _normal(text: str) -> str:
    return " ".join(text.split())


def follows_outline(requirements: StoryRequirements, outline: Sequence[OutlineScene]) -> bool:
    """Whether `outline` is the one this writer makes for these requirements."""
    if not 1 <= len(outline) <= 12:
        return False
    ours = write(requirements, len(outline)).outline
    return all(_normal(a.title) == _normal(b.title) and _normal(a.summary) == _normal(b.summary)
               for a, b in zip(ours, outline, strict=True))


def scenes_for(requirements: StoryRequirements, outline: Sequence[OutlineScene]) -> list[SceneText]:
    """The scenes of a story that follows `outline`: ours when the outline is ours, else written around it."""
    if not outline:
        raise ValueError("the outline has no scenes")
    if follows_outline(requirements, outline):
        return list(write(requirements, len(outline)).scenes)
    return _around_outline(requirements, tuple(outline))


@functools.lru_cache(maxsize=64)
def _around_outline(requirements: StoryRequirements, outline: tuple[OutlineScene, ...]) -> list[SceneText]:
    """Scenes for an outline written elsewhere (edited by a user, or another writer's): each scene tells its
    summary, framed by the grammar's opening, middle and ending for the same requirements."""
    plan = _plan(requirements)
    count = len(outline)
    writer = _Writer(plan)
    scenes = []
    for index, item in enumerate(outline):
        summary = _clean_user_text(item.summary, 600)
        if unsafe(summary):
            summary = ""
        title = _clean_user_text(item.title, 100)
        if not title or unsafe(title):
            title = f"Part {index + 1}"
        told = _tell(summary)
        paragraphs_: list[list[str]] = []
        if index == 0:
            # The introduction, without the routine that leads into the grammar's own plot.
            intro = _Writer(plan).intro()
            paragraphs_.append([*intro.core[0], *[s for p in intro.core[1:] for s in p][:-1]])
        if told:
            paragraphs_.append([told])
        if index == count - 1:
            paragraphs_.append([writer.closing()])
        elif index > 0:
            paragraphs_.append(writer.scenery(f"around.{index}", 1) or [writer.fill(
                "{W} kept going, side by side.", f"around.{index}")])
        while len(paragraphs_) < 2:
            more = writer.scenery(f"around.more.{index}.{len(paragraphs_)}", 1)
            paragraphs_.append(more or ["And so the story went on."])
        text = "\n\n".join(_finish_text(p, plan) for p in paragraphs_[:4])
        mood = guess_mood(text, index, count)
        scenes.append(SceneText(title=_title_case(title), text=text, mood=mood,
                                illustration_prompt=_picture_from_text(text, requirements, plan, moment=summary)))
    return scenes


_PRESENT_SUBJECTS = re.compile(r"^(?:the|a|an|they|he|she|it|we|everyone|everybody|nobody|someone|together|then|"
                               r"now|soon|later|finally|at last|meanwhile)\b", re.IGNORECASE)


def _tell(summary: str) -> str:
    """An outline summary, told: "In this part of the story, ..." keeps its present tense honest."""
    summary = summary.strip()
    if not summary:
        return ""
    if not summary.endswith((".", "!", "?")):
        summary += "."
    if _PRESENT_SUBJECTS.match(summary):
        return "In this part of the story, " + summary[0].lower() + summary[1:]
    return "In this part of the story, " + summary


def opening_text(requirements: StoryRequirements, outline: Sequence[OutlineScene]) -> str:
    return scenes_for(requirements, outline)[0].text


def continuation(requirements: StoryRequirements, outline: Sequence[OutlineScene], story_so_far: str
                 ) -> tuple[str, bool]:
    """The next scene after what `story_so_far` already covers, and whether the story is then finished."""
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


# Mood words, for scenes the grammar did not write.
_MOOD_WORDS = {
    "joyful": "laugh laughed laughing happy happily cheer cheered hooray danced dance smile smiled smiling joy "
              "celebrate celebrated party giggled hugged delighted",
    "tense": "storm stormy thunder lightning afraid scared danger dangerous ran shouted trembling crack fear "
             "hurried rushing howled alarm panic trapped dark rocks",
    "calm": "quiet quietly soft softly gentle gently slept sleep sleepy peaceful still rest rested calm hush",
    "cozy": "warm blanket home snug snuggled cozy cosy fire tea cocoa bed cuddled",
    "mysterious": "strange secret whisper whispered clue mystery shadow hidden mysterious puzzle vanished",
    "curious": "wondered wonder looked searched asked question explore explored noticed why",
    "hopeful": "hope hoped maybe try tried wish wished plan idea brave",
    "bright": "sun sunny morning shining sparkle sparkled bright rainbow light colors",
}
_MOOD_INDEX = {word: mood for mood, words in _MOOD_WORDS.items() for word in words.split()}


def guess_mood(text: str, index: int, count: int) -> str:
    """A mood for a scene the grammar did not write: the mood its words lean to, else one by position."""
    tally: dict[str, int] = {}
    for word in re.findall(r"[a-z]+", text.lower()):
        mood = _MOOD_INDEX.get(word)
        if mood:
            tally[mood] = tally.get(mood, 0) + 1
    if tally:
        return max(MOODS, key=lambda m: (tally.get(m, 0), -MOODS.index(m)))
    if index == 0:
        return "bright"
    return "joyful" if index == count - 1 else "curious"


_NOUN_STOP = frozenset("""
way time day days end same other next first last one rest moment thing things while bit lot kind sort side top
middle front back edge part morning night evening afternoon world place air ground sky water people
""".split())
_DETERMINER = re.compile(r"\b(?:the|a|an|his|her|their|my|our|your|its|this|that)\s+((?:[a-z]+\s+){0,3}?)([a-z]{3,})\b")
_NOT_A_SETTING = frozenset({"home", "world", "land", "stars", "sky", "space", "house"})


def _is_heading(paragraph: str) -> bool:
    line = paragraph.strip()
    return "\n" not in line and len(line.split()) <= 8 and not line.endswith((".", "!", "?", ",", ";", ":", '"'))


def _story_names(text: str) -> list[str]:
    """Capitalised words used in the middle of sentences (not in headings): the names a story uses."""
    names = []
    for paragraph in paragraphs(text):
        if _is_heading(paragraph):
            continue
        for match in re.finditer(r"\b([A-Z][a-z]{1,})\b", paragraph):
            before = paragraph[:match.start()].rstrip()
            word = match.group(1)
            if not before or before[-1] in ".!?\"\u201c:":
                continue
            low = word.lower()
            if low in D.NOT_NAMES or low in D.COMMON_WORDS or low in D.PLACES or low in D.KINDS:
                continue
            names.append(word)
    return names


def _candidates(text: str, known: Sequence[str]) -> tuple[list[str], list[str]]:
    """The names of `known` a text mentions (every mention) and its nouns (after a determiner), in order."""
    body = "\n\n".join(p for p in paragraphs(text) if not _is_heading(p))
    names = [m.group(1) for m in re.finditer(r"\b([A-Z][a-z]{1,})\b", body) if m.group(1) in known]
    nouns = []
    for match in _DETERMINER.finditer(body):
        adjectives, noun = match.group(1).split(), match.group(2)
        if any(a not in D.ADJECTIVES for a in adjectives):
            continue
        if noun in _NOUN_STOP or noun in D.COMMON_WORDS or noun in D.ADJECTIVES:
            continue
        nouns.append(noun)
    return names, nouns


def _derived_title(text: str, whole: str, used: set[str], index: int) -> str:
    first = paragraphs(text)[0] if text.strip() else ""
    heading = first.strip().lstrip("#").strip().strip("*").strip()
    if heading and _is_heading(first) and len(paragraphs(text)) > 1 and _title_case(heading) not in used:
        return _title_case(heading)
    known = set(_story_names(whole))
    names, nouns = _candidates(text, known)
    _, all_nouns = _candidates(whole, known)
    top_names = sorted(set(names), key=lambda w: (-names.count(w), names.index(w)))
    # Nouns this scene uses more than the rest of the story does, first.
    top_nouns = sorted(set(nouns), key=lambda w: (-(nouns.count(w) / (1 + all_nouns.count(w) - nouns.count(w))),
                                                  nouns.index(w)))
    options = []
    for noun in top_nouns[:3]:
        if top_names:
            options.append(f"{top_names[0]} and the {noun}")
        options.append(f"The {noun}")
    options.extend(top_names[:2])
    for option in options:
        title = _title_case(option)
        if title not in used:
            return title
    return f"Part {index + 1}"


def _where_in(text: str) -> str:
    """Where a text happens: the first place it names, with its preposition ("at the lighthouse")."""
    hit = _find(sorted(D.PLACES - _NOT_A_SETTING), text.lower())
    return f"{D.PLACE_PREPOSITION.get(hit[1], 'in')} the {hit[1]}" if hit else ""


def _picture_from_text(text: str, requirements: StoryRequirements, plan: _Plan, whole: str = "",
                       moment: str = "") -> str:
    """One sentence for a scene the grammar did not write: who is in it, where, and its key moment."""
    known = set(_story_names(whole or text)) | {p.name for p in [plan.hero, *plan.friends] if p.name}
    names, _ = _candidates(text, known)
    characters = [p.label() for p in [plan.hero, *plan.friends] if p.name and p.name in names]
    for name in sorted(set(names), key=lambda w: (-names.count(w), names.index(w))):
        if not any(name in c for c in characters):
            characters.append(name)
    who = _join(characters[:3]) or "The characters of the story"
    # A story written elsewhere names its own places; an outline written elsewhere follows the requirements.
    setting = plan.place.in_place if requirements.setting else ""
    where = (_where_in(text) or setting) if whole else (setting or _where_in(text))
    if not moment:
        body = [p for p in paragraphs(text) if not _is_heading(p)] or [text]
        candidates = [s for p in body for s in sentences(p) if '"' not in s and "\u201c" not in s]
        moment = next((s for s in candidates if len(s.split()) >= 4), candidates[0] if candidates else "")
    moment = " ".join(moment.split()[:30]).rstrip(".!?,;:")
    prompt = f"{_cap(who)} {where}".strip() + (f", in the moment when: {moment}" if moment else "")
    return _clean_user_text(prompt, 400).rstrip(".") + "."


def derive_scene(requirements: StoryRequirements, piece: str, whole: str, index: int, count: int,
                 used: set[str]) -> SceneText:
    """A scene for `piece` of a story written elsewhere (`whole`): a title from its heading, names and nouns (not
    one of `used`), a mood from its words, and a picture of who is in it, where, at its key moment."""
    return SceneText(title=_derived_title(piece, whole, used, index), text=piece, mood=guess_mood(piece, index, count),
                     illustration_prompt=_picture_from_text(piece, requirements, _plan(requirements), whole=whole))


def split(requirements: StoryRequirements, text: str, scene_count: int) -> list[SceneText]:
    """Cuts a story written elsewhere into at most `scene_count` scenes; every scene is an exact slice."""
    check_scene_count(scene_count)
    if not text.strip():
        raise ValueError("there is no story text to split")
    spans = split_spans(text, scene_count)
    used: set[str] = set()
    scenes = []
    for index, (start, end) in enumerate(spans):
        scene = derive_scene(requirements, text[start:end], text, index, len(spans), used)
        used.add(scene.title)
        scenes.append(scene)
    return scenes


# --- the StoryWriter mixin --------------------------------------------------------------------------------

class OfflineStoryWriter:
    """StoryWriter on the story grammar; the offline storyteller inherits it.

    The work (tens of milliseconds for a story, more to split a long text) runs in a worker thread, off the event
    loop. The premise and the story so far are not read when the outline is the grammar's own: the plan comes from
    the requirements, so every step of the same story agrees with the others.
    """

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
        return await asyncio.to_thread(split, requirements, text, scene_count)


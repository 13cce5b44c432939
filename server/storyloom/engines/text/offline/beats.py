"""The story grammar's sentences: `Teller` fills the phrase banks' templates for one plan (pronouns by point of
view, the setting, the problem), `Writer` writes each beat (opening, problem, attempts, low point, turn, ending) as a
`Part` of paragraphs, with what the picture of its scene needs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from storyloom.engines.text.cast import PRONOUNS, Person, age_words
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.offline.story_plan import Plan, cap, digest, join, possessive, title_case
from storyloom.engines.text.safety import scary

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z_0-9]*)\}")
_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")


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

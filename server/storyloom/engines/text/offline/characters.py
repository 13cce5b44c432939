"""What the whole conversation says about its characters (`_enrich`): names given late ("a girl who loves
gadgets named Priya"), relatives by name, apposition ("her friend is an owl called Pip"), who the hero is, each
one's age and pronouns, wishes, fears and journeys as plot lines, and the audience's age from the hero's.
"""

from __future__ import annotations

import dataclasses
import re

from storyloom.engines.text.offline import understand as U
from storyloom.engines.text.offline.slots import _Scan
from storyloom.engines.text.offline.state import (
    MAX_CHARACTERS,
    _age_in,
    _Char,
    _Facts,
    _kind_pronoun,
    _name_pronoun,
    _State,
)
from storyloom.engines.text.offline.words import (
    _CHILD_NOUNS,
    _COLOURS,
    _GROWN_UPS,
    _age_group,
    _article,
    _cap,
    _clean,
    _first,
)
from storyloom.engines.text.safety import unsafe as _unsafe

# Patterns about a named character (understand.NamedPattern: compiled for a name only where they could match).
_GOING = U.NamedPattern(rf"\b{U.NAME}\s+((?:crossing|searching|looking|trying|going|travelling|flying|sailing)\b"
                        r"[^.!?]*)")
_WHO_DID_HIS = U.NamedPattern(rf"\b{U.NAME}\b\s+(?:who\s+)?(?:\w+ed|lost|loves|likes|has|had|wants|shares|"
                              r"learns to share|finds|found)\s+(his|her)\b")


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
        going = _GOING.search(re.escape(_first(char.name)), said)
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
                named_here = [c for c in state.chars if c.name and U.has_word(_first(c.name), sentence)]
                if char in named_here and len(named_here) == 1:
                    match = _WHO_DID_HIS.search(re.escape(_first(char.name)), sentence)
                    if match:
                        char.pronoun = "he" if match.group(1) == "his" else "she"
                        break
    for char in state.chars:  # "a green dinosaur ... His name is Stompy": the pronoun of a named-later character
        if char.name and not char.pronoun:
            match = U.NAME_IS.search(re.escape(_first(char.name)), said)
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

"""What the story is about: the central problem read from the special request and plot elements, and the moral.

The family's own words decide the plot. "The lighthouse lamp keeps going out" is a thing that keeps failing (the
lamp); "afraid of the dark" is a fear; "learns to share his apples" is sharing (the apples); "a star map" is a
thing to find and use. Each kind of problem has its own beats in the phrase banks, and the key object is named in
every beat, so the request stays the centre of the story. Nothing asked for gives a gentle problem that suits
the setting.
"""

from __future__ import annotations

import dataclasses
import re

from storyloom.engines.text.lexicon import load

MORALS = ("courage", "patience", "sharing", "kindness", "honesty", "friendship", "teamwork", "perseverance")
_MORAL_WORDS = {
    "courage": ("courage", "brave", "bravery", "courageous", "fear", "afraid", "scared"),
    "patience": ("patience", "patient", "wait", "waiting"),
    "sharing": ("share", "sharing", "shares", "generous"),
    "kindness": ("kind", "kindness", "caring", "gentle to others"),
    "honesty": ("honest", "honesty", "truth", "lie", "lying", "fib"),
    "friendship": ("friendship", "friends", "friend"),
    "teamwork": ("teamwork", "together", "team"),
    "perseverance": ("perseverance", "never give up", "keep trying", "not giving up", "persistence"),
}
_DETERMINERS = re.compile(r"^(?:the|a|an|his|her|their|its|my|our|your|some|this|that|all|every)\s+", re.I)
_STOP = re.compile(r"\s+(?:with|for|to|in|on|at|from|and|but|so|because|while|when|that|who|which|by|into|"
                   r"before|after|every|each|again)\b.*$", re.I)


@dataclasses.dataclass(frozen=True)
class Problem:
    kind: str          # fear, broken, lost, quest, share, make, wish, watch, help, friends, mystery, gentle
    obj: str           # the key thing, without an article: "lighthouse lamp", "dark", "apples"
    trouble: str = ""  # what goes wrong with it: "kept going out"
    request: str = ""  # the family's words, cleaned, for the premise
    where: tuple[str, str] = ("", "")  # a place the request names, with its preposition: ("old clock tower", "in")

    @property
    def the_obj(self) -> str:
        if self.obj in ("the dark",):
            return self.obj
        if re.match(r"(?i)(?:the|a|an)\s", self.obj) or self.obj[:1].isupper():
            return self.obj
        return f"the {self.obj}"

    @property
    def plural(self) -> bool:
        last = self.obj.split()[-1] if self.obj else ""
        return last.endswith("s") and not last.endswith(("ss", "us", "is")) or last in ("lights", "sheep", "fish")


def _noun_phrase(text: str, limit: int = 3) -> str:
    text = re.sub(r"\s+of\s+(?:the|a|an|his|her|their|my|our)\b.*$", "", text.strip(" .,!?;:"))
    text = _STOP.sub("", text)
    text = _DETERMINERS.sub("", text.strip())
    text = _DETERMINERS.sub("", text.strip())
    filler = ("own", "very", "really", "lost", "missing", "broken", "together")
    words = [w for w in text.split() if w.lower() not in filler]
    return " ".join(words[-limit:]).lower() if words else ""


def read_problem(text: str, setting_family: str, seed: int) -> Problem:
    """The central problem in `text` (special requests, then plot elements), or a gentle one for the setting."""
    request = " ".join(text.split())
    low = request.lower()
    rules = (
        ("fear", r"\b(?:afraid|scared|frightened|nervous|worried|fearful)\s+(?:of|about)\s+(?:the\s+)?([a-z][a-z ]+)"),
        ("friends", r"\b(new school|make (?:new )?friends|first day)"),
        ("share", r"\bshar(?:e|es|ing)\s+([a-z][a-z ]+)"),
        ("broken", r"\b(?:the\s+)?([a-z][a-z ]+?)\s+(?:keeps|kept|keep)\s+([a-z]+ing(?:\s+(?:out|away|off|up|over))?)"),
        ("broken", r"\b(?:fix|fixes|fixing|repair|repairs|mend|mends)\s+(?:the\s+|a\s+|his\s+|her\s+)?([a-z][a-z ]+)"),
        ("lost", r"\blost\s+(?:his|her|their|the|a|my|its)\s+([a-z][a-z ]+)"),
        ("lost", r"\b(?:the\s+)?([a-z][a-z ]+?)\s+(?:has|have|had)\s+(?:gone\s+)?missing"),
        ("song", r"\bsings?\s+(?:a\s+)?(song|lullaby)"),
        ("help", r"\bhelps?\s+(?:[A-Za-z]+\s+)?(?:to\s+)?find\s+(?:his|her|their|the)\s+(way home|[a-z][a-z ]+)"),
        ("quest", r"\b(?:find|finds|finding|look(?:s|ing)?\s+for|search(?:es|ing)?\s+for|follow(?:s)?|"
                  r"looking for)\s+(?:the\s+|a\s+|an\s+|his\s+|her\s+)?([a-z][a-z ]+)"),
        ("lost", r"\b(gets? lost|got lost|is lost|was lost|are lost)\b"),
        ("make", r"\b(build|bake|grow|plant|make)(?:s|ing)?\s+(?:a\s+|an\s+|the\s+|some\s+)?([a-z][a-z ]+)"),
        ("watch", r"\b(?:watch|watches|see|sees)\s+(?:the\s+)?([a-z][a-z ]+)"),
        ("wish", r"\b(?:ride|rides|riding)\s+(?:a\s+|an\s+|the\s+)?([a-z][a-z ]+)"),
        ("wish", r"\b(?:a|an|the)\s+([a-z]+)\s+(?:she|he|they|you|i)\s+(?:can|could)\s+(ride|fly|visit|climb|sail)"),
        ("wish", r"\b(?:wants? to|dreams? of|wish(?:es)? to|would love to)\s+([a-z][a-z ]+)"),
        ("mystery", r"\b(secret [a-z]+s?|notes?|mystery|strange [a-z]+)"),
        ("quest", r"\b(?:with|has|have|a|an)\s+(?:a\s+|an\s+)?((?:magic|old|secret|golden|star|treasure|shiny)"
                  r"\s+[a-z]+(?:\s+[a-z]+)?)"),
        ("quest", r"\b(treasure(?: chest| map)?|star map)\b"),
        ("wish", r"\b((?:sing|dance|swim|paint|fly)s?\b(?:\s+(?:on|in|under|over|at|with)\s+(?:the|a)\s+[a-z]+)?)"),
    )
    place = re.search(r"\b(in|at|on|inside|under|near|by|up)\s+(?:the|a|an|his|her|their|my)\s+([a-z][a-z ]+)", low)
    where = (_noun_phrase(place.group(2)), place.group(1)) if place else ("", "")
    found = _problem(request, low, rules, seed, setting_family)
    return dataclasses.replace(found, where=where) if found.request and where[0] else found


def _problem(request: str, low: str, rules: tuple[tuple[str, str], ...], seed: int, setting_family: str) -> Problem:
    for kind, pattern in rules:
        match = re.search(pattern, low)
        if not match:
            continue
        if kind == "lost" and match.lastindex == 1 and match.group(1) in ("gets lost", "got lost", "get lost", "lost"):
            return Problem("lost", "way home", request=request)
        if kind == "broken" and match.lastindex == 2:
            obj = _noun_phrase(match.group(1))
            if obj:
                return Problem("broken", obj, trouble="kept " + match.group(2), request=request)
            continue
        if kind == "fear":
            obj = "the dark" if match.group(1).startswith("dark") else _noun_phrase(match.group(1))
            return Problem("fear", obj or "the dark", request=request)
        if kind == "friends":
            return Problem("friends", "new school" if "school" in low else "new friends", request=request)
        if kind == "help" and match.group(1) == "way home":
            return Problem("help", "way home", request=request)
        if kind == "song":
            return Problem("song", "song", request=request)
        if kind == "make":
            obj = _noun_phrase(match.group(2))
            if obj:
                return Problem("make", obj, trouble=match.group(1), request=request)
            continue
        if kind == "wish":
            phrase = match.group(1).strip(" .,!")
            phrase = phrase if re.match(r"(?:sing|dance|swim|paint|fly)s?\b", phrase) else _STOP.sub("", phrase)
            phrase = re.sub(r"^(sing|dance|swim|paint)s\b", r"\1", phrase)
            if match.lastindex == 2:
                phrase = f"{match.group(2)} a {match.group(1)}"
            elif pattern.startswith(r"\b(?:ride"):
                phrase = "ride " + phrase
            words = phrase.split()
            obj = _noun_phrase(" ".join(words[1:])) if len(words) > 1 else ""
            if words:
                return Problem("wish", obj, trouble=" ".join(words[:5]), request=request)
            continue
        obj = _noun_phrase(match.group(1))
        if obj and obj not in ("it", "them", "him", "her", "way", "one", "story"):
            return Problem(kind, obj, request=request)
    gentle = load("story").GENTLE_PROBLEMS
    options = gentle.get(setting_family) or gentle["default"]
    kind, obj, trouble = options[seed % len(options)]
    return Problem(kind, obj, trouble=trouble)


def read_moral(moral: str, text: str, ending: str, problem: Problem) -> str:
    """The lesson: the one asked for, one the plot names ("learns to share"), else the problem's own when the
    ending asks for a moral; "" for none."""
    for source in (moral, text if re.search(r"\b(?:lesson|learns?|teach|moral|matters|about being)\b", text, re.I)
                   else ""):
        low = source.lower()
        for name, words in _MORAL_WORDS.items():
            if any(re.search(rf"\b{re.escape(w)}", low) for w in words):
                return name
        if source is moral and moral.strip():
            return moral.strip().lower()
    if problem.kind == "share":
        return "sharing"
    if ending == "MORAL":
        return {"fear": "courage", "broken": "patience", "make": "patience", "lost": "perseverance",
                "help": "kindness", "friends": "friendship", "song": "kindness"}.get(problem.kind, "teamwork")
    return ""

"""Reading a story's text, for every engine: a story written elsewhere cut into scenes without changing a word,
with titles, moods and picture specs derived from the words; the setting family a place belongs to; and the small
text helpers the writers share (clean, tell).

The Gemini engine uses it for what the model left out, the procedural painter for scenes that came without a
picture spec, and the offline storyteller for its own scenes; so it belongs to none of them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from storyloom.domain.picture_spec import FigureSpec, PictureSpec
from storyloom.domain.ports.story import SceneText
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.cast import person
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.story_common import MOODS, check_scene_count, paragraphs, plain_text, sentences, split_spans

D = load("chat")


def clean(text: str, limit: int = 160) -> str:
    """User text made safe to print: plain, single-spaced, without markup characters, at most `limit` long."""
    text = " ".join(plain_text(text).split())[:limit]
    text = re.sub(r"[<>*#_`~\[\]{}|\\^=@$%]", " ", text)
    return " ".join(text.split()).strip(" ,;:-")


def _title_case(text: str) -> str:
    small = frozenset([
        "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "by", "for", "with", "up", "from", "as", "but",
        "into", "onto"])
    return " ".join(w if (i and w.lower() in small) else w[:1].upper() + w[1:] for i, w in enumerate(text.split()))


_PRESENT_SUBJECTS = re.compile(r"^(?:the|a|an|they|he|she|it|we|everyone|everybody|nobody|someone|together|then|"
                               r"now|soon|later|finally|at last|meanwhile)\b", re.IGNORECASE)


def tell(summary: str) -> str:
    """An outline summary, told: "In this part of the story, ..." keeps its present tense honest."""
    summary = summary.strip()
    if not summary:
        return ""
    if not summary.endswith((".", "!", "?")):
        summary += "."
    if _PRESENT_SUBJECTS.match(summary):
        return "In this part of the story, " + summary[0].lower() + summary[1:]
    return "In this part of the story, " + summary


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


_NOUN_STOP = frozenset([
    "way", "time", "day", "days", "end", "same", "other", "next", "first", "last", "one", "rest", "moment", "thing",
    "things", "while", "bit", "lot", "kind", "sort", "side", "top", "middle", "front", "back", "edge", "part",
    "morning", "night", "evening", "afternoon", "world", "place", "air", "ground", "sky", "water", "people"])
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


def _candidates(text: str, known: Collection[str]) -> tuple[list[str], list[str]]:
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


def _find(words_: Sequence[str], low: str) -> tuple[int, str] | None:
    best: tuple[int, int, str] | None = None
    for word in words_:
        match = re.search(rf"\b{re.escape(word)}\b", low)
        if match and (best is None or (match.start(), -len(word)) < (best[0], -best[1])):
            best = (match.start(), len(word), word)
    return (best[0], best[2]) if best else None


def place_word(text: str) -> str:
    """The place word a setting is named by ("the moon" -> moon), "" when none."""
    hit = _find(sorted(D.PLACES), text.lower())
    return hit[1] if hit else ""


def _where_in(text: str) -> str:
    """Where a text happens: the first place it names, with its preposition ("at the lighthouse")."""
    hit = _find(sorted(D.PLACES - _NOT_A_SETTING), text.lower())
    return f"{D.PLACE_PREPOSITION.get(hit[1], 'in')} the {hit[1]}" if hit else ""


def find_family(text: str) -> Mapping[str, Any]:
    """The setting family of a place: its head noun decides ("the town library" is a library, "a castle in the
    clouds" a castle), so the last family word before any preposition wins; else the first anywhere."""
    low = text.lower()
    head = re.split(r"\s(?:in|on|at|by|of|near|with|under|above|beyond|behind|inside|made)\s", low, maxsplit=1)[0]
    for part, last in ((head, True), (low, False)):
        best: tuple[int, int, Mapping[str, Any]] | None = None
        for order, family in enumerate(load("story").SETTINGS):
            for key in family["keys"]:
                for match in re.finditer(rf"\b{re.escape(key)}", part):
                    rank = (-match.end() if last else match.start(), order)
                    if best is None or rank < best[:2]:
                        best = (rank[0], rank[1], family)
        if best:
            return best[2]
    return next(f for f in load("story").SETTINGS if f["name"] == "meadow")


def derive_picture(text: str, requirements: StoryRequirements, place: str = "") -> PictureSpec:
    """A picture spec read from a scene's words: the story's characters it names (with what the requirements say
    of them), the things it names that a painter can draw, the setting family and the time of day."""
    low = text.lower()
    figures = []
    for index, character in enumerate(requirements.characters[:6]):
        someone = person(character)
        if someone is None or not someone.ref:
            continue
        if index == 0 or re.search(rf"(?<![\w]){re.escape(someone.ref.split()[0].lower())}(?![\w])", low):
            figures.append(FigureSpec(name=someone.name or someone.ref, role="hero" if index == 0 else "companion",
                                      species=someone.species, colour=someone.colour, gender=someone.gender,
                                      age=someone.age, toy=someone.toy))
    objects = [thing for thing in load("story").DRAWABLE if re.search(rf"\b{re.escape(thing)}", low)]
    family = find_family(f"{place or requirements.setting} {text[:400]}")
    night = bool(re.search(r"\b(?:night|moon|stars|bedtime|midnight|dark)\b", low)) or family["paint"] == "space"
    time_of_day = "night" if night else "sunset" if re.search(r"\b(?:sunset|dusk|evening)\b", low) else "day"
    return PictureSpec(characters=tuple(figures), objects=tuple(objects[:6]), setting=str(family["paint"]),
                       place=place or requirements.setting, time_of_day=time_of_day, mood=guess_mood(text, 0, 1))


def _picture_sentence(text: str, whole: str, requirements: StoryRequirements) -> str:
    known = set(_story_names(whole or text)) | {c.name for c in requirements.characters if c.name}
    names, _ = _candidates(text, known)
    who = " and ".join(sorted(set(names), key=lambda w: (-names.count(w), names.index(w)))[:3]) or \
        "The characters of the story"
    where = _where_in(text) or (f"in {requirements.setting}" if requirements.setting else "")
    body = [p for p in paragraphs(text) if not _is_heading(p)] or [text]
    candidates = [s for p in body for s in sentences(p) if '"' not in s and "\u201c" not in s]
    moment = next((s for s in candidates if len(s.split()) >= 4), candidates[0] if candidates else "")
    moment = " ".join(moment.split()[:30]).rstrip(".!?,;:")
    prompt = f"{who} {where}".strip() + (f", in the moment when: {moment}" if moment else "")
    return clean(prompt, 400).rstrip(".") + "."


def derive_scene(requirements: StoryRequirements, piece: str, whole: str, index: int, count: int,
                 used: set[str]) -> SceneText:
    """A scene for `piece` of a story written elsewhere (`whole`): a title from its heading, names and nouns (not
    one of `used`), a mood from its words, a picture sentence and a picture spec."""
    return SceneText(title=_derived_title(piece, whole, used, index), text=piece, mood=guess_mood(piece, index, count),
                     illustration_prompt=_picture_sentence(piece, whole, requirements),
                     picture=derive_picture(piece, requirements))


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

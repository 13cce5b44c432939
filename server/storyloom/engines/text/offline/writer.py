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

The parts: story_plan.py makes the plan and its beats, beats.py writes each beat's sentences, this module puts
them together into scenes (text, title, picture) and serves the StoryWriter port.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
from collections.abc import Sequence

from storyloom.domain.picture_spec import FigureSpec, PictureSpec
from storyloom.domain.ports.story import OutlineScene, Premise, SceneText
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.cast import Person, with_article
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.offline.beats import Part, Teller, Writer
from storyloom.engines.text.offline.story_plan import Plan, beats_for, cap, join, make_plan, title_case
from storyloom.engines.text.safety import unsafe
from storyloom.engines.text.scenes import clean, derive_picture, guess_mood, tell
from storyloom.engines.text.scenes import split as split_into_scenes
from storyloom.engines.text.story_common import check_scene_count, paragraphs

_CONTRACTIONS = {"don't": "do not", "didn't": "did not", "can't": "cannot", "couldn't": "could not",
                 "won't": "will not", "wasn't": "was not", "weren't": "were not", "isn't": "is not", "it's": "it is",
                 "let's": "let us", "i'm": "I am", "that's": "that is", "you're": "you are", "we're": "we are",
                 "they're": "they are", "i'll": "I will", "we'll": "we will", "you'll": "you will",
                 "there's": "there is", "what's": "what is", "i've": "I have", "we've": "we have",
                 "haven't": "have not", "hasn't": "has not", "wouldn't": "would not", "shouldn't": "should not"}


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

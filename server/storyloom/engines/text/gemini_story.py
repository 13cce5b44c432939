"""The story writer's prompts, JSON schemas and reply parsing for Gemini (pure functions, no I/O).

Every StoryWriter call is one structured-output request: a system instruction that states the audience, the
content rating (capped by the audience), the point of view, the style, tone, persona and ending (unknown
requirements filled with the same safe defaults as the offline writer), a prompt with the premise, the outline and
the story so far, and a JSON schema for the reply. Parsing is strict about what a caller relies on (text, the
number of scenes, word-keeping splits) and lenient about the rest (an unknown mood becomes the nearest one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from storyloom.domain.ports.story import OutlineScene, Premise, SceneText
from storyloom.domain.ports.text import EngineRefused, EngineUnavailable
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.lexicon import load
from storyloom.engines.text.safety import unsafe
from storyloom.engines.text.scenes import derive_scene, guess_mood
from storyloom.engines.text.story_common import MOODS, effective, plain_text, sentences

# How much of the story so far a prompt carries (the end of it; the outline says the rest).
STORY_SO_FAR_CHARS = 12_000
# How much of a story to split a prompt carries, at most (each piece is shortened to fit).
SPLIT_PROMPT_CHARS = 60_000

_AUDIENCE = {
    "PRESCHOOL": "little ones of about 3 to 5, listening to a grown-up read aloud. Use very short sentences "
                 "(about 5 to 8 words), simple everyday words, gentle repetition and sounds, and nothing abstract",
    "EARLY_READERS": "early readers of about 6 to 8. Use short, clear sentences, simple words, and a little "
                     "dialogue",
    "MIDDLE_GRADE": "older children of about 9 to 12. Use richer vocabulary, varied sentences and vivid detail",
    "TEENS": "teenagers. Use rich, varied prose with feeling and detail",
    "ADULTS": "grown-ups. Use rich, literary prose with feeling and detail",
}
_RATING = {
    "G": "G: nothing frightening at all. No peril, no danger, no violence, no monsters or darkness that could "
         "scare a small child; problems are gentle puzzles, misunderstandings or wishes",
    "PG": "PG: mild peril is allowed (a storm, getting lost for a while), always resolved and never dwelt on; "
          "no violence shown, nobody is hurt",
    "PG_13": "PG-13: real stakes are allowed (danger, loss, hard choices) but nothing graphic: no gore, no "
             "cruelty, no weapons used on anyone, no sexual content, no bad language",
}
_POINT_OF_VIEW = {
    "FIRST_PERSON": "first person: the hero tells the story as \"I\" (the hero's name still appears when others "
                    "speak to them and in the introduction)",
    "SECOND_PERSON": "second person: the listener is the hero, told as \"you\"",
    "THIRD_PERSON_LIMITED": "third person, close to the hero: only the hero's thoughts and feelings are told",
    "THIRD_PERSON_OMNISCIENT": "third person, by a narrator who knows what every character thinks and feels",
}
_STYLE = {
    "SIMPLE": "simple and clear", "CASUAL": "casual and chatty, with contractions",
    "FORMAL": "formal, without contractions or slang", "DESCRIPTIVE": "descriptive, full of sights, sounds and smells",
    "POETIC": "poetic, with rhythm and some rhymes", "HUMOROUS": "humorous, with jokes and silly surprises",
}
_ENDING = {
    "HAPPY": "a happy ending: the problem is solved and everyone is glad",
    "BITTERSWEET": "a bittersweet ending: the problem is solved, but something is lost or left behind, gently",
    "OPEN": "an open ending: the problem is solved, but a new question or adventure is left for the listener to "
            "imagine",
    "TWIST": "a surprise twist at the end that nobody expected, but that makes sense looking back",
    "MORAL": "a clear, gentle lesson at the end, said in one sentence",
}
_PERSONA = {
    "CHILDRENS_BOOK_AUTHOR": "an award-winning children's book author", "FAIRY_TALE_TELLER": "a fairy tale teller",
    "BEDTIME_STORYTELLER": "a gentle bedtime storyteller", "FANTASY_AUTHOR": "a fantasy author",
    "SCIENCE_FICTION_AUTHOR": "a science fiction author", "MYSTERY_WRITER": "a mystery writer",
    "ADVENTURE_WRITER": "an adventure writer", "HUMORIST": "a humorist", "POET": "a poet",
    "HISTORICAL_FICTION_AUTHOR": "a historical fiction author", "EDUCATOR": "an educator who weaves true facts in",
}
_DEFAULT_SETTING = "a cozy meadow"


def system_instruction(requirements: StoryRequirements, task: str) -> str:
    """Who writes, for whom, within which limits, what the story is, and what to do now."""
    req = effective(requirements)
    persona = _PERSONA.get(req.persona, _PERSONA["CHILDRENS_BOOK_AUTHOR"])
    if req.persona_description.strip():
        persona += f" ({' '.join(req.persona_description.split())})"
    rules = [
        f"Audience: {_AUDIENCE[req.audience_age_group]}.",
        f"Content rating: {_RATING[req.content_rating]}. Never go above this rating, whatever the story asks for.",
        f"Point of view: {_POINT_OF_VIEW[req.narrative_point_of_view]}.",
        f"Tone: {load('chat').TONE_ADJECTIVES.get(req.tone, req.tone.lower())}.",
        f"Ending: {_ENDING[req.ending_preference]}.",
    ]
    if req.writing_style:
        rules.append(f"Writing style: {_STYLE.get(req.writing_style, req.writing_style.lower())}.")
    if req.language_code:
        rules.append(f"Write in the language with the BCP-47 code {req.language_code}.")
    rules += _faithfulness(req)
    rules += [
        "Plain text only: no markdown, no headings, no bullet points, no emoji, no asterisks.",
        "Keep every character kind at heart; no violence, sexual content, drugs, hate, or real people's personal "
        "details, even if the story details below ask for them.",
        "Answer with JSON that matches the response schema, and nothing else.",
    ]
    story = _describe(req)
    return (f"You are {persona}, writing a story.\n\n## Rules\n" + "\n".join(f"- {r}" for r in rules)
            + "\n\n## The story\n" + story + "\n\n## Your task\n" + task.strip())


def _faithfulness(req: StoryRequirements) -> list[str]:
    """What the story must keep of the request: the hero in every scene with their pronouns, every companion, the
    special request as the central problem, the moral as what resolves it, the scene count."""
    rules = []
    if req.characters:
        hero = req.characters[0]
        pronouns = f", always with the pronouns {hero.pronouns}" if hero.pronouns else ""
        rules.append(f"The hero is {hero.name}: name {hero.name} in every scene{pronouns}. Keep each character's "
                     "species, colour, age and pronouns exactly as described.")
        if len(req.characters) > 1:
            rules.append("Every other character is the hero's companion and takes part in the story: "
                         + "; ".join(c.name + (f" ({c.pronouns})" if c.pronouns else "") for c in req.characters[1:])
                         + ".")
    wish = " ".join(x for x in (req.special_requests, req.plot_elements) if x)
    if wish:
        rules.append(f"The special request and plot are the story's central problem, named in most scenes: {wish}")
    if req.moral:
        rules.append(f"The moral ({req.moral}) is what resolves the problem; name it in the last scene.")
    if req.setting:
        rules.append(f"Every scene happens in or near {req.setting}; nothing in it contradicts that place.")
    if req.scene_count:
        rules.append(f"The story has exactly {req.scene_count} scenes.")
    return rules


def _describe(req: StoryRequirements) -> str:
    lines = req.describe().splitlines()
    if not req.characters:
        lines.insert(0, "Characters: none given; invent a friendly animal hero with a name")
    if not req.setting:
        lines.insert(1, f"Setting: {_DEFAULT_SETTING}")
    return "\n".join(lines)


# --- prompts -----------------------------------------------------------------------------------------------------

def _outline_text(outline: Sequence[OutlineScene]) -> str:
    return "\n".join(f"{i}. {o.title}: {o.summary}" for i, o in enumerate(outline, 1))


def _tail(text: str, limit: int = STORY_SO_FAR_CHARS) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    return "[...]\n" + cut[cut.find(" ") + 1:]


PREMISE_TASK = ("Write the story's premise: its idea in two to four sentences (who the hero is, where, the problem, "
                "what is at stake for this rating), and a short title.")


def outline_task(scene_count: int) -> str:
    return (f"Write an outline of exactly {scene_count} scene{'s' if scene_count != 1 else ''}: a beginning that "
            "introduces the characters and the setting, a middle where the hero tries and friends help, and an end "
            "that follows the ending preference. Each scene has a short title and a one or two sentence summary in "
            "the present tense.")


def outline_prompt(premise: str, scene_count: int, wrong_count: int | None = None) -> str:
    text = f"Premise:\n{premise.strip() or '(none: invent one from the story details)'}\n\n"
    text += f"Write the outline: exactly {scene_count} scenes."
    if wrong_count is not None:
        text += (f" Your previous outline had {wrong_count} scenes, which is wrong: it must have exactly "
                 f"{scene_count}.")
    return text


def scene_task(index: int, count: int) -> str:
    task = (f"Write scene {index + 1} of {count}, following its outline entry and continuing smoothly from the story "
            "so far without repeating it. Write two to four short paragraphs. Give the scene's title, its mood (one "
            "word), and one sentence for the illustrator saying who is in the picture, where, and what they are "
            "doing (describe the characters' looks, never use \"I\" or \"you\").")
    if index == 0:
        task += " This is the first scene: introduce every character by name and description, and the setting."
    if index == count - 1:
        task += " This is the last scene: resolve the story the way the ending preference asks, and close it."
    return task


def scene_prompt(premise: str, outline: Sequence[OutlineScene], index: int, story_so_far: Sequence[SceneText]) -> str:
    earlier = "\n\n".join(f"{s.title}\n{s.text}" for s in story_so_far)
    return (f"Premise:\n{premise.strip()}\n\nOutline:\n{_outline_text(outline)}\n\n"
            f"Story so far:\n{_tail(earlier) or '(nothing yet)'}\n\n"
            f"Write scene {index + 1}: {outline[index].title}: {outline[index].summary}")


OPENING_TASK = ("Write the opening of the story: the first scene of the outline, in two to four short paragraphs. "
                "Introduce every character by name and description, and the setting.")
CONTINUE_TASK = ("Write the next part of the story: the next scene of the outline after what is already written, "
                 "in two to four short paragraphs, continuing smoothly without repeating anything. Set \"finished\" "
                 "to true when the part you write ends the story (it covers the outline's last scene and resolves "
                 "the story as the ending preference asks); if the story is already finished, write nothing and set "
                 "\"finished\" to true.")


def opening_prompt(premise: str, outline: Sequence[OutlineScene]) -> str:
    return f"Premise:\n{premise.strip()}\n\nOutline:\n{_outline_text(outline)}\n\nWrite the opening."


def continue_prompt(premise: str, outline: Sequence[OutlineScene], story_so_far: str) -> str:
    return (f"Premise:\n{premise.strip()}\n\nOutline:\n{_outline_text(outline)}\n\n"
            f"Story so far:\n{_tail(story_so_far) or '(nothing yet)'}\n\nWrite the next part.")


def split_task(scene_count: int) -> str:
    return (f"A story written by someone else has been cut into numbered pieces. Group consecutive pieces into at "
            f"most {scene_count} scenes that each tell one part of the story, of about even length. For each scene, "
            "give the number of its first piece, a short title, its mood (one word), and one sentence for the "
            "illustrator saying who is in the picture, where, and what they are doing. Do not rewrite the story.")


def split_prompt(text: str, units: Sequence[tuple[int, int]]) -> str:
    budget = max(200, SPLIT_PROMPT_CHARS // max(1, len(units)))
    pieces = []
    for number, (start, end) in enumerate(units, 1):
        piece = " ".join(text[start:end].split())
        if len(piece) > budget:
            piece = piece[:budget].rsplit(" ", 1)[0] + " [...]"
        pieces.append(f"[{number}] {piece}")
    return "The story, in pieces:\n\n" + "\n\n".join(pieces)


# --- schemas -----------------------------------------------------------------------------------------------------

_MOOD = {"type": "string", "enum": list(MOODS), "description": "The scene's mood, which the picture follows."}
_PICTURE = {"type": "string", "description": "One sentence: who is in the picture (with their looks), where, and "
                                              "what they are doing."}
_PARAGRAPHS = {"type": "array", "minItems": 2, "maxItems": 4, "description": "Two to four short paragraphs of "
               "plain text.", "items": {"type": "string"}}


def premise_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {
        "title": {"type": "string", "description": "A short title for the story."},
        "premise": {"type": "string", "description": "The story's idea in two to four sentences."},
    }, "required": ["title", "premise"]}


def outline_schema(scene_count: int) -> dict[str, Any]:
    return {"type": "object", "properties": {"scenes": {
        "type": "array", "minItems": scene_count, "maxItems": scene_count,
        "description": f"Exactly {scene_count} scenes, in order.",
        "items": {"type": "object", "properties": {
            "title": {"type": "string", "description": "The scene's short title."},
            "summary": {"type": "string", "description": "What happens, in one or two sentences."},
        }, "required": ["title", "summary"]},
    }}, "required": ["scenes"]}


def scene_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {
        "title": {"type": "string", "description": "The scene's short title."},
        "paragraphs": _PARAGRAPHS, "mood": _MOOD, "illustration_prompt": _PICTURE,
    }, "required": ["title", "paragraphs", "mood", "illustration_prompt"]}


def opening_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"paragraphs": _PARAGRAPHS}, "required": ["paragraphs"]}


def continue_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {
        "paragraphs": {**_PARAGRAPHS, "minItems": 0},
        "finished": {"type": "boolean", "description": "Whether the story has reached its ending with this part."},
    }, "required": ["paragraphs", "finished"]}


def split_schema(scene_count: int, pieces: int) -> dict[str, Any]:
    return {"type": "object", "properties": {"scenes": {
        "type": "array", "minItems": 1, "maxItems": scene_count, "description": "The scenes, in order.",
        "items": {"type": "object", "properties": {
            "first_piece": {"type": "integer", "minimum": 1, "maximum": pieces,
                            "description": "The number of the scene's first piece."},
            "title": {"type": "string", "description": "The scene's short title."},
            "mood": _MOOD, "illustration_prompt": _PICTURE,
        }, "required": ["first_piece", "title", "mood", "illustration_prompt"]},
    }}, "required": ["scenes"]}


# --- parsing -----------------------------------------------------------------------------------------------------

def document(text: str, what: str, model: str) -> Mapping[str, Any]:
    """The reply as a JSON object, or EngineUnavailable."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineUnavailable(f"Gemini returned a {what} that is not valid JSON",
                                metadata={"model": model}) from exc
    if not isinstance(parsed, dict):
        raise EngineUnavailable(f"Gemini returned a {what} that is not a JSON object", metadata={"model": model})
    return parsed


def _string(doc: Mapping[str, Any], key: str, what: str, model: str, *, required: bool = True) -> str:
    value = doc.get(key)
    text = " ".join(plain_text(value).split()) if isinstance(value, str) else ""
    if required and not text:
        raise EngineUnavailable(f"Gemini returned a {what} without its {key}", metadata={"model": model})
    return text


def _checked(text: str, rating: str, what: str, model: str) -> str:
    """Refuses a G or PG reply that carries a word no children's story should (a second net under Gemini's own)."""
    if rating in ("G", "PG") and unsafe(text):
        raise EngineRefused(f"Gemini wrote a {what} with words not allowed at rating {rating}",
                            metadata={"model": model, "contentRating": rating})
    return text


def story_text(raw: Any, what: str, model: str, *, allow_empty: bool = False) -> str:
    """Paragraphs (a list of strings, or one string) as plain text: 2 to 4 paragraphs joined by blank lines."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raw = []
    parts: list[str] = []
    for item in raw:
        if isinstance(item, str):
            parts.extend(p for p in plain_text(item).split("\n\n") if p.strip())
    if not parts:
        if allow_empty:
            return ""
        raise EngineUnavailable(f"Gemini returned a {what} without any text", metadata={"model": model})
    while len(parts) > 4:  # merge the shortest neighbours
        sizes = [len(parts[i]) + len(parts[i + 1]) for i in range(len(parts) - 1)]
        i = sizes.index(min(sizes))
        parts[i:i + 2] = [parts[i] + " " + parts[i + 1]]
    if len(parts) == 1:
        said = sentences(parts[0])
        if len(said) >= 2:
            half = len(said) // 2
            parts = [" ".join(said[:half]), " ".join(said[half:])]
    return "\n\n".join(parts)


def parse_premise(doc: Mapping[str, Any], requirements: StoryRequirements, model: str) -> Premise:
    rating = effective(requirements).content_rating
    title = _checked(_string(doc, "title", "premise", model), rating, "premise", model)
    premise = _checked(_string(doc, "premise", "premise", model), rating, "premise", model)
    return Premise(title=title, premise=premise)


def parse_outline(doc: Mapping[str, Any], requirements: StoryRequirements, model: str) -> list[OutlineScene]:
    rating = effective(requirements).content_rating
    raw = doc.get("scenes")
    if not isinstance(raw, list):
        raise EngineUnavailable("Gemini returned an outline without scenes", metadata={"model": model})
    scenes = []
    for item in raw:
        if not isinstance(item, dict):
            raise EngineUnavailable("Gemini returned an outline scene that is not an object", metadata={"model": model})
        title = _checked(_string(item, "title", "outline scene", model), rating, "outline", model)
        summary = _checked(_string(item, "summary", "outline scene", model), rating, "outline", model)
        scenes.append(OutlineScene(title=title, summary=summary))
    return scenes


def merge_outline(scenes: Sequence[OutlineScene], scene_count: int) -> list[OutlineScene]:
    """An outline with too many scenes cut down to `scene_count` without losing any: the surplus middle scenes are
    merged into their neighbours (the first and the last scene are kept as they are)."""
    merged = list(scenes)
    while len(merged) > scene_count:
        middle = range(1, len(merged) - 2) if len(merged) > 3 and scene_count >= 3 else range(len(merged) - 1)
        i = min(middle, key=lambda j: len(merged[j].summary) + len(merged[j + 1].summary))
        first, second = merged[i], merged[i + 1]
        merged[i:i + 2] = [OutlineScene(title=first.title, summary=f"{first.summary} {second.summary}")]
    return merged


def _mood(raw: Any, text: str, index: int, count: int) -> str:
    mood = raw.strip().lower() if isinstance(raw, str) else ""
    return mood if mood in MOODS else guess_mood(text, index, count)


def parse_scene(doc: Mapping[str, Any], requirements: StoryRequirements, outline: Sequence[OutlineScene],
                index: int, model: str) -> SceneText:
    rating = effective(requirements).content_rating
    text = _checked(story_text(doc.get("paragraphs", doc.get("text")), "scene", model), rating, "scene", model)
    title = _string(doc, "title", "scene", model, required=False) or outline[index].title
    picture = (_string(doc, "illustration_prompt", "scene", model, required=False)
               or f"{title}: {outline[index].summary}")
    return SceneText(title=_checked(title, rating, "scene", model), text=text,
                     mood=_mood(doc.get("mood"), text, index, len(outline)),
                     illustration_prompt=_checked(_one_sentence(picture), rating, "scene", model))


def _one_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def parse_opening(doc: Mapping[str, Any], requirements: StoryRequirements, model: str) -> str:
    rating = effective(requirements).content_rating
    return _checked(story_text(doc.get("paragraphs", doc.get("text")), "opening", model), rating, "opening", model)


def parse_continuation(doc: Mapping[str, Any], requirements: StoryRequirements, model: str) -> tuple[str, bool]:
    rating = effective(requirements).content_rating
    finished = doc.get("finished")
    if not isinstance(finished, bool):
        raise EngineUnavailable("Gemini returned a continuation without saying whether it is finished",
                                metadata={"model": model})
    text = story_text(doc.get("paragraphs", doc.get("text")), "continuation", model, allow_empty=finished)
    return _checked(text, rating, "continuation", model), finished


def parse_split(doc: Mapping[str, Any], units: int) -> list[dict[str, Any]]:
    """The scenes' first pieces (0-based, increasing, the first one 0) with what the model said about each;
    scenes whose first piece is out of range or out of order are dropped. Empty when nothing usable came back."""
    raw = doc.get("scenes")
    if not isinstance(raw, list):
        return []
    scenes: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        first = item.get("first_piece")
        if isinstance(first, bool) or not isinstance(first, int | float) or int(first) != first:
            continue
        start = int(first) - 1
        if not 0 <= start < units or (scenes and start <= scenes[-1]["start"]):
            continue
        scenes.append({"start": start, "title": item.get("title"), "mood": item.get("mood"),
                       "illustration_prompt": item.get("illustration_prompt")})
    if scenes:
        scenes[0]["start"] = 0
    return scenes


def split_scenes(requirements: StoryRequirements, text: str, units: Sequence[tuple[int, int]],
                 parsed: Sequence[Mapping[str, Any]]) -> list[SceneText]:
    """The scenes as exact slices of `text`, with the model's titles, moods and pictures where it gave usable ones
    (and the offline writer's, derived from the words, where it did not)."""
    starts = [s["start"] for s in parsed] + [len(units)]
    scenes = []
    used: set[str] = set()
    for i, info in enumerate(parsed):
        first, last = units[starts[i]], units[starts[i + 1] - 1]
        piece = text[first[0]:last[1]]
        derived = derive_scene(requirements, piece, text, i, len(parsed), used)
        title = " ".join(plain_text(info["title"]).split()) if isinstance(info["title"], str) else ""
        if not title or title in used or unsafe(title):
            title = derived.title
        used.add(title)
        picture = info["illustration_prompt"]
        usable = isinstance(picture, str) and bool(picture.strip()) and not unsafe(picture)
        scenes.append(SceneText(title=title, text=piece, mood=_mood(info["mood"], piece, i, len(parsed)),
                                illustration_prompt=_one_sentence(plain_text(picture)) if usable
                                else derived.illustration_prompt))
    return scenes

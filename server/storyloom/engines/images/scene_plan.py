"""What the procedural illustrator paints for a scene: its setting, light, mood, style, characters and layout.

`plan_scene` is pure and cheap: the setting is matched by keywords in the scene's illustration prompt, the story's
setting and the scene text, or taken from the scene's picture spec; see `storyloom.engines.images.procedural`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence

from storyloom.domain.picture_spec import PictureSpec
from storyloom.domain.ports.story import SceneText
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.images.figures import Figure, figure_for, figure_from_spec, figure_words, singular
from storyloom.engines.text.scenes import derive_picture

# Settings, matched by keyword (a keyword matches a word that starts with it: "tree" matches "trees").
SETTINGS: dict[str, tuple[str, ...]] = {
    "underwater": ("underwater", "under the sea", "coral", "reef", "mermaid", "submarine", "seabed", "sea floor",
                   "aquarium", "seaweed", "jellyfish", "octopus"),
    "ocean": ("ocean", "sea", "beach", "island", "pirate", "ship", "boat", "shore", "wave", "harbo", "lighthouse",
              "sail", "seaside", "lake", "bay"),
    "space": ("space", "planet", "rocket", "galax", "astronaut", "alien", "comet", "spaceship", "orbit", "mars",
              "asteroid", "universe", "cosmos", "moon base", "star ship", "starship"),
    "castle": ("castle", "kingdom", "palace", "princess", "prince", "knight", "king", "queen", "tower", "royal",
               "throne", "fortress", "dragon"),
    "desert": ("desert", "sand", "dune", "pyramid", "camel", "oasis", "cactus", "cacti", "sahara"),
    "snow": ("snow", "winter", "ice", "icy", "arctic", "frozen", "frost", "polar", "penguin", "igloo",
             "north pole", "sled", "antarctic", "blizzard"),
    "city": ("city", "town", "street", "village", "market", "shop", "school", "building", "bus", "neighbo",
             "house", "bakery", "library", "skyscraper"),
    "forest": ("forest", "wood", "tree", "jungle", "grove", "pine", "oak", "mushroom", "fern", "wild"),
    "meadow": ("meadow", "field", "farm", "garden", "park", "flower", "hill", "countryside", "valley", "picnic",
               "grass", "orchard", "pond", "river"),
}
DEFAULT_SETTING = "meadow"

NIGHT_WORDS = ("night", "moon", "bedtime", "midnight", "dark", "star", "sleep", "dream", "lantern", "firefl")
SUNSET_WORDS = ("sunset", "dusk", "evening", "twilight", "sundown", "sunrise", "dawn")

# Mood words (a scene's `mood` or words of its prompt) and the story tones that imply a mood.
MOODS: dict[str, tuple[str, ...]] = {
    "cozy": ("cozy", "cosy", "warm", "snug", "homey", "gentle", "tender", "loving", "heartwarming", "safe"),
    "mysterious": ("mysterious", "mystery", "spooky", "eerie", "curious", "magical", "strange", "secret", "misty",
                   "foggy", "wonder"),
    "joyful": ("joyful", "happy", "bright", "cheerful", "excited", "fun", "funny", "playful", "silly", "glad",
               "merry", "festive", "triumphant", "proud", "adventurous", "whimsical"),
    "calm": ("calm", "peaceful", "quiet", "sleepy", "serene", "dreamy", "soft", "relaxed", "still", "hopeful"),
    "tense": ("tense", "scary", "dangerous", "suspense", "suspenseful", "worried", "afraid", "stormy", "urgent",
              "frightened", "nervous", "dramatic", "sad", "serious"),
}
TONE_MOODS = {"WHIMSICAL": "joyful", "FUNNY": "joyful", "ADVENTUROUS": "joyful", "CALM": "calm",
              "HEARTWARMING": "cozy", "MYSTERIOUS": "mysterious", "SUSPENSEFUL": "tense", "EDUCATIONAL": "calm",
              "SERIOUS": "calm"}

STYLES: dict[str, tuple[str, ...]] = {
    "watercolor": ("watercolor", "watercolour", "water color", "painted", "painterly", "gouache", "soft"),
    "cutout": ("cut-out", "cutout", "cut out", "paper", "collage", "felt", "flat"),
    "pixel": ("pixel", "8-bit", "8 bit", "retro game"),
    "pastel": ("pastel", "chalk"),
    "crayon": ("crayon", "pencil", "colouring", "coloring", "hand-drawn", "hand drawn", "drawing"),
}


# A picture spec's setting family -> (painter, room, extra): the families the painters do not have get the
# nearest painter, and a room or a detail of their own.
SPEC_SETTINGS: dict[str, tuple[str, str, str]] = {
    "space": ("space", "", ""), "underwater": ("underwater", "", ""), "beach": ("ocean", "", ""),
    "lake": ("meadow", "", "pond"), "bedroom": ("interior", "bedroom", ""), "home": ("interior", "home", ""),
    "school": ("interior", "school", ""), "forest": ("forest", "", ""), "jungle": ("forest", "", "jungle"),
    "garden": ("meadow", "", "garden"), "farm": ("meadow", "", "barn"), "snow": ("snow", "", ""),
    "mountain": ("meadow", "", "mountains"), "desert": ("desert", "", ""), "castle": ("castle", "", ""),
    "city": ("city", "", ""), "sky": ("meadow", "", "clouds"), "meadow": ("meadow", "", ""),
}
LAYOUTS = ("spread", "left", "right", "close")


@dataclasses.dataclass(frozen=True)
class ScenePlan:
    setting: str
    time_of_day: str  # "day", "sunset" or "night"
    mood: str  # "cozy", "mysterious", "joyful", "calm", "tense" or "" (none in particular)
    style: str  # "watercolor", "cutout", "pixel", "pastel" or "" (clean storybook)
    figures: tuple[Figure, ...]
    seed: int
    mountains: bool = False
    objects: tuple[str, ...] = ()  # key things to draw, from the picture spec
    room: str = ""                 # bedroom, home, school when the scene is indoors
    extra: str = ""                # pond, barn, garden, jungle, clouds: a detail of the setting family
    layout: str = "spread"         # where the characters stand: spread, left, right, close


def _matches(text: str, keywords: Sequence[str]) -> int:
    return sum(len(re.findall(r"(?<![a-z])" + re.escape(keyword), text)) for keyword in keywords)


def _best(scores: Mapping[str, float]) -> str:
    best = max(scores.values(), default=0)
    return next(name for name, score in scores.items() if score == best) if best > 0 else ""


def plan_scene(scene: SceneText, requirements: StoryRequirements) -> ScenePlan:
    """What to paint for a scene: from its picture spec (derived from the text when the writer gave none), with
    the style from the requirements, a mood, and a layout that changes from scene to scene. Deterministic."""
    if scene.picture is not None:
        return plan_from_spec(scene.picture, scene, requirements)
    # Text written elsewhere: the words decide the setting and the light; the derived spec adds who and what.
    base = _plan_from_words(scene, requirements)
    spec = derive_picture(f"{scene.title}\n{scene.text}\n{scene.illustration_prompt}", requirements)
    derived = plan_from_spec(spec, scene, requirements)
    return dataclasses.replace(base, objects=derived.objects, figures=base.figures, layout=derived.layout)


def plan_from_spec(spec: PictureSpec, scene: SceneText, requirements: StoryRequirements) -> ScenePlan:
    painter, room, extra = SPEC_SETTINGS.get(spec.setting, ("", "", ""))
    base = _plan_from_words(scene, requirements)
    mood_word = scene.mood.lower()
    mood = _best({name: 3 * _matches(mood_word, keys) for name, keys in MOODS.items()}) or base.mood
    figures = tuple(figure_from_spec(f) for f in spec.characters if f.role != "guest")[:3]
    guests = tuple(figure_from_spec(f) for f in spec.characters if f.role == "guest")[:1]
    digest = hashlib.sha256("\x1f".join((scene.title, scene.text, spec.place)).encode()).digest()
    return dataclasses.replace(
        base, setting=painter or base.setting, time_of_day=spec.time_of_day or base.time_of_day, mood=mood,
        figures=(figures + guests) or base.figures, objects=tuple(spec.objects), room=room, extra=extra,
        mountains=base.mountains or extra == "mountains", layout=LAYOUTS[digest[9] % len(LAYOUTS)])


def _plan_from_words(scene: SceneText, requirements: StoryRequirements) -> ScenePlan:
    """The plan read from words alone (settings, moods and creatures by keyword)."""
    prompt = scene.illustration_prompt.lower()
    setting_text = requirements.setting.lower()
    story_text = f"{scene.title}\n{scene.text}".lower()
    scores = {name: 3 * _matches(prompt, keys) + 2 * _matches(setting_text, keys) + _matches(story_text, keys)
              for name, keys in SETTINGS.items()}
    setting = _best(scores) or DEFAULT_SETTING
    seen = f"{prompt}\n{setting_text}"
    if setting == "space":
        time_of_day = "night"
    elif _matches(seen, SUNSET_WORDS) or (not _matches(seen, NIGHT_WORDS) and _matches(story_text, SUNSET_WORDS)
                                          > _matches(story_text, NIGHT_WORDS)):
        time_of_day = "sunset"
    elif _matches(seen, NIGHT_WORDS) or _matches(story_text, NIGHT_WORDS) >= 2:
        time_of_day = "night"
    else:
        time_of_day = "day"
    mood_word = scene.mood.lower()
    mood = _best({name: 3 * _matches(mood_word, keys) + _matches(prompt, keys) for name, keys in MOODS.items()})
    mood = mood or TONE_MOODS.get(requirements.tone, "")
    style = _best({name: _matches(requirements.illustration_style.lower(), keys) for name, keys in STYLES.items()})
    digest = hashlib.sha256("\x1f".join((scene.title, scene.text, scene.illustration_prompt)).encode()).digest()
    return ScenePlan(setting=setting, time_of_day=time_of_day, mood=mood, style=style,
                     figures=_figures(scene, requirements), seed=int.from_bytes(digest[:8], "big"),
                     mountains=bool(_matches(seen, ("mountain", "peak", "cliff", "volcano"))))


def characters_in(scene: SceneText, requirements: StoryRequirements) -> tuple[Character, ...]:
    """The story's characters whose name (its first word) the scene's title, text or illustration prompt uses."""
    text = f"{scene.title}\n{scene.text}\n{scene.illustration_prompt}".lower()
    return tuple(c for c in requirements.characters if c.name.strip() and re.search(
        r"(?<!\w)" + re.escape(c.name.strip().split()[0].lower()) + r"(?!\w)", text))


def _figures(scene: SceneText, requirements: StoryRequirements, limit: int = 4) -> tuple[Figure, ...]:
    """The story's characters the scene names (all of them up to `limit` if it names none), else creatures the
    illustration prompt mentions ("a fox and a frog"), else nobody."""
    chosen = characters_in(scene, requirements) or requirements.characters
    if chosen:
        return tuple(figure_for(c.name, c.description) for c in chosen[:limit])
    words = re.findall(r"[a-z]+", scene.illustration_prompt.lower())
    kinds = figure_words()
    creatures = []
    for word in words:
        one = singular(word)
        if one in kinds and one not in creatures:
            creatures.append(one)
    return tuple(figure_for(word, word) for word in creatures[:limit])

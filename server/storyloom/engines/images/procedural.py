"""The embedded illustrator: a pleasant picture per scene, painted with Pillow. No model, no network.

A scene is first planned (`plan_scene`, pure and cheap): the setting is matched by keywords in the scene's
illustration prompt, the story's setting and the scene text (forest, ocean, underwater, space, castle, desert, snow,
city, meadow by default), the time of day (day, sunset, night), the mood (cozy, mysterious, joyful, calm, tense, from
the scene's mood word or the story's tone), the characters to show (the story's characters the scene names, else the
creatures its prompt mentions) and the illustration style (watercolor, paper cut-out, pixel art, pastel).

Then it is painted (`render_scene`), at twice the size and scaled down for smooth edges: a sky gradient, the
setting's layers (hills, waves, dunes, a skyline...) and motifs (trees, a castle with banners, planets, fish and
bubbles, houses), the sun, the moon or stars, the characters in the foreground, then the mood's light (a warm glow,
fog, contrast) and a soft vignette. Everything random comes from one generator seeded by a hash of the scene's text,
so the same scene always gives the same picture, and a story's character looks the same in every scene.
"""

from __future__ import annotations

import asyncio
import colorsys
import dataclasses
import hashlib
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

from storyloom.domain.picture_spec import PictureSpec
from storyloom.domain.ports.story import Picture, SceneText
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.images.figures import Figure, draw_figure, figure_for, figure_from_spec, figure_words, singular
from storyloom.engines.images.objects import SKY_OBJECTS, paint_room, painter_for
from storyloom.engines.images.pictures import MAX_SIDE, check_size, encode_png
from storyloom.engines.text.scenes import derive_picture

RGB = tuple[int, int, int]
# What ImageDraw takes as a colour.
Fill = float | tuple[int, ...] | str | None

SUPERSAMPLE = 2  # painted at this multiple of the size and scaled down: smooth edges without antialiased drawing

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


@dataclasses.dataclass(frozen=True)
class Palette:
    sky_top: RGB
    sky_bottom: RGB
    far: RGB  # distant layer (hills, mountains, skyline, deep water)
    mid: RGB
    ground: RGB  # where the characters stand
    accents: tuple[RGB, ...]  # flowers, banners, houses, planets...
    motif: RGB  # tree leaves, castle stone, cacti...


PALETTES: dict[str, Palette] = {
    "forest": Palette((126, 196, 232), (214, 238, 226), (92, 150, 110), (60, 124, 80), (108, 170, 84),
                      ((230, 80, 70), (250, 220, 90), (250, 250, 250)), (52, 120, 72)),
    "meadow": Palette((110, 180, 240), (216, 238, 250), (150, 200, 120), (118, 184, 92), (128, 196, 90),
                      ((244, 96, 120), (255, 216, 80), (255, 255, 255), (176, 120, 230)), (70, 140, 70)),
    "ocean": Palette((104, 178, 236), (208, 234, 250), (40, 120, 186), (56, 150, 206), (242, 222, 170),
                     ((250, 250, 250), (232, 90, 80), (250, 200, 80)), (30, 96, 160)),
    "underwater": Palette((52, 160, 210), (14, 64, 124), (30, 110, 150), (40, 140, 110), (226, 204, 150),
                          ((250, 120, 110), (250, 180, 70), (240, 120, 190), (120, 220, 200)), (40, 150, 100)),
    "space": Palette((10, 14, 46), (46, 34, 96), (70, 60, 130), (120, 110, 160), (156, 148, 176),
                     ((250, 150, 90), (120, 200, 240), (230, 120, 200), (250, 220, 110)), (110, 100, 150)),
    "castle": Palette((150, 196, 240), (232, 230, 246), (140, 184, 120), (110, 166, 96), (124, 180, 94),
                      ((214, 60, 80), (250, 200, 60), (70, 110, 200)), (176, 170, 182)),
    "desert": Palette((120, 184, 232), (252, 232, 184), (236, 190, 120), (226, 168, 96), (240, 200, 130),
                      ((90, 150, 80), (220, 110, 70), (250, 240, 200)), (80, 146, 84)),
    "snow": Palette((160, 196, 232), (236, 242, 250), (214, 224, 242), (232, 238, 250), (246, 248, 255),
                    ((220, 70, 70), (70, 120, 210), (250, 200, 60)), (46, 100, 90)),
    "city": Palette((136, 188, 236), (232, 236, 246), (150, 160, 190), (120, 130, 160), (176, 176, 184),
                    ((232, 120, 100), (250, 200, 90), (120, 170, 210), (170, 130, 200), (130, 200, 150)),
                    (90, 150, 90)),
    # Indoors: "far" is the wall and "ground" the floor.
    "interior": Palette((240, 226, 200), (240, 226, 200), (236, 214, 186), (220, 200, 170), (196, 150, 106),
                        ((232, 120, 100), (250, 200, 90), (120, 170, 210)), (150, 110, 80)),
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


# --- colour helpers ----------------------------------------------------------------------------------------------


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _hsv(color: RGB, saturation: float = 1.0, value: float = 1.0) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in color))
    r, g, b = colorsys.hsv_to_rgb(h, min(1.0, s * saturation), min(1.0, v * value))
    return (round(r * 255), round(g * 255), round(b * 255))


def _time_of_day(color: RGB, time_of_day: str) -> RGB:
    if time_of_day == "night":
        return mix(_hsv(color, 0.8, 0.42), (24, 30, 80), 0.3)
    if time_of_day == "sunset":
        return mix(_hsv(color, 1.0, 0.9), (250, 140, 110), 0.18)
    return color


def _mood(color: RGB, mood: str) -> RGB:
    if mood == "cozy":
        return mix(_hsv(color, 1.05), (255, 176, 96), 0.14)
    if mood == "mysterious":
        return mix(_hsv(color, 0.65, 0.72), (70, 60, 130), 0.22)
    if mood == "joyful":
        return _hsv(color, 1.28, 1.08)
    if mood == "calm":
        return mix(_hsv(color, 0.7), (255, 255, 255), 0.28)
    if mood == "tense":
        return mix(_hsv(color, 1.1, 0.8), (90, 30, 60), 0.18)
    return color


def scene_palette(plan: ScenePlan) -> Palette:
    """The setting's palette, changed for the time of day, the mood and a pastel style."""
    base = PALETTES[plan.setting]
    if plan.time_of_day == "sunset" and plan.setting not in ("space", "underwater"):
        base = dataclasses.replace(base, sky_top=(112, 92, 172), sky_bottom=(255, 184, 120))
    if plan.time_of_day == "night" and plan.setting not in ("space", "underwater"):
        base = dataclasses.replace(base, sky_top=(12, 18, 58), sky_bottom=(58, 60, 122))

    night_sky = plan.time_of_day == "night" or plan.setting == "space"

    def adjust(color: RGB, sky: bool = False) -> RGB:
        if not sky:
            color = _time_of_day(color, plan.time_of_day)
        # A calm night stays dark: no pastel wash over the stars.
        color = _hsv(color, 0.8) if sky and night_sky and plan.mood == "calm" else _mood(color, plan.mood)
        if plan.style in ("pastel", "crayon"):
            color = mix(_hsv(color, 0.75), (255, 250, 244), 0.12 if sky and night_sky else 0.3)
        return color

    return Palette(sky_top=adjust(base.sky_top, True), sky_bottom=adjust(base.sky_bottom, True),
                   far=adjust(base.far), mid=adjust(base.mid), ground=adjust(base.ground),
                   accents=tuple(adjust(c) for c in base.accents), motif=adjust(base.motif))


# --- painting ----------------------------------------------------------------------------------------------------


class _Canvas:
    """The picture being painted, with the random generator and the measures every painter uses.

    In the paper cut-out style each `layer()` gets a drop shadow on what was painted before it.
    """

    def __init__(self, width: int, height: int, plan: ScenePlan, palette: Palette):
        self.w, self.h = width, height
        self.u = min(width, height)
        self.plan, self.palette = plan, palette
        self.rng = random.Random(plan.seed)
        self.image = Image.new("RGB", (width, height), palette.sky_bottom)
        self.draw = ImageDraw.Draw(self.image, "RGBA")
        self.cutout = plan.style == "cutout"
        self.horizon = height * (0.5 if plan.setting == "ocean" else 0.62)

    @contextmanager
    def layer(self) -> Iterator[ImageDraw.ImageDraw]:
        if not self.cutout:
            yield self.draw
            return
        # Everything the layer paints is also painted into a mask; its shadow falls down and right onto the layers
        # below. The shadow is made at a quarter of the size (a soft shadow needs no detail).
        mask = Image.new("L", (self.w, self.h), 0)
        painter = self.draw
        self.draw = _Tee(painter, ImageDraw.Draw(mask))  # type: ignore[assignment]
        try:
            yield self.draw
        finally:
            self.draw = painter
        quarter = (max(1, self.w // 4), max(1, self.h // 4))
        offset = max(1, round(self.u * 0.012 / 4))
        shadow = Image.new("L", quarter, 0)
        shadow.paste(mask.resize(quarter, Image.Resampling.BOX), (offset, offset))
        shadow = shadow.filter(ImageFilter.GaussianBlur(1.2)).point(lambda v: v * 0.45)
        shadow = ImageChops.subtract(shadow.resize((self.w, self.h), Image.Resampling.BILINEAR), mask)
        self.image.paste((30, 24, 40), mask=shadow)

    def wavy(self, base_y: float, amplitude: float, waves: float, color: Fill, *, bottom: float | None = None,
             sharp: bool = False) -> None:
        """A filled band whose top edge is a soft random wave (hills, dunes, waves, snowdrifts)."""
        phase1, phase2 = self.rng.uniform(0, math.tau), self.rng.uniform(0, math.tau)
        step = max(2, self.w // 96)
        points = []
        for x in range(0, self.w + step, step):
            t = x / self.w
            wave = math.sin(t * math.tau * waves + phase1) * 0.7 + math.sin(t * math.tau * waves * 2.3 + phase2) * 0.3
            if sharp:
                wave = 1 - abs(wave) * 2
            points.append((x, base_y - amplitude * wave))
        points += [(self.w, bottom if bottom is not None else self.h), (0, bottom if bottom is not None else self.h)]
        self.draw.polygon(points, fill=color)


class _Tee:
    """An ImageDraw stand-in that paints each shape on the picture and, opaque, on a mask."""

    def __init__(self, draw: ImageDraw.ImageDraw, mask: ImageDraw.ImageDraw):
        self._draw, self._mask = draw, mask

    def __getattr__(self, name: str) -> Callable[..., None]:
        paint, mark = getattr(self._draw, name), getattr(self._mask, name)

        def both(*args: object, **kwargs: object) -> None:
            paint(*args, **kwargs)
            mark(*args, **{key: (255 if value is not None and key in ("fill", "outline") else value)
                           for key, value in kwargs.items()})

        return both


def _vertical_gradient(size: tuple[int, int], top: RGB, bottom: RGB, bands: int = 0) -> Image.Image:
    """A top-to-bottom gradient (`bands` flat steps instead, for the cut-out style)."""
    w, h = size
    steps = 256
    column = Image.new("RGB", (1, steps))
    column.putdata([mix(top, bottom, (round(i / (steps - 1) * (bands - 1)) / (bands - 1)) if bands
                        else i / (steps - 1)) for i in range(steps)])
    return column.resize((w, h), Image.Resampling.NEAREST if bands else Image.Resampling.BILINEAR)


def _sky(c: _Canvas) -> None:
    p = c.palette
    c.image.paste(_vertical_gradient((c.w, c.h), p.sky_top, p.sky_bottom, bands=5 if c.cutout else 0))


def _clouds(c: _Canvas, count: int, color: tuple[int, int, int, int]) -> None:
    for _ in range(count):
        x, y = c.rng.uniform(0, c.w), c.rng.uniform(c.h * 0.06, c.h * 0.3)
        size = c.u * c.rng.uniform(0.06, 0.1)
        for dx, dy, r in ((0, 0, 1.0), (-0.9, 0.25, 0.7), (0.9, 0.25, 0.75), (0.4, -0.35, 0.7), (-0.4, 0.3, 0.8)):
            cx, cy, rr = x + dx * size, y + dy * size, r * size
            c.draw.ellipse((cx - rr * 1.3, cy - rr, cx + rr * 1.3, cy + rr), fill=color)


def _sun_moon_stars(c: _Canvas) -> None:
    plan, draw, rng = c.plan, c.draw, c.rng
    if plan.setting == "underwater":
        return
    if plan.time_of_day == "night":
        for _ in range(int(110 * (c.w * c.h) / (768 * 512 * SUPERSAMPLE ** 2) * SUPERSAMPLE ** 2)):
            x, y = rng.uniform(0, c.w), rng.uniform(0, c.horizon if plan.setting != "space" else c.h * 0.8)
            r = c.u * rng.choice((0.002, 0.003, 0.003, 0.005))
            alpha = rng.randint(150, 255)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 250, 220, alpha))
        for _ in range(3):  # a few twinkling four-point stars
            x, y, r = rng.uniform(0.05, 0.95) * c.w, rng.uniform(0.05, 0.4) * c.h, c.u * 0.018
            draw.polygon([(x, y - r), (x + r * 0.25, y - r * 0.25), (x + r, y), (x + r * 0.25, y + r * 0.25),
                          (x, y + r), (x - r * 0.25, y + r * 0.25), (x - r, y), (x - r * 0.25, y - r * 0.25)],
                         fill=(255, 244, 200, 230))
        if plan.setting != "space":
            _moon(c, rng.uniform(0.65, 0.85) * c.w, rng.uniform(0.12, 0.22) * c.h, c.u * 0.07)
        return
    low = plan.time_of_day == "sunset"
    x = rng.uniform(0.15, 0.85) * c.w
    y = (c.horizon - c.u * 0.02) if low else rng.uniform(0.12, 0.2) * c.h
    r = c.u * (0.11 if low else 0.075)
    color = (255, 170, 90) if low else (255, 222, 100)
    for k in range(5, 0, -1):  # glow
        rr = r * (1 + k * 0.35)
        draw.ellipse((x - rr, y - rr, x + rr, y + rr), fill=(*color, 18))
    if plan.mood == "joyful" and not low:
        for i in range(12):
            angle = i * math.tau / 12 + rng.uniform(0, 0.1)
            draw.line((x + math.cos(angle) * r * 1.3, y + math.sin(angle) * r * 1.3, x + math.cos(angle) * r * 1.8,
                       y + math.sin(angle) * r * 1.8), fill=(*color, 220), width=max(2, round(r * 0.12)))
    draw.ellipse((x - r, y - r, x + r, y + r), fill=color)


def _moon(c: _Canvas, x: float, y: float, r: float) -> None:
    for k in range(4, 0, -1):
        rr = r * (1 + k * 0.4)
        c.draw.ellipse((x - rr, y - rr, x + rr, y + rr), fill=(255, 250, 210, 14))
    mask = Image.new("L", (round(r * 2) + 2, round(r * 2) + 2), 0)
    md = ImageDraw.Draw(mask)
    md.ellipse((1, 1, r * 2, r * 2), fill=255)
    md.ellipse((1 + r * 0.55, 1 - r * 0.2, r * 2 + r * 0.55, r * 2 - r * 0.2), fill=0)  # a crescent
    c.image.paste((255, 246, 200), (round(x - r), round(y - r)), mask)


def _tree_round(c: _Canvas, x: float, base: float, size: float, leaves: RGB, trunk: RGB = (120, 84, 58)) -> None:
    d = c.draw
    d.rectangle((x - size * 0.07, base - size * 0.5, x + size * 0.07, base), fill=trunk)
    for dx, dy, r in ((0, -0.8, 0.35), (-0.22, -0.62, 0.26), (0.22, -0.62, 0.26), (0, -0.55, 0.3)):
        cx, cy, rr = x + dx * size, base + dy * size, r * size
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=leaves)
    hx, hy, hr = x - size * 0.1, base - size * 0.9, size * 0.1
    d.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=(*mix(leaves, (255, 255, 230), 0.25), 160))


def _tree_pine(c: _Canvas, x: float, base: float, size: float, leaves: RGB, snow: bool = False) -> None:
    d = c.draw
    d.rectangle((x - size * 0.05, base - size * 0.2, x + size * 0.05, base), fill=(110, 78, 56))
    for i in range(3):
        top = base - size * (0.45 + i * 0.25)
        half = size * (0.3 - i * 0.06)
        bottom = top + size * 0.38
        d.polygon([(x, top - size * 0.12), (x + half, bottom), (x - half, bottom)], fill=leaves)
        if snow:
            d.polygon([(x, top - size * 0.12), (x + half * 0.45, top + size * 0.06), (x - half * 0.45,
                       top + size * 0.06)], fill=(250, 252, 255))


def _paint_forest(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    with c.layer():
        c.wavy(c.horizon - c.h * 0.06, c.h * 0.04, 1.5, p.far)
        for i in range(14):  # a far row of pines
            x = (i + rng.uniform(-0.3, 0.3)) / 13 * c.w
            _tree_pine(c, x, c.horizon + c.h * 0.02, c.h * rng.uniform(0.3, 0.42), mix(p.far, (20, 40, 40), 0.25))
    with c.layer():
        c.wavy(c.horizon + c.h * 0.08, c.h * 0.03, 1.2, p.mid)
        for i in range(7):
            x = (i + rng.uniform(-0.2, 0.2)) / 6 * c.w
            _tree_round(c, x, c.horizon + c.h * 0.1, c.h * rng.uniform(0.35, 0.48),
                        mix(p.motif, p.mid, rng.uniform(0, 0.4)))
    with c.layer():
        c.wavy(c.h * 0.8, c.h * 0.02, 1.0, p.ground)
        for side in (0.04, 0.96):  # framing trees at the edges
            _tree_round(c, side * c.w, c.h * 1.02, c.h * 0.75, mix(p.motif, (20, 60, 30), 0.2))
        for _ in range(4):  # toadstools
            x, y = rng.uniform(0.1, 0.9) * c.w, rng.uniform(0.86, 0.96) * c.h
            s = c.u * 0.035
            c.draw.rectangle((x - s * 0.25, y - s * 0.6, x + s * 0.25, y), fill=(250, 244, 230))
            c.draw.chord((x - s, y - s * 1.4, x + s, y - s * 0.2), 180, 360, fill=p.accents[0])
            c.draw.ellipse((x - s * 0.35, y - s * 1.05, x - s * 0.1, y - s * 0.8), fill=(255, 255, 255))
        _grass(c, p.ground, 40)


def _grass(c: _Canvas, ground: RGB, count: int) -> None:
    dark = mix(ground, (20, 60, 20), 0.3)
    for _ in range(count):
        x, y = c.rng.uniform(0, c.w), c.rng.uniform(0.82, 1.0) * c.h
        s = c.u * 0.025
        for dx in (-0.5, 0, 0.5):
            c.draw.line((x, y, x + dx * s, y - s), fill=dark, width=max(1, round(c.u * 0.004)))


def _flowers(c: _Canvas, count: int, top: float = 0.82) -> None:
    for _ in range(count):
        x, y = c.rng.uniform(0, c.w), c.rng.uniform(top, 1.0) * c.h
        r = c.u * c.rng.uniform(0.008, 0.014)
        color = c.rng.choice(c.palette.accents)
        for k in range(5):
            a = k * math.tau / 5
            px, py = x + math.cos(a) * r, y + math.sin(a) * r
            c.draw.ellipse((px - r * 0.8, py - r * 0.8, px + r * 0.8, py + r * 0.8), fill=color)
        c.draw.ellipse((x - r * 0.6, y - r * 0.6, x + r * 0.6, y + r * 0.6), fill=(255, 210, 70))


def _mountains(c: _Canvas, color: RGB, snow_caps: bool = True) -> None:
    with c.layer():
        for _ in range(4):
            x = c.rng.uniform(0, c.w)
            half, height = c.w * c.rng.uniform(0.14, 0.24), c.h * c.rng.uniform(0.22, 0.32)
            top = c.horizon - height
            c.draw.polygon([(x - half, c.horizon), (x, top), (x + half, c.horizon)], fill=color)
            if snow_caps:
                c.draw.polygon([(x - half * 0.28, top + height * 0.28), (x, top), (x + half * 0.28,
                                top + height * 0.28), (x + half * 0.1, top + height * 0.22),
                                (x - half * 0.05, top + height * 0.3)], fill=(250, 250, 255))


def _paint_meadow(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    if c.plan.mountains:
        _mountains(c, mix(p.far, (120, 130, 170), 0.4))
    with c.layer():
        c.wavy(c.horizon - c.h * 0.02, c.h * 0.06, 1.3, p.far)
    with c.layer():
        c.wavy(c.horizon + c.h * 0.08, c.h * 0.05, 0.9, p.mid)
        for _ in range(2):
            _tree_round(c, rng.uniform(0.1, 0.9) * c.w, c.horizon + c.h * 0.1, c.h * rng.uniform(0.25, 0.34),
                        p.motif)
        fence_y = c.horizon + c.h * 0.14
        start = rng.uniform(0.0, 0.5) * c.w
        for i in range(8):  # a little wooden fence
            x = start + i * c.u * 0.05
            c.draw.rectangle((x, fence_y - c.u * 0.05, x + c.u * 0.012, fence_y), fill=(200, 160, 110))
        c.draw.rectangle((start, fence_y - c.u * 0.038, start + 7 * c.u * 0.05 + c.u * 0.012,
                          fence_y - c.u * 0.03), fill=(200, 160, 110))
    with c.layer():
        c.wavy(c.h * 0.8, c.h * 0.025, 0.8, p.ground)
        _flowers(c, 45)
        _grass(c, p.ground, 25)
    _butterflies(c, 3)


def _butterflies(c: _Canvas, count: int) -> None:
    if c.plan.time_of_day == "night":
        for _ in range(12):  # fireflies instead
            x, y, r = c.rng.uniform(0, c.w), c.rng.uniform(0.45, 0.9) * c.h, c.u * 0.006
            c.draw.ellipse((x - r * 3, y - r * 3, x + r * 3, y + r * 3), fill=(255, 240, 120, 50))
            c.draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 250, 170))
        return
    for _ in range(count):
        x, y, s = c.rng.uniform(0.1, 0.9) * c.w, c.rng.uniform(0.4, 0.6) * c.h, c.u * 0.02
        color = c.rng.choice(c.palette.accents)
        for side in (-1, 1):
            c.draw.ellipse((x + side * s * 0.1 - s * 0.5 + side * s * 0.5, y - s * 0.6,
                            x + side * s * 0.1 + s * 0.5 + side * s * 0.5, y + s * 0.2), fill=color)
        c.draw.line((x, y - s * 0.5, x, y + s * 0.3), fill=(60, 50, 60), width=max(1, round(s * 0.15)))


def _paint_ocean(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    sea_top = c.horizon
    with c.layer():
        c.draw.rectangle((0, sea_top, c.w, c.h), fill=p.far)
        for i in range(7):  # wave lines, lighter towards the shore
            y = sea_top + (i + 1) * c.h * 0.045
            c.wavy(y, c.h * 0.008, 4 + i, mix(p.far, p.mid, i / 7), bottom=y + c.h * 0.06)
        if c.plan.time_of_day != "night":
            for _ in range(18):  # sparkles
                x, y = rng.uniform(0, c.w), rng.uniform(sea_top, c.h * 0.8)
                w = c.u * rng.uniform(0.015, 0.04)
                c.draw.line((x - w, y, x + w, y), fill=(255, 255, 255, 150), width=max(1, round(c.u * 0.004)))
    with c.layer():  # a sailboat on the horizon
        x, y, s = rng.uniform(0.15, 0.85) * c.w, sea_top + c.h * 0.04, c.u * 0.12
        c.draw.polygon([(x - s * 0.6, y), (x + s * 0.6, y), (x + s * 0.4, y + s * 0.25), (x - s * 0.4,
                        y + s * 0.25)], fill=(150, 90, 60))
        c.draw.line((x, y, x, y - s * 1.1), fill=(90, 60, 40), width=max(2, round(s * 0.05)))
        c.draw.polygon([(x + s * 0.03, y - s * 1.05), (x + s * 0.55, y - s * 0.1), (x + s * 0.03, y - s * 0.1)],
                       fill=(250, 248, 240))
        c.draw.polygon([(x - s * 0.03, y - s * 0.9), (x - s * 0.4, y - s * 0.1), (x - s * 0.03, y - s * 0.1)],
                       fill=p.accents[1])
    for _ in range(3):  # gulls
        x, y, s = rng.uniform(0.1, 0.9) * c.w, rng.uniform(0.12, 0.35) * c.h, c.u * 0.025
        c.draw.arc((x - s, y - s * 0.5, x, y + s * 0.5), 200, 340, fill=(60, 60, 80), width=max(1, round(s * 0.2)))
        c.draw.arc((x, y - s * 0.5, x + s, y + s * 0.5), 200, 340, fill=(60, 60, 80), width=max(1, round(s * 0.2)))
    with c.layer():  # the beach in front
        c.wavy(c.h * 0.82, c.h * 0.03, 0.7, p.ground)
        c.wavy(c.h * 0.82 - c.h * 0.005, c.h * 0.03, 0.7, (255, 255, 255, 120), bottom=c.h * 0.82 + c.h * 0.01)
        for _ in range(6):  # shells and starfish
            x, y, s = rng.uniform(0.05, 0.95) * c.w, rng.uniform(0.88, 0.98) * c.h, c.u * 0.018
            color = rng.choice(p.accents[1:])
            c.draw.regular_polygon((x, y, s), 5, rotation=rng.uniform(0, 72), fill=color)


def _paint_underwater(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    for _ in range(5):  # light rays from the surface
        x = rng.uniform(0, c.w)
        spread = c.w * rng.uniform(0.05, 0.1)
        c.draw.polygon([(x, 0), (x + spread * 0.3, 0), (x + spread * 2, c.h), (x + spread, c.h)],
                       fill=(255, 255, 255, 22))
    with c.layer():
        for _ in range(6):  # seaweed
            x, height = rng.uniform(0, c.w), c.h * rng.uniform(0.3, 0.55)
            points = [(x + math.sin(t / 6 * math.pi * 2) * c.u * 0.03, c.h - t / 12 * height) for t in range(13)]
            c.draw.line(points, fill=p.motif, width=max(3, round(c.u * 0.022)), joint="curve")
    with c.layer():
        c.wavy(c.h * 0.82, c.h * 0.025, 1.1, p.ground)
        for _ in range(5):  # coral
            x, y, s = rng.uniform(0, c.w), rng.uniform(0.84, 0.9) * c.h, c.u * rng.uniform(0.06, 0.1)
            color = rng.choice(p.accents)
            for k in range(5):
                a = math.pi * (0.2 + 0.6 * k / 4)
                c.draw.line((x, y, x - math.cos(a) * s, y - math.sin(a) * s), fill=color,
                            width=max(3, round(s * 0.18)))
                c.draw.ellipse((x - math.cos(a) * s - s * 0.12, y - math.sin(a) * s - s * 0.12,
                                x - math.cos(a) * s + s * 0.12, y - math.sin(a) * s + s * 0.12), fill=color)
    with c.layer():
        for _ in range(6):  # little fish in the distance
            x, y, s = rng.uniform(0.05, 0.95) * c.w, rng.uniform(0.15, 0.6) * c.h, c.u * rng.uniform(0.02, 0.04)
            color, way = rng.choice(p.accents), rng.choice((-1, 1))
            c.draw.polygon([(x - way * s, y), (x - way * s * 1.6, y - s * 0.5), (x - way * s * 1.6, y + s * 0.5)],
                           fill=color)
            c.draw.ellipse((x - s, y - s * 0.55, x + s, y + s * 0.55), fill=color)
            c.draw.ellipse((x + way * s * 0.5 - s * 0.12, y - s * 0.2, x + way * s * 0.5 + s * 0.12, y + s * 0.04),
                           fill=(40, 30, 50))
    _bubbles(c, 30)


def _bubbles(c: _Canvas, count: int) -> None:
    for _ in range(count):
        x, y, r = c.rng.uniform(0, c.w), c.rng.uniform(0.05, 0.8) * c.h, c.u * c.rng.uniform(0.006, 0.018)
        c.draw.ellipse((x - r, y - r, x + r, y + r), outline=(230, 250, 255, 200), width=max(1, round(r * 0.25)),
                       fill=(255, 255, 255, 30))
        c.draw.ellipse((x - r * 0.5, y - r * 0.6, x - r * 0.1, y - r * 0.2), fill=(255, 255, 255, 200))


def _paint_space(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    with c.layer():
        for i in range(3):  # planets, one with a ring
            x, y = rng.uniform(0.1, 0.9) * c.w, rng.uniform(0.12, 0.5) * c.h
            r = c.u * (0.12 if i == 0 else rng.uniform(0.03, 0.06))
            color = p.accents[i % len(p.accents)]
            if i == 0:
                c.draw.ellipse((x - r * 1.9, y - r * 0.45, x + r * 1.9, y + r * 0.45), outline=(240, 220, 170),
                               width=max(2, round(r * 0.12)))
            c.draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
            c.draw.chord((x - r, y - r, x + r, y + r), 300, 120, fill=(*mix(color, (0, 0, 30), 0.35), 255))
            c.draw.ellipse((x - r * 0.55, y - r * 0.6, x - r * 0.15, y - r * 0.3), fill=(255, 255, 255, 70))
            if i == 0:
                c.draw.arc((x - r * 1.9, y - r * 0.45, x + r * 1.9, y + r * 0.45), 0, 180, fill=(240, 220, 170),
                           width=max(2, round(r * 0.12)))
        x, y, s = rng.uniform(0.2, 0.8) * c.w, rng.uniform(0.1, 0.3) * c.h, c.u * 0.06  # a comet
        c.draw.polygon([(x, y - s * 0.15), (x - s * 2.5, y - s * 0.8), (x - s * 2.2, y - s * 0.5),
                        (x, y + s * 0.15)], fill=(200, 230, 255, 90))
        c.draw.ellipse((x - s * 0.18, y - s * 0.18, x + s * 0.18, y + s * 0.18), fill=(240, 250, 255))
    with c.layer():  # the moon's surface the characters stand on
        c.wavy(c.h * 0.78, c.h * 0.03, 0.8, p.ground)
        for _ in range(7):
            x, y, r = rng.uniform(0, c.w), rng.uniform(0.84, 0.98) * c.h, c.u * rng.uniform(0.02, 0.05)
            c.draw.ellipse((x - r, y - r * 0.4, x + r, y + r * 0.4), fill=mix(p.ground, (40, 30, 70), 0.3))
            c.draw.arc((x - r, y - r * 0.4, x + r, y + r * 0.4), 0, 180, fill=mix(p.ground, (255, 255, 255), 0.3),
                       width=max(1, round(r * 0.12)))
        fx = rng.choice((0.12, 0.88)) * c.w  # a flag
        c.draw.line((fx, c.h * 0.82, fx, c.h * 0.62), fill=(220, 220, 230), width=max(2, round(c.u * 0.006)))
        c.draw.polygon([(fx, c.h * 0.62), (fx + c.u * 0.09, c.h * 0.645), (fx, c.h * 0.67)], fill=p.accents[0])


def _paint_castle(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    if c.plan.mountains:
        _mountains(c, mix(p.far, (120, 130, 170), 0.4))
    with c.layer():
        c.wavy(c.horizon, c.h * 0.05, 1.2, p.far)
    with c.layer():
        _castle(c, rng.uniform(0.35, 0.65) * c.w, c.horizon + c.h * 0.03, c.h * 0.42)
    with c.layer():
        c.wavy(c.h * 0.8, c.h * 0.025, 0.8, p.ground)
        _flowers(c, 20)
        _grass(c, p.ground, 20)


def _castle(c: _Canvas, x: float, base: float, size: float) -> None:
    p, d = c.palette, c.draw
    stone, dark = p.motif, mix(p.motif, (40, 30, 60), 0.3)
    roof = p.accents[0]
    lit = c.plan.time_of_day == "night"
    window = (255, 220, 120) if lit else (70, 60, 90)
    wall_w, wall_h = size * 0.9, size * 0.38
    d.rectangle((x - wall_w / 2, base - wall_h, x + wall_w / 2, base), fill=stone)
    merlon = size * 0.05
    for i in range(int(wall_w / (merlon * 2)) + 1):  # crenellations
        mx = x - wall_w / 2 + i * merlon * 2
        d.rectangle((mx, base - wall_h - merlon, mx + merlon, base - wall_h), fill=stone)
    d.chord((x - size * 0.12, base - size * 0.28, x + size * 0.12, base - size * 0.04), 180, 360, fill=dark)
    d.rectangle((x - size * 0.12, base - size * 0.16, x + size * 0.12, base), fill=dark)  # the gate
    for side in (-1, 0, 1):  # towers with cone roofs and banners
        tx = x + side * wall_w * 0.5
        tw, th = size * (0.2 if side else 0.24), size * (0.7 if side else 0.95)
        d.rectangle((tx - tw / 2, base - th, tx + tw / 2, base), fill=stone if side else mix(stone, (255,) * 3, 0.1))
        d.polygon([(tx - tw * 0.62, base - th), (tx, base - th - size * 0.3), (tx + tw * 0.62, base - th)],
                  fill=roof)
        pole_top = base - th - size * 0.42
        d.line((tx, base - th - size * 0.28, tx, pole_top), fill=(90, 80, 80), width=max(1, round(size * 0.012)))
        flag = p.accents[(side + 1) % len(p.accents)] if side else p.accents[1]
        d.polygon([(tx, pole_top), (tx + size * 0.12, pole_top + size * 0.035), (tx, pole_top + size * 0.07)],
                  fill=flag)
        for k in range(2):
            wy = base - th + size * (0.14 + k * 0.2)
            d.rounded_rectangle((tx - tw * 0.14, wy, tx + tw * 0.14, wy + size * 0.08), radius=tw * 0.14,
                                fill=window)
    for side in (-1, 1):  # long banners on the wall
        bx = x + side * wall_w * 0.25
        top = base - wall_h + size * 0.04
        color = p.accents[2 % len(p.accents)] if side < 0 else p.accents[1]
        d.polygon([(bx - size * 0.04, top), (bx + size * 0.04, top), (bx + size * 0.04, top + size * 0.18),
                   (bx, top + size * 0.14), (bx - size * 0.04, top + size * 0.18)], fill=color)


def _paint_desert(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    with c.layer():
        for _ in range(2):  # pyramids far away
            x, s = rng.uniform(0.15, 0.85) * c.w, c.h * rng.uniform(0.14, 0.22)
            c.draw.polygon([(x - s, c.horizon + c.h * 0.02), (x, c.horizon - s * 0.8), (x + s, c.horizon + c.h * 0.02)],
                           fill=mix(p.far, (250, 230, 190), 0.2))
            c.draw.polygon([(x, c.horizon - s * 0.8), (x + s, c.horizon + c.h * 0.02), (x + s * 0.25,
                           c.horizon + c.h * 0.02)], fill=mix(p.far, (120, 70, 40), 0.2))
    with c.layer():
        c.wavy(c.horizon + c.h * 0.02, c.h * 0.05, 0.9, p.far, sharp=False)
    with c.layer():
        c.wavy(c.horizon + c.h * 0.12, c.h * 0.06, 0.7, p.mid)
        for _ in range(3):  # cacti
            x, base, s = rng.uniform(0.05, 0.95) * c.w, c.horizon + c.h * rng.uniform(0.16, 0.22), c.h * 0.16
            _cactus(c, x, base, s)
    with c.layer():
        c.wavy(c.h * 0.82, c.h * 0.025, 0.6, p.ground)
        for _ in range(30):  # ripples in the sand
            x, y = rng.uniform(0, c.w), rng.uniform(0.85, 1.0) * c.h
            w = c.u * rng.uniform(0.03, 0.07)
            c.draw.arc((x - w, y - w * 0.2, x + w, y + w * 0.2), 200, 340, fill=mix(p.ground, (160, 100, 50), 0.3),
                       width=max(1, round(c.u * 0.003)))


def _cactus(c: _Canvas, x: float, base: float, s: float) -> None:
    color, w = c.palette.motif, s * 0.16
    c.draw.rounded_rectangle((x - w / 2, base - s, x + w / 2, base), radius=w / 2, fill=color)
    for side, height in ((-1, 0.55), (1, 0.7)):
        ax = x + side * w * 1.2
        c.draw.rounded_rectangle((ax - w * 0.35, base - s * height, ax + w * 0.35, base - s * (height - 0.3)),
                                 radius=w * 0.35, fill=color)
        c.draw.rectangle((min(x, ax), base - s * (height - 0.3) - w * 0.35, max(x, ax), base - s * (height - 0.3)),
                         fill=color)


def _paint_snow(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    if c.plan.mountains or rng.random() < 0.5:
        _mountains(c, mix(p.far, (130, 150, 200), 0.3))
    with c.layer():
        c.wavy(c.horizon, c.h * 0.04, 1.1, p.far)
        for i in range(9):
            x = (i + rng.uniform(-0.3, 0.3)) / 8 * c.w
            _tree_pine(c, x, c.horizon + c.h * 0.04, c.h * rng.uniform(0.22, 0.32), p.motif, snow=True)
    with c.layer():
        c.wavy(c.h * 0.8, c.h * 0.03, 0.9, p.ground)
        x, y, s = rng.choice((0.12, 0.85)) * c.w, c.h * 0.86, c.u * 0.1  # a snowman
        for k, r in enumerate((0.5, 0.36, 0.26)):
            cy = y - s * (0, 0.75, 1.33)[k]
            c.draw.ellipse((x - r * s, cy - r * s, x + r * s, cy + r * s), fill=(252, 252, 255),
                           outline=(200, 210, 230), width=max(1, round(s * 0.02)))
        hy = y - s * 1.33
        c.draw.polygon([(x, hy), (x + s * 0.25, hy + s * 0.04), (x, hy + s * 0.08)], fill=(240, 140, 50))
        for side in (-1, 1):
            c.draw.ellipse((x + side * s * 0.09 - s * 0.03, hy - s * 0.1, x + side * s * 0.09 + s * 0.03,
                            hy - s * 0.04), fill=(40, 40, 50))
        c.draw.rectangle((x - s * 0.28, hy - s * 0.22, x + s * 0.28, hy - s * 0.16), fill=p.accents[0])
    for _ in range(70):  # falling snow
        x, y, r = rng.uniform(0, c.w), rng.uniform(0, c.h), c.u * rng.uniform(0.003, 0.008)
        c.draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 220))


def _paint_city(c: _Canvas) -> None:
    p, rng = c.palette, c.rng
    lit = c.plan.time_of_day != "day"
    with c.layer():  # a far skyline
        x = 0.0
        while x < c.w:
            bw, bh = c.w * rng.uniform(0.05, 0.1), c.h * rng.uniform(0.15, 0.35)
            c.draw.rectangle((x, c.horizon - bh, x + bw, c.horizon + c.h * 0.05), fill=p.far)
            x += bw + c.w * 0.005
    with c.layer():  # houses with pitched roofs
        x = -c.w * 0.02
        while x < c.w:
            hw, hh = c.w * rng.uniform(0.11, 0.16), c.h * rng.uniform(0.16, 0.24)
            base = c.horizon + c.h * 0.14
            wall = rng.choice(p.accents)
            c.draw.rectangle((x, base - hh, x + hw, base), fill=wall)
            c.draw.polygon([(x - hw * 0.08, base - hh), (x + hw / 2, base - hh - hw * 0.45), (x + hw * 1.08,
                           base - hh)], fill=mix(wall, (80, 40, 50), 0.45))
            window = (255, 228, 140) if lit and rng.random() < 0.8 else mix(wall, (255, 255, 255), 0.6)
            for row in range(2):
                for col in range(2):
                    wx, wy = x + hw * (0.18 + col * 0.45), base - hh + hh * (0.15 + row * 0.35)
                    c.draw.rectangle((wx, wy, wx + hw * 0.2, wy + hh * 0.2), fill=window)
            c.draw.rounded_rectangle((x + hw * 0.4, base - hh * 0.3, x + hw * 0.6, base), radius=hw * 0.05,
                                     fill=mix(wall, (60, 30, 30), 0.5))
            x += hw + c.w * rng.uniform(0.015, 0.04)
    with c.layer():  # pavement and road
        c.draw.rectangle((0, c.h * 0.78, c.w, c.h), fill=p.ground)
        c.draw.rectangle((0, c.h * 0.93, c.w, c.h), fill=mix(p.ground, (60, 60, 70), 0.45))
        for i in range(8):
            x = i / 7 * c.w
            c.draw.rectangle((x, c.h * 0.962, x + c.w * 0.05, c.h * 0.972), fill=(250, 240, 200))
        for side in (0.06, 0.94):  # street lamps
            lx = side * c.w
            c.draw.line((lx, c.h * 0.86, lx, c.h * 0.52), fill=(70, 70, 90), width=max(2, round(c.u * 0.008)))
            if lit:
                c.draw.ellipse((lx - c.u * 0.06, c.h * 0.52 - c.u * 0.06, lx + c.u * 0.06, c.h * 0.52 + c.u * 0.06),
                               fill=(255, 230, 150, 60))
            c.draw.ellipse((lx - c.u * 0.02, c.h * 0.52 - c.u * 0.02, lx + c.u * 0.02, c.h * 0.52 + c.u * 0.02),
                           fill=(255, 236, 160) if lit else (230, 230, 220))


SETTING_PAINTERS: dict[str, Callable[[_Canvas], None]] = {
    "forest": _paint_forest, "meadow": _paint_meadow, "ocean": _paint_ocean, "underwater": _paint_underwater,
    "space": _paint_space, "castle": _paint_castle, "desert": _paint_desert, "snow": _paint_snow,
    "city": _paint_city,
}


def _paint_interior(c: _Canvas) -> None:
    night = c.plan.time_of_day == "night"
    wall = mix(c.palette.far, (60, 60, 110), 0.45) if night else c.palette.far
    floor_y, _ = paint_room(c.draw, c.w, c.h, c.plan.room or "home", night, c.rng, wall, c.palette.ground)
    c.horizon = floor_y


SETTING_PAINTERS["interior"] = _paint_interior


def _paint_extra(c: _Canvas) -> None:
    """A detail of a setting family the painters share: a pond, a barn, a garden's rows, jungle leaves, clouds."""
    p, rng, extra = c.palette, c.rng, c.plan.extra
    with c.layer():
        if extra == "pond":
            x, y = rng.uniform(0.3, 0.7) * c.w, c.h * 0.86
            c.draw.ellipse((x - c.w * 0.25, y - c.h * 0.06, x + c.w * 0.25, y + c.h * 0.06), fill=(90, 170, 220))
            for _ in range(4):
                lx, ly = x + rng.uniform(-0.2, 0.2) * c.w, y + rng.uniform(-0.03, 0.03) * c.h
                c.draw.ellipse((lx - c.u * 0.03, ly - c.u * 0.012, lx + c.u * 0.03, ly + c.u * 0.012),
                               fill=(80, 160, 80))
        elif extra == "barn":
            x, base, s = rng.choice((0.18, 0.82)) * c.w, c.horizon + c.h * 0.12, c.h * 0.28
            c.draw.rectangle((x - s * 0.5, base - s * 0.6, x + s * 0.5, base), fill=(196, 60, 50))
            c.draw.polygon([(x - s * 0.6, base - s * 0.6), (x + s * 0.6, base - s * 0.6), (x, base - s)],
                           fill=(150, 40, 40))
            c.draw.rectangle((x - s * 0.15, base - s * 0.35, x + s * 0.15, base), fill=(250, 240, 220))
        elif extra == "garden":
            for row in range(3):
                y = c.h * (0.84 + row * 0.05)
                for k in range(12):
                    x = (k + 0.5 + (row % 2) * 0.5) / 12 * c.w
                    c.draw.ellipse((x - c.u * 0.02, y - c.u * 0.015, x + c.u * 0.02, y + c.u * 0.015),
                                   fill=mix(p.motif, (40, 120, 40), 0.3))
        elif extra == "jungle":
            for _ in range(14):
                x, y, r = rng.uniform(0, c.w), rng.uniform(0, 0.3) * c.h, c.u * rng.uniform(0.06, 0.12)
                c.draw.ellipse((x - r * 1.6, y - r * 0.5, x + r * 1.6, y + r * 0.5), fill=(40, 130, 70))
        elif extra == "clouds":
            _clouds(c, 6, (255, 255, 255, 230))


def _paint_objects(c: _Canvas) -> list[float]:
    """The spec's key objects, on the side the characters leave free (or in the sky); returns their x."""
    painted: list[float] = []
    names = [o for o in c.plan.objects if painter_for(o) is not None]
    seen: set[object] = set()
    left_free = c.plan.layout == "right"
    slots = [0.12, 0.88, 0.5] if c.plan.layout in ("spread", "close") else ([0.2, 0.38, 0.1] if left_free
                                                                            else [0.8, 0.62, 0.9])
    with c.layer():
        for index, name in enumerate(names):
            painter = painter_for(name)
            if painter is None or painter in seen or len(painted) >= 2 or any(name in other for other in names[:index]):
                continue
            seen.add(painter)
            x = slots[len(painted)] * c.w
            size = c.h * (0.42 if name in ("lighthouse", "clock tower", "rocket", "sunflowers") else 0.26)
            base = c.h * 0.55 if name in SKY_OBJECTS else c.h * (0.9 if c.plan.room else 0.92)
            if name == "lighthouse" and c.plan.setting == "ocean":
                base, size = c.horizon + c.h * 0.08, c.h * 0.5
            painter(c.draw, x, base, size, c.rng)
            painted.append(x)
    return painted


def _paint_figures(c: _Canvas) -> None:
    figures = c.plan.figures
    if not figures:
        return
    n = len(figures)
    layout = c.plan.layout
    size = c.h * (0.42, 0.38, 0.33, 0.3)[min(n, 4) - 1] * (1.3 if layout == "close" else 1.0)
    span = {"spread": (0.18, 0.64), "left": (0.05, 0.55), "right": (0.4, 0.55), "close": (0.12, 0.76)}[layout]
    with c.layer() as draw:
        for i, figure in enumerate(figures):
            slot = (i + 1) / (n + 1)
            x = (span[0] + span[1] * slot) * c.w + c.rng.uniform(-0.03, 0.03) * c.w
            ground = c.h * (0.93 + c.rng.uniform(-0.015, 0.015))
            facing = 0.0 if n == 1 else (1.0 if slot < 0.5 else -1.0 if slot > 0.5 else 0.0)
            draw_figure(draw, figure, x, ground, size * c.rng.uniform(0.94, 1.04), facing,
                        cheerful=c.plan.mood not in ("tense", "mysterious", "calm"))


# --- light, mood and style filters (at the final size) -----------------------------------------------------------


def _fog(image: Image.Image, rng: random.Random, color: RGB, strength: float) -> Image.Image:
    w, h = image.size
    small = Image.new("L", (max(1, w // 8), max(1, h // 8)), 0)
    draw = ImageDraw.Draw(small)
    sw, sh = small.size
    for _ in range(9):
        x, y = rng.uniform(-0.1, 1.1) * sw, rng.uniform(0.45, 0.95) * sh
        rx, ry = sw * rng.uniform(0.2, 0.45), sh * rng.uniform(0.04, 0.08)
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=round(255 * strength))
    draw.rectangle((0, sh * 0.85, sw, sh), fill=round(180 * strength))
    mask = small.filter(ImageFilter.GaussianBlur(max(1.0, sw / 40))).resize((w, h), Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", (w, h), color), image, mask)


def _glow(image: Image.Image, color: RGB, strength: float) -> Image.Image:
    """A warm light from the centre, fading out."""
    w, h = image.size
    mask = Image.radial_gradient("L").resize((w, h), Image.Resampling.BILINEAR)
    mask = mask.point(lambda v: round(max(0, 255 - v * 1.6) * strength))
    return Image.composite(Image.new("RGB", (w, h), color), image, mask)


def _vignette(image: Image.Image, strength: float) -> Image.Image:
    w, h = image.size
    mask = Image.radial_gradient("L").resize((w, h), Image.Resampling.BILINEAR)
    mask = mask.point(lambda v: round(min(255, max(0, (v - 110) * 1.4)) * strength))
    return Image.composite(Image.new("RGB", (w, h), (24, 16, 36)), image, mask)


def _watercolor(image: Image.Image, rng: random.Random) -> Image.Image:
    """What watercolour looks like on paper: flat washes of thinned colour (details merged, light showing
    through), pigment pooled darker at the edge of each wash, uneven blooms across a wash, and the grain of
    cold-pressed paper."""
    w, h = image.size
    flat = image.filter(ImageFilter.ModeFilter(3)).filter(ImageFilter.GaussianBlur(1.0))
    flat = Image.blend(flat, image, 0.35)  # faces and small things stay readable
    wash = Image.blend(flat, Image.new("RGB", (w, h), (253, 250, 242)), 0.2)
    # Pigment pools where a wash dries: darker along the edges between colours.
    edges = flat.convert("L").filter(ImageFilter.FIND_EDGES).filter(ImageFilter.GaussianBlur(1.1))
    edges = edges.point(lambda v: 255 - min(90, v * 2))
    wash = ImageChops.multiply(wash, Image.merge("RGB", (edges, edges, edges)))
    # Blooms: the wash is uneven, lighter and darker in soft patches.
    bloom = Image.effect_noise((max(1, w // 40), max(1, h // 40)), 60).resize((w, h), Image.Resampling.BICUBIC)
    bloom = bloom.filter(ImageFilter.GaussianBlur(max(1, w // 100))).point(lambda v: 215 + v * 40 // 255)
    wash = ImageChops.multiply(wash, Image.merge("RGB", (bloom, bloom, bloom)))
    grain = Image.effect_noise((w, h), 40).filter(ImageFilter.EMBOSS).point(lambda v: 226 + (v - 128) // 4 + 20)
    return ImageChops.multiply(wash, Image.merge("RGB", (grain, grain, grain)))


def _crayon(image: Image.Image, rng: random.Random) -> Image.Image:
    """Wax crayon on paper: colours laid down in diagonal strokes, the paper's tooth showing through as white
    specks, and waxy dark outlines."""
    w, h = image.size
    flat = image.filter(ImageFilter.ModeFilter(3))
    strokes = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(strokes)
    length = max(4, w // 60)
    for _ in range(w * h // 90):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        draw.line((x, y, x + length, y - length * 0.6), fill=rng.randint(175, 255), width=1)
    colored = ImageChops.multiply(flat, Image.merge("RGB", (strokes, strokes, strokes)))
    tooth = Image.effect_noise((w, h), 90).point(lambda v: 255 if v > 205 else 0).filter(ImageFilter.GaussianBlur(0.4))
    colored = Image.composite(Image.new("RGB", (w, h), (250, 247, 238)), colored, tooth)
    outline = flat.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 255 - min(150, v * 2))
    return ImageChops.multiply(colored, Image.merge("RGB", (outline, outline, outline)))


def _pixelate(image: Image.Image) -> Image.Image:
    w, h = image.size
    block = max(3, round(min(w, h) / 96))
    small = image.resize((max(1, w // block), max(1, h // block)), Image.Resampling.BOX)
    return small.quantize(48, dither=Image.Dither.NONE).convert("RGB").resize((w, h), Image.Resampling.NEAREST)


def render_scene(plan: ScenePlan, width: int, height: int) -> Image.Image:
    """Paints a planned scene as an RGB image of exactly width x height."""
    check_size(width, height)
    palette = scene_palette(plan)
    canvas = _Canvas(width * SUPERSAMPLE, height * SUPERSAMPLE, plan, palette)
    _sky(canvas)
    if plan.setting == "interior":
        pass
    elif plan.setting not in ("space", "underwater"):
        cloud = (255, 236, 230, 200) if plan.time_of_day == "sunset" else (255, 255, 255, 215)
        if plan.time_of_day == "night":
            cloud = (120, 120, 170, 90)
        _sun_moon_stars(canvas)
        _clouds(canvas, canvas.rng.randint(2, 4), cloud)
    else:
        _sun_moon_stars(canvas)
    SETTING_PAINTERS[plan.setting](canvas)
    if plan.extra:
        _paint_extra(canvas)
    _paint_objects(canvas)
    _paint_figures(canvas)
    image = canvas.image.reduce(SUPERSAMPLE) if SUPERSAMPLE > 1 else canvas.image
    rng = random.Random(plan.seed ^ 0x5EED)
    if plan.mood == "mysterious":
        image = _fog(image, rng, mix(palette.sky_bottom, (200, 200, 230), 0.5), 0.55)
    elif plan.mood == "cozy":
        image = _glow(image, (255, 190, 110), 0.35)
    elif plan.mood == "joyful":
        image = ImageEnhance.Color(image).enhance(1.1)
    elif plan.mood == "tense":
        image = ImageEnhance.Contrast(image).enhance(1.3)
    if plan.style == "watercolor":
        image = _watercolor(image, rng)
    elif plan.style == "crayon":
        image = _crayon(image, rng)
    elif plan.style == "pixel":
        image = _pixelate(image)
    return _vignette(image, 0.8 if plan.mood in ("mysterious", "tense") else 0.5)


class ProceduralIllustrator:
    """An Illustrator that paints each scene with Pillow (see the module doc). Fast (tens of ms), deterministic."""

    name = "procedural"

    def __init__(self, *, max_concurrency: int = 2):
        self._slots = asyncio.Semaphore(max_concurrency)

    async def illustrate(self, scene: SceneText, requirements: StoryRequirements, *, width: int,
                         height: int) -> Picture:
        check_size(width, height)
        async with self._slots:
            return await asyncio.to_thread(self.illustrate_now, scene, requirements, width=width, height=height)

    def illustrate_now(self, scene: SceneText, requirements: StoryRequirements, *, width: int,
                       height: int) -> Picture:
        """The same picture, painted in the calling thread."""
        image = render_scene(plan_scene(scene, requirements), width, height)
        return Picture(png=encode_png(image), width=width, height=height)

    async def aclose(self) -> None:
        return None


__all__ = ["MAX_SIDE", "PALETTES", "ProceduralIllustrator", "ScenePlan", "characters_in", "plan_scene",
           "render_scene", "scene_palette"]

"""Friendly character figures for the procedural illustrator: rounded shapes, big eyes, a smile.

A figure is planned from a character's name and description (`figure_for`): its kind (a child, a cat, a fox, a
dragon, a robot...), an accessory (a crown, a wizard's hat, a helmet) and its colours, with colour words in the
description winning ("a purple dragon"). Colours not given are picked from a hash of the name, so a character
looks the same in every scene of a story. `draw_figure` paints one standing on the ground at (x, ground_y).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re

from PIL import ImageDraw

from storyloom.domain.picture_spec import FigureSpec

RGB = tuple[int, int, int]
# What ImageDraw takes as a colour.
Fill = float | tuple[int, ...] | str | None

# (kind, keywords in the name or description). The first kind with a match wins, so specific words come first.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("robot", ("robot", "android", "droid")),
    ("dragon", ("dragon", "dinosaur", "dino")),
    ("fox", ("fox",)),
    ("cat", ("cat", "kitten", "kitty", "lion", "tiger")),
    ("dog", ("dog", "puppy", "pup", "wolf")),
    ("bunny", ("bunny", "rabbit", "hare")),
    ("bear", ("bear", "teddy", "panda")),
    ("mouse", ("mouse", "mice", "hamster")),
    ("frog", ("frog", "toad")),
    ("penguin", ("penguin",)),
    ("owl", ("owl",)),
    ("bird", ("bird", "duck", "chick", "parrot", "robin", "hen", "chicken", "sparrow")),
    ("fish", ("fish", "goldfish")),
    ("child", ("girl", "boy", "kid", "child", "princess", "prince", "king", "queen", "knight", "wizard", "witch",
               "astronaut", "pirate", "fairy", "sister", "brother", "friend")),
)
_KIND_OF = {word: kind for kind, keys in reversed(KINDS) for word in keys}
ACCESSORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crown", ("princess", "prince", "king", "queen", "royal")),
    ("wizard_hat", ("wizard", "witch", "magician", "sorcerer")),
    ("helmet", ("astronaut", "knight", "space")),
    ("pirate_hat", ("pirate", "captain")),
)
COLOR_WORDS: dict[str, RGB] = {
    "red": (222, 72, 64), "orange": (240, 140, 50), "yellow": (246, 206, 70), "golden": (236, 184, 60),
    "gold": (236, 184, 60), "green": (86, 170, 90), "blue": (70, 130, 210), "purple": (150, 96, 200),
    "violet": (150, 96, 200), "pink": (244, 140, 180), "white": (246, 244, 240), "black": (60, 58, 68),
    "grey": (150, 152, 160), "gray": (150, 152, 160), "silver": (190, 196, 206), "brown": (150, 100, 62),
}
DEFAULT_COLORS: dict[str, tuple[RGB, ...]] = {
    "fox": ((236, 122, 48),), "frog": ((110, 186, 84),), "bear": ((156, 106, 70), (120, 84, 60)),
    "mouse": ((170, 168, 178), (196, 180, 170)), "bunny": ((240, 238, 232), (200, 190, 182), (176, 150, 128)),
    "cat": ((240, 160, 80), (150, 150, 160), (70, 68, 78), (244, 240, 232)),
    "dog": ((196, 148, 96), (226, 190, 130), (150, 100, 66)), "dragon": ((90, 176, 110), (120, 110, 210)),
    "robot": ((150, 186, 214), (190, 196, 206)), "penguin": ((52, 56, 72),), "owl": ((150, 110, 76),),
    "bird": ((250, 200, 70), (90, 160, 230), (230, 90, 80)), "fish": ((250, 150, 60), (240, 110, 150)),
    "child": ((222, 72, 64), (70, 130, 210), (246, 206, 70), (86, 170, 90), (150, 96, 200), (244, 140, 180)),
}
SKIN_TONES: tuple[RGB, ...] = ((255, 224, 196), (246, 204, 160), (228, 176, 126), (198, 140, 94), (150, 100, 66),
                               (112, 74, 50))
HAIR_COLORS: tuple[RGB, ...] = ((60, 44, 36), (110, 70, 40), (200, 150, 80), (232, 200, 120), (170, 70, 40),
                                (30, 28, 34))
INK: RGB = (44, 36, 48)
CHEEK = (255, 120, 130, 110)


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str
    kind: str
    color: RGB
    accent: RGB  # shirt trim, belly, snout...
    skin: RGB  # a child's skin
    hair: RGB
    accessory: str = ""
    gender: str = ""   # female, male, "" (a child's hair and clothes follow it)
    age: int = 0       # grown-ups are drawn taller, the old with grey hair and glasses
    toy: bool = False  # a stuffed toy: smaller, with a stitched seam


# Species (as picture specs name them) -> the figure that draws them.
SPECIES_KINDS = {
    "human": "child", "dinosaur": "dinosaur", "dragon": "dragon", "hedgehog": "hedgehog", "unicorn": "unicorn",
    "horse": "unicorn", "alien": "alien", "mermaid": "mermaid", "turtle": "turtle", "whale": "fish", "fish": "fish",
    "dolphin": "fish", "duck": "bird", "parrot": "bird", "bird": "bird", "owl": "owl", "penguin": "penguin",
    "bunny": "bunny", "cat": "cat", "dog": "dog", "fox": "fox", "bear": "bear", "mouse": "mouse", "frog": "frog",
    "robot": "robot", "camel": "dog", "lion": "cat", "tiger": "cat", "wolf": "dog", "sheep": "bunny",
    "squirrel": "fox", "monkey": "bear", "elephant": "bear", "seal": "penguin", "crab": "frog", "bee": "bird",
}
_EXTRA_COLORS: dict[str, tuple[RGB, ...]] = {
    "dinosaur": ((96, 180, 100), (240, 150, 60)), "hedgehog": ((150, 110, 80),), "unicorn": ((250, 248, 252),),
    "alien": ((130, 210, 120), (150, 200, 240)), "mermaid": ((60, 180, 170),), "turtle": ((110, 170, 90),),
}


def figure_from_spec(spec: FigureSpec) -> Figure:
    """The figure for a picture spec's character: its species, its colour, a child's or grown-up's looks."""
    kind = SPECIES_KINDS.get(spec.species, "") or (figure_for(spec.name, spec.name).kind if not spec.species
                                                    else "bear")
    digest = hashlib.sha256(spec.name.strip().lower().encode()).digest()
    options = DEFAULT_COLORS.get(kind) or _EXTRA_COLORS.get(kind) or DEFAULT_COLORS["child"]
    color = COLOR_WORDS.get(spec.colour, _pick(options, digest, 0))
    accent = _lighter(color, 0.55) if kind != "child" else _pick(DEFAULT_COLORS["child"], digest, 1)
    hair = _pick(HAIR_COLORS, digest, 3)
    if spec.age >= 60:
        hair = (214, 214, 220)
    accessory = spec.accessory if spec.accessory in ("crown", "wizard_hat", "helmet", "pirate_hat", "glasses") else ""
    if kind == "child" and spec.age >= 60 and not accessory:
        accessory = "glasses"
    return Figure(name=spec.name, kind=kind, color=color, accent=accent, skin=_pick(SKIN_TONES, digest, 2), hair=hair,
                  accessory=accessory, gender=spec.gender, age=spec.age, toy=spec.toy)


def _pick(options: tuple[RGB, ...], digest: bytes, index: int) -> RGB:
    return options[digest[index] % len(options)]


def figure_for(name: str, description: str = "") -> Figure:
    """The figure that draws a character, chosen from its name and description."""
    sequence = re.findall(r"[a-z]+", f"{description} {name}".lower())  # what it is, before what it is called
    words = set(sequence)
    kind = _first_kind(sequence)
    accessory = next((acc for acc, keys in ACCESSORIES if words & set(keys)), "")
    if kind != "child" and accessory == "helmet":
        accessory = ""  # a space cat keeps its ears
    digest = hashlib.sha256(name.strip().lower().encode()).digest()
    named = [COLOR_WORDS[word] for word in re.findall(r"[a-z]+", description.lower()) if word in COLOR_WORDS]
    color = named[0] if named else _pick(DEFAULT_COLORS[kind], digest, 0)
    accent = _lighter(color, 0.55) if kind != "child" else _pick(DEFAULT_COLORS["child"], digest, 1)
    return Figure(name=name, kind=kind, color=color, accent=accent, skin=_pick(SKIN_TONES, digest, 2),
                  hair=_pick(HAIR_COLORS, digest, 3), accessory=accessory)


def _first_kind(words: list[str]) -> str:
    """The kind named first ("a girl who loves frogs" is a child); a plural names its kind too."""
    for word in words:
        kind = _KIND_OF.get(singular(word))
        if kind:
            return kind
    return "child"


def singular(word: str) -> str:
    """The figure word a plural names ("bunnies" -> "bunny", "foxes" -> "fox"); other words unchanged."""
    if word in _KIND_OF:
        return word
    for ending, replacement in (("ies", "y"), ("es", ""), ("s", "")):
        if word.endswith(ending) and word[:-len(ending)] + replacement in _KIND_OF:
            return word[:-len(ending)] + replacement
    return word


def figure_words() -> set[str]:
    """Every word that names a kind of figure (to find creatures a scene mentions without a named character)."""
    return {word for _kind, keys in KINDS for word in keys}


def _lighter(color: RGB, amount: float) -> RGB:
    r, g, b = color
    return (round(r + (255 - r) * amount), round(g + (255 - g) * amount), round(b + (255 - b) * amount))


def _darker(color: RGB, amount: float) -> RGB:
    r, g, b = color
    return (round(r * (1 - amount)), round(g * (1 - amount)), round(b * (1 - amount)))


def _circle(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: Fill, outline: Fill = None,
            width: int = 0) -> None:
    draw.ellipse((x - r, y - r, x + r, y + r), fill=fill, outline=outline, width=width)


def _ellipse(draw: ImageDraw.ImageDraw, x: float, y: float, rx: float, ry: float, fill: Fill) -> None:
    draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=fill)


def _eyes(draw: ImageDraw.ImageDraw, x: float, y: float, spacing: float, size: float, facing: float,
          big: bool = False) -> None:
    """Two friendly eyes: white, a dark pupil looking towards `facing` (-1 left, 1 right), a highlight."""
    white = size * (1.35 if big else 1.0)
    for side in (-1, 1):
        ex = x + side * spacing
        _circle(draw, ex, y, white, (255, 255, 255), outline=INK, width=max(1, round(size * 0.18)))
        px = ex + facing * white * 0.35
        _circle(draw, px, y + white * 0.1, white * 0.58, INK)
        _circle(draw, px + white * 0.2, y - white * 0.15, white * 0.2, (255, 255, 255))


def _smile(draw: ImageDraw.ImageDraw, x: float, y: float, width: float, line: int) -> None:
    draw.arc((x - width, y - width * 0.7, x + width, y + width * 0.7), 20, 160, fill=INK, width=line)


def _cheeks(draw: ImageDraw.ImageDraw, x: float, y: float, spacing: float, r: float) -> None:
    for side in (-1, 1):
        _ellipse(draw, x + side * spacing, y, r, r * 0.65, CHEEK)


def draw_figure(draw: ImageDraw.ImageDraw, figure: Figure, x: float, ground_y: float, size: float,
                facing: float = 0.0, cheerful: bool = True) -> None:
    """Paints `figure` standing with its feet at (x, ground_y), about `size` pixels tall.

    `draw` must blend (an ImageDraw with mode "RGBA" on an RGB image). `facing` turns the eyes (-1 left, 1 right).
    """
    if figure.toy:
        size *= 0.7
    elif figure.kind == "child" and figure.age >= 16:
        size *= 1.3
    elif figure.kind == "child" and 0 < figure.age <= 5:
        size *= 0.88
    line = max(1, round(size * 0.018))
    # A soft shadow on the ground first.
    _ellipse(draw, x, ground_y, size * 0.3, size * 0.05, (20, 20, 40, 70))
    painter = {
        "child": _child, "robot": _robot, "owl": _bird, "bird": _bird, "penguin": _bird, "fish": _fish,
        "frog": _frog, "dinosaur": _dinosaur, "alien": _alien, "mermaid": _mermaid, "turtle": _turtle,
    }.get(figure.kind, _animal)
    painter(draw, figure, x, ground_y, size, facing, line, cheerful)
    if figure.toy:  # a stitched seam down the front
        for k in range(5):
            y = ground_y - size * (0.12 + k * 0.08)
            draw.line((x - size * 0.02, y, x + size * 0.02, y - size * 0.03), fill=(90, 70, 60), width=max(1, line))


def _child(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
           cheerful: bool) -> None:
    pants = _darker(f.accent, 0.35)
    for side in (-1, 1):  # legs and shoes
        draw.rounded_rectangle((x + side * s * 0.09 - s * 0.055, gy - s * 0.2, x + side * s * 0.09 + s * 0.055,
                                gy - s * 0.02), radius=s * 0.04, fill=pants)
        _ellipse(draw, x + side * s * 0.1 + facing * s * 0.02, gy - s * 0.025, s * 0.075, s * 0.035, INK)
    arm_y = gy - s * (0.5 if cheerful else 0.42)
    for side in (-1, 1):  # arms, a little raised when cheerful
        _ellipse(draw, x + side * s * 0.23, arm_y, s * 0.05, s * 0.11, f.color)
        _circle(draw, x + side * s * 0.25, arm_y + s * 0.1, s * 0.045, f.skin)
    if f.gender == "female":  # a dress, wider at the hem
        draw.polygon([(x - s * 0.15, gy - s * 0.56), (x + s * 0.15, gy - s * 0.56), (x + s * 0.24, gy - s * 0.15),
                      (x - s * 0.24, gy - s * 0.15)], fill=f.color)
        draw.rounded_rectangle((x - s * 0.17, gy - s * 0.6, x + s * 0.17, gy - s * 0.4), radius=s * 0.08, fill=f.color)
        draw.rectangle((x - s * 0.24, gy - s * 0.2, x + s * 0.24, gy - s * 0.15), fill=f.accent)
    else:  # a shirt and trousers
        for side in (-1, 1):
            draw.rounded_rectangle((x + side * s * 0.09 - s * 0.07, gy - s * 0.32, x + side * s * 0.09 + s * 0.07,
                                    gy - s * 0.05), radius=s * 0.03, fill=pants)
        draw.rounded_rectangle((x - s * 0.18, gy - s * 0.6, x + s * 0.18, gy - s * 0.3), radius=s * 0.07, fill=f.color)
        draw.rectangle((x - s * 0.18, gy - s * 0.34, x + s * 0.18, gy - s * 0.3), fill=_darker(f.color, 0.25))
    hx, hy, hr = x, gy - s * 0.77, s * 0.2
    _circle(draw, hx, hy, hr, f.skin)
    # Hair: a cap over the top of the head; long at the sides for a girl, short for a boy, a little for the old.
    if f.gender == "female":
        for side in (-1, 1):
            _ellipse(draw, hx + side * hr * 0.95, hy + hr * 0.35, hr * 0.3, hr * 0.95, f.hair)
    draw.chord((hx - hr * 1.06, hy - hr * 1.1, hx + hr * 1.06, hy + hr * 0.45), 180, 360, fill=f.hair)
    if f.gender != "male" and f.age < 60:
        for side in (-1, 1):
            _ellipse(draw, hx + side * hr * 0.9, hy - hr * 0.05, hr * 0.22, hr * 0.45, f.hair)
    _eyes(draw, hx + facing * hr * 0.12, hy + hr * 0.12, hr * 0.36, hr * 0.2, facing)
    _cheeks(draw, hx, hy + hr * 0.45, hr * 0.6, hr * 0.15)
    _smile(draw, hx + facing * hr * 0.1, hy + hr * 0.42, hr * 0.28, line)
    if f.age >= 60:  # a grey moustache or a bun
        if f.gender == "male":
            _ellipse(draw, hx, hy + hr * 0.32, hr * 0.3, hr * 0.09, f.hair)
        else:
            _circle(draw, hx, hy - hr * 1.05, hr * 0.3, f.hair)
    _accessory(draw, f.accessory, hx, hy, hr, line)


def _accessory(draw: ImageDraw.ImageDraw, accessory: str, hx: float, hy: float, hr: float, line: int) -> None:
    if accessory == "glasses":
        for side in (-1, 1):
            draw.ellipse((hx + side * hr * 0.36 - hr * 0.24, hy, hx + side * hr * 0.36 + hr * 0.24, hy + hr * 0.36),
                         outline=INK, width=max(1, line))
        draw.line((hx - hr * 0.12, hy + hr * 0.16, hx + hr * 0.12, hy + hr * 0.16), fill=INK, width=max(1, line))
    elif accessory == "crown":
        top = hy - hr * 0.85
        points = [(hx - hr * 0.6, top), (hx - hr * 0.65, top - hr * 0.55), (hx - hr * 0.32, top - hr * 0.25),
                  (hx, top - hr * 0.65), (hx + hr * 0.32, top - hr * 0.25), (hx + hr * 0.65, top - hr * 0.55),
                  (hx + hr * 0.6, top)]
        draw.polygon(points, fill=(246, 200, 60), outline=(190, 140, 30), width=line)
        _circle(draw, hx, top - hr * 0.15, hr * 0.1, (220, 60, 90))
    elif accessory == "wizard_hat":
        base = hy - hr * 0.7
        draw.polygon([(hx - hr * 0.8, base), (hx + hr * 0.8, base), (hx + hr * 0.15, base - hr * 1.6)],
                     fill=(96, 70, 170))
        _ellipse(draw, hx, base, hr * 1.15, hr * 0.18, (80, 56, 150))
        _star(draw, hx, base - hr * 0.6, hr * 0.2, (250, 220, 90))
    elif accessory == "helmet":
        draw.ellipse((hx - hr * 1.25, hy - hr * 1.25, hx + hr * 1.25, hy + hr * 1.15), outline=(220, 228, 236),
                     width=max(2, round(hr * 0.16)))
        draw.ellipse((hx - hr * 1.1, hy - hr * 1.1, hx + hr * 1.1, hy + hr), fill=(200, 230, 255, 50))
        _circle(draw, hx - hr * 0.55, hy - hr * 0.6, hr * 0.15, (255, 255, 255, 170))
    elif accessory == "pirate_hat":
        base = hy - hr * 0.6
        draw.chord((hx - hr * 1.2, base - hr * 0.9, hx + hr * 1.2, base + hr * 0.5), 180, 360, fill=INK)
        _circle(draw, hx, base - hr * 0.3, hr * 0.14, (246, 244, 240))


def _star(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: Fill) -> None:
    draw.regular_polygon((x, y, r), 5, rotation=0, fill=fill)
    draw.regular_polygon((x, y, r), 5, rotation=36, fill=fill)


def _animal(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
            cheerful: bool) -> None:
    """A sitting, chubby four-legged friend: cat, fox, dog, bunny, bear, mouse, dragon."""
    kind, body, belly = f.kind, f.color, f.accent
    back = -1 if facing >= 0 else 1  # the tail goes behind, away from where it looks
    # Tail.
    if kind in ("cat", "mouse"):
        draw.arc((x + back * s * 0.12 - s * 0.2, gy - s * 0.5, x + back * s * 0.12 + s * 0.2, gy - s * 0.05),
                 90 if back > 0 else -90, 270 if back > 0 else 90, fill=_darker(body, 0.1),
                 width=max(2, round(s * (0.05 if kind == "cat" else 0.02))))
    elif kind == "fox":
        tx = x + back * s * 0.3
        draw.ellipse((tx - s * 0.16, gy - s * 0.42, tx + s * 0.16, gy - s * 0.02), fill=body)
        _ellipse(draw, tx + back * s * 0.08, gy - s * 0.36, s * 0.07, s * 0.07, (250, 248, 244))
    elif kind == "dragon":
        draw.polygon([(x + back * s * 0.15, gy - s * 0.2), (x + back * s * 0.5, gy - s * 0.05),
                      (x + back * s * 0.15, gy - s * 0.02)], fill=body)
        draw.polygon([(x + back * s * 0.38, gy - s * 0.09), (x + back * s * 0.42, gy - s * 0.2),
                      (x + back * s * 0.47, gy - s * 0.07)], fill=belly)
        for side in (-1, 1):  # little wings
            wx = x + side * s * 0.22
            draw.polygon([(wx, gy - s * 0.45), (wx + side * s * 0.25, gy - s * 0.7), (wx + side * s * 0.2,
                          gy - s * 0.4), (wx + side * s * 0.05, gy - s * 0.3)], fill=_darker(body, 0.15))
    elif kind in ("bunny", "bear", "dog"):
        _circle(draw, x + back * s * 0.22, gy - s * 0.12, s * (0.07 if kind == "bunny" else 0.05),
                (250, 250, 250) if kind == "bunny" else _darker(body, 0.1))
    # Body, belly and feet.
    draw.ellipse((x - s * 0.25, gy - s * 0.5, x + s * 0.25, gy), fill=body)
    draw.ellipse((x - s * 0.15, gy - s * 0.38, x + s * 0.15, gy - s * 0.04), fill=belly)
    for side in (-1, 1):
        _ellipse(draw, x + side * s * 0.14, gy - s * 0.03, s * 0.08, s * 0.045, _darker(body, 0.08))
        _ellipse(draw, x + side * s * 0.13, gy - s * (0.3 if cheerful else 0.22), s * 0.045, s * 0.09,
                 _darker(body, 0.05))  # paws
    hx, hy, hr = x, gy - s * 0.64, s * 0.23
    # Ears behind the head.
    ear = _darker(body, 0.05)
    inner = (250, 180, 190) if kind != "dragon" else belly
    for side in (-1, 1):
        ex = hx + side * hr * 0.6
        if kind in ("cat", "fox"):
            draw.polygon([(ex - hr * 0.38, hy - hr * 0.55), (ex + side * hr * 0.2, hy - hr * 1.35),
                          (ex + hr * 0.38, hy - hr * 0.55)], fill=ear)
            draw.polygon([(ex - hr * 0.2, hy - hr * 0.65), (ex + side * hr * 0.16, hy - hr * 1.1),
                          (ex + hr * 0.2, hy - hr * 0.65)], fill=inner)
        elif kind == "bunny":
            _ellipse(draw, hx + side * hr * 0.38, hy - hr * 1.35, hr * 0.22, hr * 0.75, ear)
            _ellipse(draw, hx + side * hr * 0.38, hy - hr * 1.3, hr * 0.11, hr * 0.55, inner)
        elif kind in ("bear", "mouse"):
            er = hr * (0.3 if kind == "bear" else 0.45)
            _circle(draw, ex + side * hr * 0.1, hy - hr * 0.8, er, ear)
            _circle(draw, ex + side * hr * 0.1, hy - hr * 0.8, er * 0.55, inner)
        elif kind == "dragon":
            draw.polygon([(ex - hr * 0.15, hy - hr * 0.75), (ex + side * hr * 0.25, hy - hr * 1.4),
                          (ex + hr * 0.2, hy - hr * 0.7)], fill=(246, 230, 180))
    if kind == "hedgehog":  # a coat of spines behind the head and body
        for i in range(11):
            angle = math.pi * (0.95 + i * 0.11)
            for cx, cy, rr in ((x, gy - s * 0.3, s * 0.3), (hx, hy, hr * 1.05)):
                tip = (cx + math.cos(angle) * rr * 1.35, cy + math.sin(angle) * rr * 1.35)
                draw.polygon([(cx + math.cos(angle - 0.15) * rr, cy + math.sin(angle - 0.15) * rr), tip,
                              (cx + math.cos(angle + 0.15) * rr, cy + math.sin(angle + 0.15) * rr)],
                             fill=_darker(body, 0.35))
    _circle(draw, hx, hy, hr, body)
    if kind == "unicorn":  # a golden horn and a rainbow mane
        draw.polygon([(hx - hr * 0.12, hy - hr * 0.85), (hx + hr * 0.12, hy - hr * 0.85), (hx, hy - hr * 1.7)],
                     fill=(246, 200, 80))
        for i, colour in enumerate(((240, 100, 140), (250, 190, 80), (120, 200, 240), (170, 120, 230))):
            _ellipse(draw, hx - hr * (0.85 - i * 0.1), hy - hr * (0.55 - i * 0.35), hr * 0.22, hr * 0.3, colour)
    if kind == "dog":
        for side in (-1, 1):  # floppy ears over the head's sides
            draw.ellipse((hx + side * hr * 0.75 - hr * 0.25, hy - hr * 0.6, hx + side * hr * 0.75 + hr * 0.25,
                          hy + hr * 0.5), fill=_darker(body, 0.25))
    if kind == "dragon":
        for i in range(3):
            sx = hx - back * hr * (0.1 + i * 0.35)
            draw.polygon([(sx - hr * 0.12, hy - hr * 0.92 + i * hr * 0.18), (sx, hy - hr * 1.2 + i * hr * 0.22),
                          (sx + hr * 0.12, hy - hr * 0.92 + i * hr * 0.2)], fill=belly)
    # Face: a lighter muzzle, nose, eyes, smile.
    mx = hx + facing * hr * 0.15
    muzzle = belly if kind != "fox" else (250, 248, 244)
    _ellipse(draw, mx, hy + hr * 0.4, hr * (0.5 if kind in ("dog", "bear", "dragon") else 0.4), hr * 0.32, muzzle)
    _ellipse(draw, mx, hy + hr * 0.25, hr * 0.12, hr * 0.08, INK if kind != "dragon" else _darker(body, 0.4))
    _eyes(draw, hx + facing * hr * 0.15, hy - hr * 0.12, hr * 0.38, hr * 0.2, facing)
    _smile(draw, mx, hy + hr * 0.38, hr * 0.2, line)
    if kind in ("cat", "mouse", "fox"):
        for side in (-1, 1):
            for dy in (-0.04, 0.08):
                draw.line((mx + side * hr * 0.3, hy + hr * (0.36 + dy), mx + side * hr * 0.85,
                           hy + hr * (0.3 + dy * 2)), fill=INK, width=max(1, line // 2))
    _cheeks(draw, hx, hy + hr * 0.38, hr * 0.62, hr * 0.13)
    _accessory(draw, f.accessory, hx, hy, hr, line)


def _frog(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
          cheerful: bool) -> None:
    body, belly = f.color, f.accent
    draw.ellipse((x - s * 0.3, gy - s * 0.42, x + s * 0.3, gy), fill=body)
    _ellipse(draw, x, gy - s * 0.16, s * 0.18, s * 0.14, belly)
    for side in (-1, 1):
        _ellipse(draw, x + side * s * 0.28, gy - s * 0.04, s * 0.12, s * 0.05, _darker(body, 0.1))
    hx, hy = x, gy - s * 0.5
    draw.ellipse((hx - s * 0.3, hy - s * 0.17, hx + s * 0.3, hy + s * 0.17), fill=body)
    for side in (-1, 1):  # eyes on bumps on top of the head
        _circle(draw, hx + side * s * 0.15, hy - s * 0.17, s * 0.1, body)
    _eyes(draw, hx + facing * s * 0.02, hy - s * 0.17, s * 0.15, s * 0.06, facing, big=True)
    draw.arc((hx - s * 0.18, hy - s * 0.08, hx + s * 0.18, hy + s * 0.1), 15, 165, fill=INK, width=line)
    _cheeks(draw, hx, hy + s * 0.02, s * 0.2, s * 0.04)
    _accessory(draw, f.accessory, hx, hy - s * 0.05, s * 0.22, line)


def _bird(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
          cheerful: bool) -> None:
    """A round bird: owls get ear tufts and big eyes, penguins a white front."""
    body = f.color
    front = (250, 250, 246) if f.kind == "penguin" else f.accent
    height = s * (0.8 if f.kind == "penguin" else 0.62)
    top = gy - height
    for side in (-1, 1):
        _ellipse(draw, x + side * s * 0.08, gy - s * 0.02, s * 0.06, s * 0.03, (240, 150, 50))
    if f.kind == "owl":
        for side in (-1, 1):
            draw.polygon([(x + side * s * 0.1, top + s * 0.08), (x + side * s * 0.27, top - s * 0.06),
                          (x + side * s * 0.24, top + s * 0.16)], fill=_darker(body, 0.1))
    draw.ellipse((x - s * 0.27, top, x + s * 0.27, gy - s * 0.02), fill=body)
    draw.ellipse((x - s * 0.18, top + height * 0.35, x + s * 0.18, gy - s * 0.04), fill=front)
    wing_lift = -0.08 if cheerful else 0.0
    for side in (-1, 1):
        draw.ellipse((x + side * s * 0.27 - s * 0.08, top + height * (0.38 + wing_lift),
                      x + side * s * 0.27 + s * 0.08, top + height * (0.8 + wing_lift)), fill=_darker(body, 0.12))
    ey = top + height * 0.3
    _eyes(draw, x + facing * s * 0.03, ey, s * 0.09, s * 0.05, facing, big=f.kind == "owl")
    bx = x + facing * s * 0.03
    draw.polygon([(bx - s * 0.04, ey + s * 0.07), (bx + s * 0.04, ey + s * 0.07), (bx, ey + s * 0.13)],
                 fill=(246, 160, 50))
    _cheeks(draw, x, ey + s * 0.09, s * 0.14, s * 0.03)
    _accessory(draw, f.accessory, x, top + s * 0.15, s * 0.2, line)


def _fish(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
          cheerful: bool) -> None:
    """A fish floats a little above the ground."""
    cy = gy - s * 0.4
    direction = facing or 1.0
    tail = x - direction * s * 0.3
    draw.polygon([(tail, cy), (tail - direction * s * 0.18, cy - s * 0.15),
                  (tail - direction * s * 0.18, cy + s * 0.15)], fill=_darker(f.color, 0.1))
    _ellipse(draw, x, cy, s * 0.32, s * 0.2, f.color)
    draw.polygon([(x - s * 0.1, cy - s * 0.17), (x + s * 0.05, cy - s * 0.3), (x + s * 0.12, cy - s * 0.16)],
                 fill=f.accent)
    _eyes(draw, x + direction * s * 0.16, cy - s * 0.04, 0, s * 0.06, direction)
    _smile(draw, x + direction * s * 0.22, cy + s * 0.04, s * 0.05, line)


def _robot(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
           cheerful: bool) -> None:
    metal, light = f.color, (140, 230, 255)
    dark = _darker(metal, 0.3)
    for side in (-1, 1):
        draw.rounded_rectangle((x + side * s * 0.1 - s * 0.05, gy - s * 0.2, x + side * s * 0.1 + s * 0.05, gy),
                               radius=s * 0.02, fill=dark)
        arm_top = gy - s * (0.55 if cheerful else 0.48)
        draw.rounded_rectangle((x + side * s * 0.25 - s * 0.04, arm_top, x + side * s * 0.25 + s * 0.04,
                                arm_top + s * 0.24), radius=s * 0.04, fill=dark)
    draw.rounded_rectangle((x - s * 0.22, gy - s * 0.52, x + s * 0.22, gy - s * 0.17), radius=s * 0.06, fill=metal)
    draw.rounded_rectangle((x - s * 0.1, gy - s * 0.43, x + s * 0.1, gy - s * 0.28), radius=s * 0.03, fill=f.accent)
    _circle(draw, x, gy - s * 0.355, s * 0.035, (250, 110, 120))
    hx, hy = x, gy - s * 0.72
    draw.line((hx, hy - s * 0.16, hx, hy - s * 0.27), fill=dark, width=max(2, line))
    _circle(draw, hx, hy - s * 0.29, s * 0.04, (250, 110, 120))
    draw.rounded_rectangle((hx - s * 0.2, hy - s * 0.17, hx + s * 0.2, hy + s * 0.15), radius=s * 0.07, fill=metal)
    for side in (-1, 1):
        ex = hx + side * s * 0.08 + facing * s * 0.02
        _circle(draw, ex, hy - s * 0.02, s * 0.05, light, outline=dark, width=line)
        _circle(draw, ex + s * 0.015, hy - s * 0.035, s * 0.015, (255, 255, 255))
    _smile(draw, hx, hy + s * 0.05, s * 0.06, line)
    _cheeks(draw, hx, hy + s * 0.06, s * 0.13, s * 0.03)


def _dinosaur(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
              cheerful: bool) -> None:
    """A friendly long-necked dinosaur: no wings, a long tail, round plates on its back."""
    body, belly = f.color, f.accent
    d = facing or 1.0
    draw.polygon([(x - d * s * 0.2, gy - s * 0.35), (x - d * s * 0.6, gy - s * 0.1), (x - d * s * 0.2, gy - s * 0.18)],
                 fill=body)  # tail
    for k in range(4):  # back plates
        px = x - d * s * (0.2 - k * 0.12)
        draw.polygon([(px - s * 0.05, gy - s * 0.45), (px, gy - s * 0.56), (px + s * 0.05, gy - s * 0.45)],
                     fill=_darker(body, 0.25))
    _ellipse(draw, x, gy - s * 0.3, s * 0.28, s * 0.2, body)
    _ellipse(draw, x + d * s * 0.02, gy - s * 0.25, s * 0.17, s * 0.11, belly)
    for side in (-0.15, 0.12):  # legs
        draw.rounded_rectangle((x + side * s - s * 0.05, gy - s * 0.15, x + side * s + s * 0.05, gy), radius=s * 0.03,
                               fill=_darker(body, 0.1))
    neck = [(x + d * s * 0.12, gy - s * 0.4), (x + d * s * 0.26, gy - s * 0.75), (x + d * s * 0.36, gy - s * 0.75),
            (x + d * s * 0.26, gy - s * 0.36)]
    draw.polygon(neck, fill=body)
    hx, hy = x + d * s * 0.34, gy - s * 0.8
    _ellipse(draw, hx, hy, s * 0.13, s * 0.1, body)
    _eyes(draw, hx + d * s * 0.02, hy - s * 0.02, s * 0.05, s * 0.03, d)
    _smile(draw, hx + d * s * 0.06, hy + s * 0.04, s * 0.04, line)


def _alien(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
           cheerful: bool) -> None:
    """A round little alien with antennae and one big eye."""
    body = f.color
    for side in (-1, 1):
        draw.line((x + side * s * 0.08, gy - s * 0.6, x + side * s * 0.16, gy - s * 0.82), fill=_darker(body, 0.3),
                  width=max(2, line))
        _circle(draw, x + side * s * 0.16, gy - s * 0.84, s * 0.04, (250, 220, 90))
        _ellipse(draw, x + side * s * 0.12, gy - s * 0.03, s * 0.07, s * 0.04, _darker(body, 0.2))
    _ellipse(draw, x, gy - s * 0.33, s * 0.25, s * 0.3, body)
    _circle(draw, x + facing * s * 0.02, gy - s * 0.42, s * 0.1, (255, 255, 255), outline=INK, width=line)
    _circle(draw, x + facing * s * 0.05, gy - s * 0.41, s * 0.05, INK)
    _smile(draw, x, gy - s * 0.25, s * 0.07, line)
    _cheeks(draw, x, gy - s * 0.27, s * 0.14, s * 0.03)


def _mermaid(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
             cheerful: bool) -> None:
    """A child's top half and a fish's tail."""
    tail = f.color
    draw.polygon([(x - s * 0.16, gy - s * 0.5), (x + s * 0.16, gy - s * 0.5), (x + s * 0.05, gy - s * 0.12),
                  (x - s * 0.05, gy - s * 0.12)], fill=tail)
    draw.polygon([(x, gy - s * 0.14), (x - s * 0.2, gy), (x + s * 0.2, gy)], fill=_darker(tail, 0.15))
    child = dataclasses.replace(f, color=(246, 140, 170), gender="female")
    hx, hy, hr = x, gy - s * 0.72, s * 0.2
    draw.rounded_rectangle((x - s * 0.15, gy - s * 0.58, x + s * 0.15, gy - s * 0.45), radius=s * 0.05,
                           fill=child.color)
    for side in (-1, 1):
        _ellipse(draw, hx + side * hr * 0.95, hy + hr * 0.5, hr * 0.3, hr * 1.1, f.hair)
    _circle(draw, hx, hy, hr, f.skin)
    draw.chord((hx - hr * 1.06, hy - hr * 1.1, hx + hr * 1.06, hy + hr * 0.45), 180, 360, fill=f.hair)
    _eyes(draw, hx, hy + hr * 0.12, hr * 0.36, hr * 0.2, facing)
    _smile(draw, hx, hy + hr * 0.42, hr * 0.28, line)


def _turtle(draw: ImageDraw.ImageDraw, f: Figure, x: float, gy: float, s: float, facing: float, line: int,
            cheerful: bool) -> None:
    d = facing or 1.0
    skin = _lighter(f.color, 0.3)
    for side in (-0.18, 0.15):
        _ellipse(draw, x + side * s, gy - s * 0.05, s * 0.07, s * 0.05, skin)
    _ellipse(draw, x + d * s * 0.32, gy - s * 0.22, s * 0.12, s * 0.1, skin)
    draw.chord((x - s * 0.3, gy - s * 0.5, x + s * 0.3, gy + s * 0.05), 180, 360, fill=f.color)
    for k in range(3):
        _circle(draw, x + (k - 1) * s * 0.15, gy - s * 0.18, s * 0.06, _darker(f.color, 0.2))
    _eyes(draw, x + d * s * 0.35, gy - s * 0.25, 0, s * 0.03, d)
    _smile(draw, x + d * s * 0.38, gy - s * 0.18, s * 0.03, line)

"""The things a scene's text names, painted as simple friendly shapes: a lighthouse, a lamp, a star map, a comet,
a hat, apples, a cake... and the inside of a room (a bedroom, a kitchen or workshop, a school or library) for the
scenes that happen indoors.

Each painter takes an ImageDraw that blends ("RGBA" on an RGB image), a centre x, the y its base stands on, and a
size in pixels. `OBJECT_PAINTERS` maps the words a picture spec uses to them.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable

from PIL import ImageDraw

RGB = tuple[int, int, int]
# What ImageDraw takes as a colour.
Fill = float | tuple[int, ...] | str | None
Painter = Callable[[ImageDraw.ImageDraw, float, float, float, random.Random], None]

INK: RGB = (44, 36, 48)


def _star(d: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: Fill) -> None:
    points = []
    for i in range(10):
        angle = -math.pi / 2 + i * math.pi / 5
        radius = r if i % 2 == 0 else r * 0.45
        points.append((x + math.cos(angle) * radius, y + math.sin(angle) * radius))
    d.polygon(points, fill=fill)


def lighthouse(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    w0, w1, h = s * 0.22, s * 0.14, s * 0.95
    d.polygon([(x - w0, base), (x + w0, base), (x + w1, base - h), (x - w1, base - h)], fill=(248, 246, 240))
    for k in range(3):  # red stripes
        y0, y1 = base - h * (0.18 + k * 0.3), base - h * (0.31 + k * 0.3)
        t0, t1 = (base - y0) / h, (base - y1) / h
        d.polygon([(x - w0 + (w0 - w1) * t0, y0), (x + w0 - (w0 - w1) * t0, y0),
                   (x + w0 - (w0 - w1) * t1, y1), (x - w0 + (w0 - w1) * t1, y1)], fill=(214, 64, 60))
    top = base - h
    d.ellipse((x - s * 0.5, top - s * 0.36, x + s * 0.5, top + s * 0.06), fill=(255, 236, 150, 70))  # the beam glow
    d.rectangle((x - w1 * 1.1, top - s * 0.13, x + w1 * 1.1, top), fill=(255, 226, 120))
    d.polygon([(x - w1 * 1.4, top - s * 0.13), (x + w1 * 1.4, top - s * 0.13), (x, top - s * 0.28)], fill=(60, 60, 80))


def lamp(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.ellipse((x - s * 0.45, base - s * 0.95, x + s * 0.45, base - s * 0.15), fill=(255, 230, 140, 70))
    d.rectangle((x - s * 0.03, base - s * 0.5, x + s * 0.03, base), fill=(90, 80, 70))
    d.ellipse((x - s * 0.16, base - s * 0.04, x + s * 0.16, base + s * 0.03), fill=(90, 80, 70))
    d.polygon([(x - s * 0.22, base - s * 0.5), (x + s * 0.22, base - s * 0.5), (x + s * 0.12, base - s * 0.78),
               (x - s * 0.12, base - s * 0.78)], fill=(255, 214, 110))


def night_light(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    r = s * 0.18
    for k in range(4, 0, -1):
        d.ellipse((x - r * (1 + k), base - r * (2 + k), x + r * (1 + k), base + r * (k - 0.5)),
                  fill=(255, 232, 150, 28))
    d.ellipse((x - r, base - r * 2, x + r, base), fill=(255, 240, 170))
    d.pieslice((x - r * 1.1, base - r * 2.1, x + r * 1.1, base - r * 0.1), 200, 340, fill=(255, 250, 220))


def star_map(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    w, h = s * 0.6, s * 0.42
    top = base - h - s * 0.05
    d.rectangle((x - w, top, x + w, top + h), fill=(34, 46, 104))
    for side in (-1, 1):  # rolled ends
        d.ellipse((x + side * w - s * 0.06, top - s * 0.03, x + side * w + s * 0.06, top + h + s * 0.03),
                  fill=(226, 206, 160))
    stars = [(x + rng.uniform(-0.85, 0.85) * w, top + rng.uniform(0.15, 0.85) * h) for _ in range(6)]
    d.line(stars[:4], fill=(200, 210, 255), width=max(1, round(s * 0.012)))
    for sx, sy in stars:
        _star(d, sx, sy, s * 0.04, (255, 240, 160))


def comet(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    y = base - s * 1.4
    for k in range(12):  # the tail, fading
        t = k / 12
        r = s * 0.18 * (1 - t * 0.8)
        cx, cy = x - s * 1.4 * t, y - s * 0.7 * t
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 230, 170, round(200 * (1 - t))))
    d.ellipse((x - s * 0.14, y - s * 0.14, x + s * 0.14, y + s * 0.14), fill=(255, 250, 230))


def hat(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    y = base - s * 1.1  # a hat in the air, flying off
    d.ellipse((x - s * 0.35, y - s * 0.06, x + s * 0.35, y + s * 0.06), fill=(120, 60, 160))
    d.polygon([(x - s * 0.2, y), (x + s * 0.2, y), (x + s * 0.05, y - s * 0.45)], fill=(140, 80, 190))
    _star(d, x, y - s * 0.16, s * 0.07, (255, 220, 90))
    for k in range(3):  # motion lines
        d.line((x + s * (0.4 + k * 0.1), y - s * 0.2 + k * s * 0.1, x + s * (0.6 + k * 0.1),
               y - s * 0.25 + k * s * 0.1),
               fill=(255, 255, 255, 180), width=max(1, round(s * 0.02)))


def scarf(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    y = base - s * 0.1
    for k in range(5):
        color = (220, 60, 60) if k % 2 == 0 else (250, 240, 230)
        d.rectangle((x - s * 0.4 + k * s * 0.16, y - s * 0.06, x - s * 0.24 + k * s * 0.16, y + s * 0.06), fill=color)


def apples(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.polygon([(x - s * 0.4, base - s * 0.3), (x + s * 0.4, base - s * 0.3), (x + s * 0.3, base), (x - s * 0.3, base)],
              fill=(176, 120, 70))
    for k in range(5):
        ax, ay = x + (k - 2) * s * 0.14, base - s * 0.33 - (0.08 if k % 2 else 0) * s
        d.ellipse((ax - s * 0.09, ay - s * 0.09, ax + s * 0.09, ay + s * 0.09), fill=(220, 50, 50))
        d.line((ax, ay - s * 0.09, ax + s * 0.02, ay - s * 0.15), fill=(90, 60, 30), width=max(1, round(s * 0.015)))


def cake(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.rectangle((x - s * 0.35, base - s * 0.35, x + s * 0.35, base), fill=(250, 220, 230))
    d.rectangle((x - s * 0.35, base - s * 0.2, x + s * 0.35, base - s * 0.14), fill=(220, 120, 160))
    d.rectangle((x - s * 0.25, base - s * 0.55, x + s * 0.25, base - s * 0.35), fill=(255, 240, 245))
    for k in range(3):
        cx = x + (k - 1) * s * 0.14
        d.rectangle((cx - s * 0.015, base - s * 0.68, cx + s * 0.015, base - s * 0.55), fill=(120, 180, 240))
        d.ellipse((cx - s * 0.025, base - s * 0.74, cx + s * 0.025, base - s * 0.68), fill=(255, 200, 60))


def sunflowers(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    for k in range(3):
        fx, top = x + (k - 1) * s * 0.3, base - s * (0.9 + 0.15 * (k % 2))
        d.line((fx, base, fx, top), fill=(70, 140, 60), width=max(2, round(s * 0.03)))
        for i in range(12):
            angle = i * math.tau / 12
            px, py = fx + math.cos(angle) * s * 0.12, top + math.sin(angle) * s * 0.12
            d.ellipse((px - s * 0.06, py - s * 0.06, px + s * 0.06, py + s * 0.06), fill=(250, 200, 40))
        d.ellipse((fx - s * 0.08, top - s * 0.08, fx + s * 0.08, top + s * 0.08), fill=(110, 70, 30))


def treasure_chest(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.rectangle((x - s * 0.35, base - s * 0.3, x + s * 0.35, base), fill=(150, 90, 40))
    d.chord((x - s * 0.35, base - s * 0.52, x + s * 0.35, base - s * 0.1), 180, 360, fill=(170, 105, 50))
    d.rectangle((x - s * 0.35, base - s * 0.32, x + s * 0.35, base - s * 0.27), fill=(230, 190, 60))
    d.rectangle((x - s * 0.05, base - s * 0.34, x + s * 0.05, base - s * 0.22), fill=(250, 210, 70))
    for k in range(4):
        _star(d, x + (k - 1.5) * s * 0.15, base - s * 0.56, s * 0.05, (255, 240, 140))


def key(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    y = base - s * 0.5
    d.ellipse((x - s * 0.3, y - s * 0.12, x - s * 0.06, y + s * 0.12), outline=(236, 190, 50),
              width=max(2, round(s * 0.05)))
    d.rectangle((x - s * 0.07, y - s * 0.03, x + s * 0.3, y + s * 0.03), fill=(236, 190, 50))
    for k in range(2):
        d.rectangle((x + s * (0.16 + k * 0.08), y, x + s * (0.2 + k * 0.08), y + s * 0.1), fill=(236, 190, 50))
    d.ellipse((x - s * 0.4, y - s * 0.3, x + s * 0.4, y + s * 0.3), fill=(255, 240, 150, 40))


def rocket(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.polygon([(x - s * 0.15, base - s * 0.2), (x - s * 0.3, base), (x - s * 0.1, base - s * 0.1)], fill=(214, 64, 60))
    d.polygon([(x + s * 0.15, base - s * 0.2), (x + s * 0.3, base), (x + s * 0.1, base - s * 0.1)], fill=(214, 64, 60))
    d.rounded_rectangle((x - s * 0.15, base - s * 0.8, x + s * 0.15, base - s * 0.05), radius=s * 0.1,
                        fill=(236, 236, 244))
    d.polygon([(x - s * 0.15, base - s * 0.75), (x + s * 0.15, base - s * 0.75), (x, base - s * 1.05)],
              fill=(214, 64, 60))
    d.ellipse((x - s * 0.08, base - s * 0.6, x + s * 0.08, base - s * 0.44), fill=(120, 200, 240),
              outline=(90, 90, 110), width=max(1, round(s * 0.02)))
    d.polygon([(x - s * 0.08, base - s * 0.05), (x + s * 0.08, base - s * 0.05), (x, base + s * 0.2)],
              fill=(255, 180, 60))


def telescope(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.line((x, base - s * 0.4, x - s * 0.15, base), fill=(90, 70, 60), width=max(2, round(s * 0.03)))
    d.line((x, base - s * 0.4, x + s * 0.15, base), fill=(90, 70, 60), width=max(2, round(s * 0.03)))
    d.polygon([(x - s * 0.3, base - s * 0.35), (x + s * 0.25, base - s * 0.7), (x + s * 0.3, base - s * 0.6),
               (x - s * 0.25, base - s * 0.27)], fill=(70, 110, 190))


def train(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    for k, color in enumerate(((214, 64, 60), (70, 130, 210), (246, 206, 70))):
        cx = x - s * 0.6 + k * s * 0.45
        d.rounded_rectangle((cx - s * 0.2, base - s * 0.4, cx + s * 0.2, base - s * 0.08), radius=s * 0.04, fill=color)
        d.rectangle((cx - s * 0.12, base - s * 0.34, cx + s * 0.12, base - s * 0.22), fill=(220, 240, 255))
        for side in (-1, 1):
            d.ellipse((cx + side * s * 0.11 - s * 0.06, base - s * 0.12, cx + side * s * 0.11 + s * 0.06, base),
                      fill=INK)
    d.rectangle((x - s * 0.75, base - s * 0.55, x - s * 0.65, base - s * 0.4), fill=(60, 60, 70))


def clock_tower(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    w, h = s * 0.22, s * 1.1
    d.rectangle((x - w, base - h, x + w, base), fill=(170, 140, 110))
    d.polygon([(x - w * 1.2, base - h), (x + w * 1.2, base - h), (x, base - h - s * 0.3)], fill=(100, 70, 60))
    cy = base - h + s * 0.22
    d.ellipse((x - w * 0.75, cy - w * 0.75, x + w * 0.75, cy + w * 0.75), fill=(250, 246, 230), outline=INK,
              width=max(1, round(s * 0.015)))
    d.line((x, cy, x, cy - w * 0.5), fill=INK, width=max(1, round(s * 0.02)))
    d.line((x, cy, x + w * 0.35, cy), fill=INK, width=max(1, round(s * 0.02)))
    for k in range(2):  # small notes fluttering from the window
        nx, ny = x + w * (1.3 + k * 0.6), base - h * (0.55 - k * 0.12)
        d.rectangle((nx, ny, nx + s * 0.1, ny + s * 0.07), fill=(255, 252, 235))


def honey(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.rounded_rectangle((x - s * 0.2, base - s * 0.45, x + s * 0.2, base), radius=s * 0.06, fill=(236, 160, 40))
    d.rectangle((x - s * 0.22, base - s * 0.52, x + s * 0.22, base - s * 0.42), fill=(220, 100, 90))
    d.rectangle((x - s * 0.12, base - s * 0.3, x + s * 0.12, base - s * 0.16), fill=(255, 240, 200))


def oasis(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.ellipse((x - s * 0.7, base - s * 0.15, x + s * 0.7, base + s * 0.1), fill=(80, 170, 220))
    d.line((x - s * 0.3, base - s * 0.05, x - s * 0.2, base - s * 0.9), fill=(140, 100, 60),
           width=max(2, round(s * 0.05)))
    for k in range(5):
        angle = math.pi + k * math.pi / 4
        d.chord((x - s * 0.2 - s * 0.35 + math.cos(angle) * s * 0.1, base - s * 1.05, x - s * 0.2 + s * 0.35
                 + math.cos(angle) * s * 0.1, base - s * 0.75), 180 + k * 20, 300 + k * 20, fill=(70, 150, 70))


def kite(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    y = base - s * 1.5
    d.polygon([(x, y - s * 0.3), (x + s * 0.2, y), (x, y + s * 0.35), (x - s * 0.2, y)], fill=(230, 70, 80))
    d.line((x, y + s * 0.35, x - s * 0.3, base - s * 0.3), fill=(80, 80, 90), width=max(1, round(s * 0.01)))


def boat(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.polygon([(x - s * 0.5, base - s * 0.2), (x + s * 0.5, base - s * 0.2), (x + s * 0.35, base),
              (x - s * 0.35, base)],
              fill=(170, 100, 60))
    d.line((x, base - s * 0.2, x, base - s * 0.85), fill=(90, 60, 40), width=max(2, round(s * 0.03)))
    d.polygon([(x + s * 0.02, base - s * 0.82), (x + s * 0.4, base - s * 0.25), (x + s * 0.02, base - s * 0.25)],
              fill=(250, 248, 240))


def books(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    for k, color in enumerate(((214, 64, 60), (70, 130, 210), (86, 170, 90))):
        d.rectangle((x - s * 0.25, base - s * 0.08 * (k + 1), x + s * 0.25, base - s * 0.08 * k), fill=color)


def crown(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    y = base - s * 0.2
    d.polygon([(x - s * 0.25, y), (x - s * 0.28, y - s * 0.25), (x - s * 0.12, y - s * 0.12), (x, y - s * 0.3),
               (x + s * 0.12, y - s * 0.12), (x + s * 0.28, y - s * 0.25), (x + s * 0.25, y)], fill=(246, 200, 60))


def solar_panel(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.line((x, base, x, base - s * 0.4), fill=(150, 150, 160), width=max(2, round(s * 0.03)))
    d.polygon([(x - s * 0.45, base - s * 0.55), (x + s * 0.35, base - s * 0.6), (x + s * 0.45, base - s * 0.35),
               (x - s * 0.35, base - s * 0.3)], fill=(40, 70, 150))
    for k in range(1, 4):
        d.line((x - s * 0.45 + k * s * 0.2, base - s * 0.56, x - s * 0.35 + k * s * 0.2, base - s * 0.31),
               fill=(150, 190, 240), width=max(1, round(s * 0.01)))


def northern_lights(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    for k, color in enumerate(((90, 240, 160, 70), (160, 120, 240, 60), (90, 200, 240, 60))):
        points = [(i / 20 * s * 6 + x - s * 3, s * 0.2 + k * s * 0.1 + math.sin(i / 3 + k) * s * 0.15)
                  for i in range(21)]
        d.line(points, fill=color, width=max(3, round(s * 0.18)))


def notes(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    for k in range(3):
        nx, ny = x + (k - 1) * s * 0.2, base - s * (0.2 + 0.12 * k)
        d.polygon([(nx - s * 0.1, ny - s * 0.07), (nx + s * 0.1, ny - s * 0.09), (nx + s * 0.11, ny + s * 0.07),
                   (nx - s * 0.09, ny + s * 0.08)], fill=(255, 250, 225))
        d.line((nx - s * 0.06, ny - s * 0.02, nx + s * 0.06, ny - s * 0.03), fill=(120, 120, 140), width=1)


def snowman(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    for k, r in enumerate((0.25, 0.18, 0.13)):
        cy = base - s * (0.25, 0.62, 0.9)[k]
        d.ellipse((x - r * s, cy - r * s, x + r * s, cy + r * s), fill=(252, 252, 255))
    d.polygon([(x, base - s * 0.9), (x + s * 0.12, base - s * 0.88), (x, base - s * 0.86)], fill=(240, 140, 50))


def balloon(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    y = base - s * 1.3
    d.ellipse((x - s * 0.18, y - s * 0.22, x + s * 0.18, y + s * 0.22), fill=(240, 80, 110))
    d.line((x, y + s * 0.22, x - s * 0.05, base - s * 0.35), fill=(80, 80, 90), width=1)


def bell(d: ImageDraw.ImageDraw, x: float, base: float, s: float, rng: random.Random) -> None:
    d.chord((x - s * 0.2, base - s * 0.5, x + s * 0.2, base - s * 0.05), 180, 360, fill=(236, 190, 50))
    d.rectangle((x - s * 0.2, base - s * 0.28, x + s * 0.2, base - s * 0.1), fill=(236, 190, 50))


OBJECT_PAINTERS: dict[str, Painter] = {
    "lighthouse": lighthouse, "lamp": lamp, "lantern": lamp, "night light": night_light, "star map": star_map,
    "map": star_map, "comet": comet, "hat": hat, "scarf": scarf, "apples": apples, "apple": apples, "cake": cake,
    "sunflowers": sunflowers, "flowers": sunflowers, "treasure chest": treasure_chest, "treasure": treasure_chest,
    "key": key, "rocket": rocket, "telescope": telescope, "train": train, "clock tower": clock_tower,
    "honey": honey, "oasis": oasis, "kite": kite, "boat": boat, "books": books, "book": books, "crown": crown,
    "solar panel": solar_panel, "northern lights": northern_lights, "notes": notes, "note": notes,
    "snowman": snowman, "balloon": balloon, "bell": bell,
}
# Drawn in the sky, not on the ground.
SKY_OBJECTS = frozenset({"comet", "northern lights", "kite", "balloon", "hat"})


def painter_for(name: str) -> Painter | None:
    """The painter for a thing's name: an exact name, else the word of it named first ("lighthouse lamp" is a
    lighthouse, "jar of honey" is honey)."""
    low = name.lower()
    if low in OBJECT_PAINTERS:
        return OBJECT_PAINTERS[low]
    found = []
    for word, painter in OBJECT_PAINTERS.items():
        match = re.search(rf"\b{re.escape(word)}\b", low)
        if match:
            found.append((match.start(), -len(word), painter))
    return min(found, key=lambda f: f[:2])[2] if found else None


# --- rooms -----------------------------------------------------------------------------------------------------


def paint_room(d: ImageDraw.ImageDraw, w: float, h: float, kind: str, night: bool, rng: random.Random,
               wall: RGB, floor: RGB) -> tuple[float, float]:
    """A room seen from the front: a wall with a window (a night or day sky in it), a floor, and the room's
    furniture. Returns (the floor line y, the x of the window's centre)."""
    floor_y = h * rng.uniform(0.66, 0.72)
    d.rectangle((0, 0, w, floor_y), fill=wall)
    for k in range(0, int(w), max(1, int(w / 24))):  # a soft wallpaper pattern
        d.line((k, 0, k, floor_y), fill=(255, 255, 255, 18), width=max(1, int(w / 200)))
    d.rectangle((0, floor_y, w, h), fill=floor)
    for k in range(8):  # floorboards
        y = floor_y + (h - floor_y) * (k + 1) / 8
        d.line((0, y, w, y), fill=(0, 0, 0, 25), width=max(1, int(h / 300)))
    wx = w * rng.choice((0.22, 0.5, 0.78))
    ww, wh, wy = w * 0.13, h * 0.22, h * 0.12
    sky = (26, 34, 84) if night else (150, 205, 240)
    d.rectangle((wx - ww, wy, wx + ww, wy + wh), fill=sky, outline=(240, 236, 226), width=max(2, int(w / 120)))
    d.line((wx, wy, wx, wy + wh), fill=(240, 236, 226), width=max(2, int(w / 160)))
    if night:
        d.ellipse((wx + ww * 0.3, wy + wh * 0.15, wx + ww * 0.75, wy + wh * 0.45), fill=(255, 246, 200))
        for _ in range(6):
            sx, sy = rng.uniform(wx - ww * 0.9, wx + ww * 0.2), rng.uniform(wy + wh * 0.1, wy + wh * 0.9)
            _star(d, sx, sy, w * 0.006, (255, 246, 200))
    else:
        d.ellipse((wx - ww * 0.8, wy + wh * 0.55, wx - ww * 0.1, wy + wh * 0.8), fill=(255, 255, 255))
    for side in (-1, 1):  # curtains
        cx = wx + side * ww * 1.15
        d.polygon([(cx - ww * 0.25, wy - h * 0.02), (cx + ww * 0.25, wy - h * 0.02),
                  (cx + ww * 0.15 * side, wy + wh * 1.1),
                   (cx - ww * 0.1 * side, wy + wh * 1.1)], fill=(220, 110, 120))
    if kind == "bedroom":
        bx = w * (0.78 if wx < w * 0.5 else 0.22)
        d.rounded_rectangle((bx - w * 0.2, floor_y - h * 0.16, bx + w * 0.2, floor_y + h * 0.06), radius=h * 0.02,
                            fill=(170, 120, 80))
        d.rounded_rectangle((bx - w * 0.19, floor_y - h * 0.2, bx + w * 0.19, floor_y), radius=h * 0.03,
                            fill=(120, 160, 220))
        d.ellipse((bx - w * 0.17, floor_y - h * 0.26, bx - w * 0.05, floor_y - h * 0.16), fill=(250, 250, 250))
        d.rectangle((bx - w * 0.21, floor_y - h * 0.32, bx - w * 0.19, floor_y + h * 0.06), fill=(150, 100, 70))
        d.ellipse((w * 0.35, floor_y + h * 0.08, w * 0.65, floor_y + h * 0.2), fill=(240, 200, 120))  # a rug
        for k in range(4):  # paper stars on the wall
            _star(d, w * (0.1 + k * 0.25), h * 0.06 + (k % 2) * h * 0.04, w * 0.012, (255, 230, 140))
    elif kind == "school":
        for k in range(4):  # bookshelves
            sx = w * (0.04 if wx > w * 0.5 else 0.66) + k * w * 0.075
            d.rectangle((sx, floor_y - h * 0.42, sx + w * 0.07, floor_y), fill=(150, 100, 60))
            for row in range(4):
                for b in range(4):
                    color = rng.choice(((214, 64, 60), (70, 130, 210), (86, 170, 90), (246, 206, 70)))
                    by = floor_y - h * (0.1 + row * 0.1)
                    d.rectangle((sx + w * (0.006 + b * 0.016), by - h * 0.07, sx + w * (0.018 + b * 0.016), by),
                                fill=color)
    else:  # a kitchen or workshop: a table and shelves
        tx = w * (0.75 if wx < w * 0.5 else 0.25)
        d.rectangle((tx - w * 0.16, floor_y - h * 0.14, tx + w * 0.16, floor_y - h * 0.11), fill=(170, 120, 80))
        for side in (-1, 1):
            d.rectangle((tx + side * w * 0.14 - w * 0.01, floor_y - h * 0.11, tx + side * w * 0.14 + w * 0.01, floor_y),
                        fill=(150, 100, 70))
        d.rectangle((w * 0.05, h * 0.3, w * 0.3, h * 0.32), fill=(150, 100, 70))
        for k in range(4):
            jx = w * (0.07 + k * 0.06)
            d.rounded_rectangle((jx, h * 0.24, jx + w * 0.04, h * 0.3), radius=w * 0.006,
                                fill=rng.choice(((240, 200, 120), (200, 230, 200), (230, 170, 170))))
    return floor_y, wx

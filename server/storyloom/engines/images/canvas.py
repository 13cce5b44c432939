"""The procedural illustrator's canvas (supersampled, with paper cut-out shadows per layer) and its sky: the
gradient, clouds, the sun, the moon and stars.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from storyloom.engines.images.palette import RGB, Palette, mix
from storyloom.engines.images.scene_plan import ScenePlan

# What ImageDraw takes as a colour.
Fill = float | tuple[int, ...] | str | None

SUPERSAMPLE = 2  # painted at this multiple of the size and scaled down: smooth edges without antialiased drawing


class Canvas:
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
        self.draw = _Tee(painter, ImageDraw.Draw(mask))  # type: ignore[assignment]  # _Tee duck-types ImageDraw
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


def paint_sky(c: Canvas) -> None:
    p = c.palette
    c.image.paste(_vertical_gradient((c.w, c.h), p.sky_top, p.sky_bottom, bands=5 if c.cutout else 0))


def paint_clouds(c: Canvas, count: int, color: tuple[int, int, int, int]) -> None:
    for _ in range(count):
        x, y = c.rng.uniform(0, c.w), c.rng.uniform(c.h * 0.06, c.h * 0.3)
        size = c.u * c.rng.uniform(0.06, 0.1)
        for dx, dy, r in ((0, 0, 1.0), (-0.9, 0.25, 0.7), (0.9, 0.25, 0.75), (0.4, -0.35, 0.7), (-0.4, 0.3, 0.8)):
            cx, cy, rr = x + dx * size, y + dy * size, r * size
            c.draw.ellipse((cx - rr * 1.3, cy - rr, cx + rr * 1.3, cy + rr), fill=color)


def paint_sun_moon_stars(c: Canvas) -> None:
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


def _moon(c: Canvas, x: float, y: float, r: float) -> None:
    for k in range(4, 0, -1):
        rr = r * (1 + k * 0.4)
        c.draw.ellipse((x - rr, y - rr, x + rr, y + rr), fill=(255, 250, 210, 14))
    mask = Image.new("L", (round(r * 2) + 2, round(r * 2) + 2), 0)
    md = ImageDraw.Draw(mask)
    md.ellipse((1, 1, r * 2, r * 2), fill=255)
    md.ellipse((1 + r * 0.55, 1 - r * 0.2, r * 2 + r * 0.55, r * 2 - r * 0.2), fill=0)  # a crescent
    c.image.paste((255, 246, 200), (round(x - r), round(y - r)), mask)

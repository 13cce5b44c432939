"""The procedural illustrator's settings: one painter per setting (forest, meadow, ocean, underwater, space, castle,
desert, snow, city, a room indoors) and the details setting families share (a pond, a barn, clouds...).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from storyloom.engines.images.canvas import Canvas, paint_clouds
from storyloom.engines.images.objects import paint_room
from storyloom.engines.images.palette import RGB, mix


def _tree_round(c: Canvas, x: float, base: float, size: float, leaves: RGB, trunk: RGB = (120, 84, 58)) -> None:
    d = c.draw
    d.rectangle((x - size * 0.07, base - size * 0.5, x + size * 0.07, base), fill=trunk)
    for dx, dy, r in ((0, -0.8, 0.35), (-0.22, -0.62, 0.26), (0.22, -0.62, 0.26), (0, -0.55, 0.3)):
        cx, cy, rr = x + dx * size, base + dy * size, r * size
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=leaves)
    hx, hy, hr = x - size * 0.1, base - size * 0.9, size * 0.1
    d.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=(*mix(leaves, (255, 255, 230), 0.25), 160))


def _tree_pine(c: Canvas, x: float, base: float, size: float, leaves: RGB, snow: bool = False) -> None:
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


def _paint_forest(c: Canvas) -> None:
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


def _grass(c: Canvas, ground: RGB, count: int) -> None:
    dark = mix(ground, (20, 60, 20), 0.3)
    for _ in range(count):
        x, y = c.rng.uniform(0, c.w), c.rng.uniform(0.82, 1.0) * c.h
        s = c.u * 0.025
        for dx in (-0.5, 0, 0.5):
            c.draw.line((x, y, x + dx * s, y - s), fill=dark, width=max(1, round(c.u * 0.004)))


def _flowers(c: Canvas, count: int, top: float = 0.82) -> None:
    for _ in range(count):
        x, y = c.rng.uniform(0, c.w), c.rng.uniform(top, 1.0) * c.h
        r = c.u * c.rng.uniform(0.008, 0.014)
        color = c.rng.choice(c.palette.accents)
        for k in range(5):
            a = k * math.tau / 5
            px, py = x + math.cos(a) * r, y + math.sin(a) * r
            c.draw.ellipse((px - r * 0.8, py - r * 0.8, px + r * 0.8, py + r * 0.8), fill=color)
        c.draw.ellipse((x - r * 0.6, y - r * 0.6, x + r * 0.6, y + r * 0.6), fill=(255, 210, 70))


def _mountains(c: Canvas, color: RGB, snow_caps: bool = True) -> None:
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


def _paint_meadow(c: Canvas) -> None:
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


def _butterflies(c: Canvas, count: int) -> None:
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


def _paint_ocean(c: Canvas) -> None:
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


def _paint_underwater(c: Canvas) -> None:
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


def _bubbles(c: Canvas, count: int) -> None:
    for _ in range(count):
        x, y, r = c.rng.uniform(0, c.w), c.rng.uniform(0.05, 0.8) * c.h, c.u * c.rng.uniform(0.006, 0.018)
        c.draw.ellipse((x - r, y - r, x + r, y + r), outline=(230, 250, 255, 200), width=max(1, round(r * 0.25)),
                       fill=(255, 255, 255, 30))
        c.draw.ellipse((x - r * 0.5, y - r * 0.6, x - r * 0.1, y - r * 0.2), fill=(255, 255, 255, 200))


def _paint_space(c: Canvas) -> None:
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


def _paint_castle(c: Canvas) -> None:
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


def _castle(c: Canvas, x: float, base: float, size: float) -> None:
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


def _paint_desert(c: Canvas) -> None:
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


def _cactus(c: Canvas, x: float, base: float, s: float) -> None:
    color, w = c.palette.motif, s * 0.16
    c.draw.rounded_rectangle((x - w / 2, base - s, x + w / 2, base), radius=w / 2, fill=color)
    for side, height in ((-1, 0.55), (1, 0.7)):
        ax = x + side * w * 1.2
        c.draw.rounded_rectangle((ax - w * 0.35, base - s * height, ax + w * 0.35, base - s * (height - 0.3)),
                                 radius=w * 0.35, fill=color)
        c.draw.rectangle((min(x, ax), base - s * (height - 0.3) - w * 0.35, max(x, ax), base - s * (height - 0.3)),
                         fill=color)


def _paint_snow(c: Canvas) -> None:
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


def _paint_city(c: Canvas) -> None:
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


SETTING_PAINTERS: dict[str, Callable[[Canvas], None]] = {
    "forest": _paint_forest, "meadow": _paint_meadow, "ocean": _paint_ocean, "underwater": _paint_underwater,
    "space": _paint_space, "castle": _paint_castle, "desert": _paint_desert, "snow": _paint_snow,
    "city": _paint_city,
}


def _paint_interior(c: Canvas) -> None:
    night = c.plan.time_of_day == "night"
    wall = mix(c.palette.far, (60, 60, 110), 0.45) if night else c.palette.far
    floor_y, _ = paint_room(c.draw, c.w, c.h, c.plan.room or "home", night, c.rng, wall, c.palette.ground)
    c.horizon = floor_y


SETTING_PAINTERS["interior"] = _paint_interior


def paint_extra(c: Canvas) -> None:
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
            paint_clouds(c, 6, (255, 255, 255, 230))

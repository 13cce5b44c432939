"""The procedural illustrator's colours: a palette per setting, changed for the time of day, the mood and the style."""

from __future__ import annotations

import colorsys
import dataclasses

from storyloom.engines.images.scene_plan import ScenePlan

RGB = tuple[int, int, int]


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

# --- colour helpers ------------------------------------------------------------------------------------------------


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

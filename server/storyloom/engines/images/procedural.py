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

The parts live beside this module: the plan in `scene_plan`, the colours in `palette`, the canvas and sky in
`canvas`, the settings' painters in `landscapes`, the light and style filters in `filters`; characters in
`figures` and key objects in `objects`.
"""

from __future__ import annotations

import asyncio
import random

from PIL import Image, ImageEnhance

from storyloom.domain.ports.story import Picture, SceneText
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.images.canvas import SUPERSAMPLE, Canvas, paint_clouds, paint_sky, paint_sun_moon_stars
from storyloom.engines.images.figures import draw_figure
from storyloom.engines.images.filters import crayon, fog, glow, pixelate, vignette, watercolor
from storyloom.engines.images.landscapes import SETTING_PAINTERS, paint_extra
from storyloom.engines.images.objects import SKY_OBJECTS, painter_for
from storyloom.engines.images.palette import mix, scene_palette
from storyloom.engines.images.pictures import check_size, encode_png
from storyloom.engines.images.scene_plan import ScenePlan, plan_scene


def _paint_objects(c: Canvas) -> list[float]:
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


def _paint_figures(c: Canvas) -> None:
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


def render_scene(plan: ScenePlan, width: int, height: int) -> Image.Image:
    """Paints a planned scene as an RGB image of exactly width x height."""
    check_size(width, height)
    palette = scene_palette(plan)
    canvas = Canvas(width * SUPERSAMPLE, height * SUPERSAMPLE, plan, palette)
    paint_sky(canvas)
    if plan.setting == "interior":
        pass
    elif plan.setting not in ("space", "underwater"):
        cloud = (255, 236, 230, 200) if plan.time_of_day == "sunset" else (255, 255, 255, 215)
        if plan.time_of_day == "night":
            cloud = (120, 120, 170, 90)
        paint_sun_moon_stars(canvas)
        paint_clouds(canvas, canvas.rng.randint(2, 4), cloud)
    else:
        paint_sun_moon_stars(canvas)
    SETTING_PAINTERS[plan.setting](canvas)
    if plan.extra:
        paint_extra(canvas)
    _paint_objects(canvas)
    _paint_figures(canvas)
    image = canvas.image.reduce(SUPERSAMPLE) if SUPERSAMPLE > 1 else canvas.image
    rng = random.Random(plan.seed ^ 0x5EED)
    if plan.mood == "mysterious":
        image = fog(image, rng, mix(palette.sky_bottom, (200, 200, 230), 0.5), 0.55)
    elif plan.mood == "cozy":
        image = glow(image, (255, 190, 110), 0.35)
    elif plan.mood == "joyful":
        image = ImageEnhance.Color(image).enhance(1.1)
    elif plan.mood == "tense":
        image = ImageEnhance.Contrast(image).enhance(1.3)
    if plan.style == "watercolor":
        image = watercolor(image, rng)
    elif plan.style == "crayon":
        image = crayon(image, rng)
    elif plan.style == "pixel":
        image = pixelate(image)
    return vignette(image, 0.8 if plan.mood in ("mysterious", "tense") else 0.5)


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


__all__ = ["ProceduralIllustrator", "render_scene"]

"""Light, mood and style filters for the procedural illustrator, applied at the final size: fog, a warm glow, a
vignette, watercolour, crayon and pixel art.
"""

from __future__ import annotations

import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from storyloom.engines.images.palette import RGB


def fog(image: Image.Image, rng: random.Random, color: RGB, strength: float) -> Image.Image:
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


def glow(image: Image.Image, color: RGB, strength: float) -> Image.Image:
    """A warm light from the centre, fading out."""
    w, h = image.size
    mask = Image.radial_gradient("L").resize((w, h), Image.Resampling.BILINEAR)
    mask = mask.point(lambda v: round(max(0, 255 - v * 1.6) * strength))
    return Image.composite(Image.new("RGB", (w, h), color), image, mask)


def vignette(image: Image.Image, strength: float) -> Image.Image:
    w, h = image.size
    mask = Image.radial_gradient("L").resize((w, h), Image.Resampling.BILINEAR)
    mask = mask.point(lambda v: round(min(255, max(0, (v - 110) * 1.4)) * strength))
    return Image.composite(Image.new("RGB", (w, h), (24, 16, 36)), image, mask)


def watercolor(image: Image.Image, rng: random.Random) -> Image.Image:
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


def crayon(image: Image.Image, rng: random.Random) -> Image.Image:
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


def pixelate(image: Image.Image) -> Image.Image:
    w, h = image.size
    block = max(3, round(min(w, h) / 96))
    small = image.resize((max(1, w // block), max(1, h // block)), Image.Resampling.BOX)
    return small.quantize(48, dither=Image.Dither.NONE).convert("RGB").resize((w, h), Image.Resampling.NEAREST)

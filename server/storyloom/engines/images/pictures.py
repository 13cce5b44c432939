"""Picture helpers shared by the illustrators: size checks, PNG encoding, fitting to a size, thumbnails."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from storyloom.domain.ports.story import Picture

MAX_SIDE = 4096  # the largest width or height an illustrator paints or returns
MAX_INPUT_PIXELS = 64 * 1024 * 1024  # decoding refuses images larger than this (decompression bombs)


def check_size(width: int, height: int) -> None:
    if not (isinstance(width, int) and isinstance(height, int)) or not (0 < width <= MAX_SIDE
                                                                         and 0 < height <= MAX_SIDE):
        raise ValueError(f"picture size must be 1..{MAX_SIDE} pixels a side, not {width}x{height}")


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of an RGB or RGBA image (fast zlib level: these are paintings, and size matters less than time)."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def decode_image(data: bytes) -> Image.Image:
    """Opens image bytes of any format Pillow reads, refusing oversized images; raises ValueError if unreadable."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_INPUT_PIXELS:
            raise ValueError(f"image is too large ({image.width}x{image.height})")
        image.load()
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({exc})") from exc
    return ImageOps.exif_transpose(image)


def fit_png(data: bytes, width: int, height: int) -> Picture:
    """Any image scaled and centre-cropped to exactly width x height (no distortion), as a PNG Picture."""
    check_size(width, height)
    image = decode_image(data)
    image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    if image.size != (width, height):
        image = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    return Picture(png=encode_png(image), width=width, height=height)


def thumbnail(png: bytes, max_side: int = 256) -> Picture:
    """A smaller copy of a picture whose longer side is at most `max_side`, keeping its aspect ratio, as PNG.

    A picture already small enough is re-encoded at its own size, never enlarged.
    """
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    image = decode_image(png)
    image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return Picture(png=encode_png(image), width=image.width, height=image.height)

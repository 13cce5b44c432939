"""Story videos with PyAV: H.264 (libx264) and AAC in MP4, the codecs every browser and phone plays.

A clip is its picture slowly panned and zoomed (a moving, shrinking crop of the picture that FFmpeg's scaler resizes
and converts to YUV in one pass), its narration, and optionally its captions blended into the frames. A join copies
the clips' frames and encodes only the crossfades again (splice.py); clips not made for that are decoded and encoded
again whole, blending the last frames of one clip with the first of the next and mixing their sound the same way.

Speed (bench/bench_video.py): 20 frames a second (a slow pan needs no more) and x264's `ultrafast` preset at CRF 26.
Measured on a busy 2-core machine, a clip and a join (both encoding every frame) took 4.7 CPU seconds for 23.5 s
of video with `ultrafast`, 7.2 with `superfast` and 8.9 with `veryfast`; the files are 3-4 times larger (about
1.2 Mbit/s at 720p), which a story app streaming from its own server affords. Copying the frames between the fades
took a 5-scene story from 0.29 to 0.18 CPU seconds per second of video. Everything CPU-bound runs in a worker
thread, at most `max_concurrency` renders at once (x264 itself uses both cores of a small machine).
"""

from __future__ import annotations

import asyncio
import collections
import io
import logging
from collections.abc import Sequence

import av
import av.container
import numpy as np
from av.video.reformatter import Interpolation
from PIL import Image, ImageDraw, ImageFont

from storyloom.domain.ports.video import ClipSpec, RenderedVideo, VideoFormat
from storyloom.engines.video.mp4 import (
    AUDIO_RATE,
    Mp4Writer,
    decode,
    frame_count,
    from_image,
    png,
    read_wav,
    samples_for_frames,
    to_image,
)
from storyloom.engines.video.splice import CannotSplice, join_copying

log = logging.getLogger(__name__)

PRESET = "ultrafast"
CRF = "26"
ZOOM = 0.12  # how much closer the last frame of a clip is than the first (or the reverse)
# Pans and zooms, chosen by ClipSpec.motion: (start centre, end centre, zoom in?) with centres as fractions of the
# room the zoom leaves.
MOTIONS = (((0.5, 0.5), (0.5, 0.5), True), ((0.0, 0.5), (1.0, 0.5), True), ((1.0, 0.3), (0.0, 0.7), False),
           ((0.5, 1.0), (0.5, 0.0), True), ((0.2, 0.2), (0.8, 0.8), False))


class PyAvVideoEncoder:
    name = "pyav"

    def __init__(self, *, max_concurrency: int = 1, preset: str = PRESET, crf: str = CRF):
        self._slots = asyncio.Semaphore(max_concurrency)
        self._preset = preset
        self._crf = crf

    async def render_clip(self, clip: ClipSpec, fmt: VideoFormat) -> RenderedVideo:
        async with self._slots:
            return await asyncio.to_thread(self.render_clip_sync, clip, fmt)

    async def join(self, clips: Sequence[bytes], fade_ms: int, fmt: VideoFormat) -> RenderedVideo:
        async with self._slots:
            return await asyncio.to_thread(self.join_sync, list(clips), fade_ms, fmt)

    # --- rendering (worker thread) -----------------------------------------------------------------------------

    def render_clip_sync(self, clip: ClipSpec, fmt: VideoFormat) -> RenderedVideo:
        count = frame_count(clip.duration_ms, fmt)
        audio = np.zeros(samples_for_frames(count, fmt), dtype=np.float32)
        if clip.narration_wav:
            speech = read_wav(clip.narration_wav)
            start = round(clip.narration_start_ms * AUDIO_RATE / 1000)
            speech = speech[: max(0, len(audio) - start)]
            audio[start:start + len(speech)] = speech
        frames = _Frames(clip, fmt)
        poster_at = count // 2
        poster = b""
        fade = frame_count(clip.fade_ms, fmt) if clip.fade_ms else 0
        cuts = {fade, count - fade} if 0 < fade < count - fade else set()  # where a join will cut (splice.py)
        with Mp4Writer(fmt, self._preset, self._crf) as writer:
            for index in range(count):
                frame = frames.at(index / fmt.frames_per_second * 1000, index / max(1, count - 1))
                if index == poster_at:
                    poster = png(to_image(frame))
                writer.video(frame, keyframe=index in cuts)
            writer.audio(audio)
        return RenderedVideo(writer.data, poster, round(count * 1000 / fmt.frames_per_second),
                             fmt.width, fmt.height)

    def join_sync(self, clips: list[bytes], fade_ms: int, fmt: VideoFormat) -> RenderedVideo:
        """Copies the clips' frames and encodes only the fades when the clips allow it (splice.py); otherwise
        decodes and encodes everything."""
        try:
            return join_copying(clips, frame_count(fade_ms, fmt), fmt, self._preset, self._crf)
        except CannotSplice as why:
            log.info("joining by encoding again", extra={"why": str(why)})
        return self.join_encoding(clips, fade_ms, fmt)

    def join_encoding(self, clips: list[bytes], fade_ms: int, fmt: VideoFormat) -> RenderedVideo:
        fade = frame_count(fade_ms, fmt)
        written = 0
        sounds: list[tuple[int, np.ndarray]] = []  # (first frame, samples) of each clip
        poster_clip, poster_frame = min(1, len(clips) - 1), 2 * fmt.frames_per_second
        poster = b""
        with Mp4Writer(fmt, self._preset, self._crf) as writer:
            tail: list[np.ndarray] = []  # the previous clip's last frames, to blend with this clip's first
            for number, data in enumerate(clips):
                first, last = written, number == len(clips) - 1
                pending: collections.deque[av.VideoFrame] = collections.deque()
                frames, sound = decode(data, fmt)
                for index, frame in enumerate(frames):
                    if index < len(tail):
                        weight = round(256 * (index + 1) / (len(tail) + 1))
                        mixed = (tail[index].astype(np.uint16) * (256 - weight)
                                 + frame.to_ndarray().astype(np.uint16) * weight) >> 8
                        frame = av.VideoFrame.from_ndarray(mixed.astype(np.uint8), format="yuv420p")
                    pending.append(frame)
                    # The last `fade` frames wait: they are blended with the next clip's first.
                    while pending and (last or len(pending) > fade):
                        out = pending.popleft()
                        if number == poster_clip and (written - first == poster_frame or not poster):
                            poster = png(to_image(out))
                        writer.video(out)
                        written += 1
                tail = [f.to_ndarray() for f in pending]
                sounds.append((first, sound.result()))
            audio = np.zeros(samples_for_frames(written, fmt), dtype=np.float32)
            for first, samples in sounds:
                start = samples_for_frames(first, fmt)
                part = samples[: max(0, len(audio) - start)]
                audio[start:start + len(part)] += part
            writer.audio(np.clip(audio, -1.0, 1.0))
        return RenderedVideo(writer.data, poster, round(written * 1000 / fmt.frames_per_second),
                             fmt.width, fmt.height)


class _Frames:
    """The frames of one clip (yuv420p): the picture (or a title card) at a point of its pan and zoom, captions on top.

    The picture is scaled once so that its widest box of the output's shape is the output's size; each frame is then
    a crop of it (a view, no copy) that FFmpeg's scaler resizes and converts to YUV in one pass, about four times
    faster than resampling with Pillow first. Captions are blended into the YUV planes.
    """

    def __init__(self, clip: ClipSpec, fmt: VideoFormat):
        self._size = (fmt.width, fmt.height)
        self._still: np.ndarray | None = None
        self._picture: np.ndarray | None = None
        if clip.picture_png:
            with Image.open(io.BytesIO(clip.picture_png)) as picture:
                rgb = picture.convert("RGB")
            box_w = min(rgb.width, rgb.height * fmt.width / fmt.height)
            scale = fmt.width / box_w
            rgb = rgb.resize((max(fmt.width, round(rgb.width * scale)), max(fmt.height, round(rgb.height * scale))),
                             Image.Resampling.BICUBIC)
            self._picture = np.asarray(rgb)
        else:
            card = title_card(clip.title, clip.subtitle, self._size)
            self._still = from_image(card).reformat(format="yuv420p").to_ndarray()
        self._motion = MOTIONS[clip.motion % len(MOTIONS)]
        self._captions = [(cue, _YuvPatch(*caption_overlay(cue.text, self._size))) for cue in clip.cues]

    def at(self, time_ms: float, progress: float) -> av.VideoFrame:
        patches = [patch for cue, patch in self._captions if cue.start_ms <= time_ms < cue.end_ms]
        if self._still is not None:
            if not patches:
                return av.VideoFrame.from_ndarray(self._still, format="yuv420p")
            planes = self._still.copy()
        else:
            frame = self._panned(progress)
            if not patches:
                return frame
            planes = frame.to_ndarray()
        for patch in patches:
            patch.blend(planes, self._size)
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")

    def _panned(self, progress: float) -> av.VideoFrame:
        assert self._picture is not None
        height, width = self._picture.shape[:2]
        out_w, out_h = self._size
        eased = progress * progress * (3 - 2 * progress)  # smoothstep: no jolt at either end
        (sx, sy), (ex, ey), zoom_in = self._motion
        zoom = 1 + ZOOM * (eased if zoom_in else 1 - eased)
        w, h = round(out_w / zoom), round(out_h / zoom)
        # The box shrinks with the zoom, its corner moving across the room that leaves.
        left = round((width - w) * (sx + (ex - sx) * eased))
        top = round((height - h) * (sy + (ey - sy) * eased))
        crop = np.ascontiguousarray(self._picture[top:top + h, left:left + w])
        return av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(
            width=out_w, height=out_h, format="yuv420p", interpolation=Interpolation.BILINEAR)


class _YuvPatch:
    """An RGBA patch converted once to YUV 4:2:0 planes and alpha, blended into frames at an even position."""

    def __init__(self, patch: Image.Image, position: tuple[int, int]):
        width, height = patch.size[0] // 2 * 2, patch.size[1] // 2 * 2
        patch = patch.crop((0, 0, width, height))
        self.x, self.y = position[0] // 2 * 2, position[1] // 2 * 2
        yuv = from_image(patch.convert("RGB")).reformat(format="yuv420p").to_ndarray()
        self.w, self.h = width, height
        y_plane, u_plane, v_plane = yuv_planes(yuv, width, height)
        self.y_plane, self.u_plane, self.v_plane = (p.astype(np.uint16) for p in (y_plane, u_plane, v_plane))
        alpha = np.asarray(patch.getchannel("A"), dtype=np.uint16)
        self.alpha = alpha
        self.alpha_half = alpha.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)).astype(np.uint16)

    def blend(self, planes: np.ndarray, size: tuple[int, int]) -> None:
        """Blends into a yuv420p frame as PyAV lays it out: Y rows, then U and V, each a quarter, row by row."""
        y_plane, u_plane, v_plane = yuv_planes(planes, *size)
        _mix(y_plane[self.y:self.y + self.h, self.x:self.x + self.w], self.y_plane, self.alpha)
        half = (slice(self.y // 2, (self.y + self.h) // 2), slice(self.x // 2, (self.x + self.w) // 2))
        _mix(u_plane[half], self.u_plane, self.alpha_half)
        _mix(v_plane[half], self.v_plane, self.alpha_half)


def yuv_planes(planes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of a yuv420p frame as PyAV lays it out (one array, the planes one after the
    other)."""
    flat = planes.reshape(-1)
    luma, chroma = width * height, width * height // 4
    return (flat[:luma].reshape(height, width), flat[luma:luma + chroma].reshape(height // 2, width // 2),
            flat[luma + chroma:luma + 2 * chroma].reshape(height // 2, width // 2))


def _mix(region: np.ndarray, over: np.ndarray, alpha: np.ndarray) -> None:
    region[...] = (region.astype(np.uint16) * (255 - alpha) + over * alpha) // 255


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def title_card(title: str, subtitle: str, size: tuple[int, int]) -> Image.Image:
    """A deep blue card with the title (and a smaller subtitle) in the middle."""
    width, height = size
    top, bottom = np.array([24, 32, 72], dtype=np.float32), np.array([70, 44, 96], dtype=np.float32)
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    pixels = (top + (bottom - top) * ramp).astype(np.uint8).repeat(width, axis=1)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    big, small = _font(max(12, height // 12)), _font(max(10, height // 28))
    lines = _wrap(draw, title, big, int(width * 0.8))
    sub = _wrap(draw, subtitle, small, int(width * 0.7))
    line_h, sub_h = round(height / 10), round(height / 22)
    y = (height - line_h * len(lines) - sub_h * len(sub) - (sub_h if sub else 0)) / 2
    for line in lines:
        draw.text((width / 2, y + line_h / 2), line, font=big, fill=(255, 246, 224), anchor="mm")
        y += line_h
    y += sub_h if sub else 0
    for line in sub:
        draw.text((width / 2, y + sub_h / 2), line, font=small, fill=(214, 210, 236), anchor="mm")
        y += sub_h
    return image


def caption_overlay(text: str, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """A caption as an RGBA patch (white text on a translucent dark box) and where it goes: low and centred."""
    width, height = size
    font = _font(max(10, height // 24))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    lines = _wrap(probe, text, font, int(width * 0.8))
    line_h = round(height / 19)
    pad = line_h // 3
    box_w = int(max(probe.textlength(line, font=font) for line in lines)) + 2 * pad if lines else 1
    box_h = line_h * len(lines) + 2 * pad
    patch = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 150))
    draw = ImageDraw.Draw(patch)
    for number, line in enumerate(lines):
        draw.text((box_w / 2, pad + line_h * number + line_h / 2), line, font=font, fill=(255, 255, 255, 255),
                  anchor="mm")
    return patch, ((width - box_w) // 2, height - box_h - height // 14)


"""The story video port: an encoder that turns pictures and narration into MP4 clips and joins them.

The domain plans the timeline (how long each clip is, where the narration starts, which captions show when); the
encoder only draws, encodes and decodes. Implemented with PyAV in `engines/video/`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class VideoFormat:
    width: int
    height: int
    frames_per_second: int


@dataclasses.dataclass(frozen=True)
class Cue:
    """One caption: a sentence, shown from `start_ms` to `end_ms`."""

    start_ms: int
    end_ms: int
    text: str


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """One scene's clip: its picture slowly panned and zoomed, its narration from `narration_start_ms`.

    Without a picture the clip shows `title` on a plain card (a title card is such a clip). `cues` are burned into
    the frames (times relative to the clip); `motion` picks the direction of the pan, so that scenes vary.
    `fade_ms` is the crossfade the clip will be joined with: an encoder may prepare its frames for it (keyframes
    where a fade begins and ends, so that a join re-encodes only the fades).
    """

    duration_ms: int
    title: str = ""
    subtitle: str = ""
    picture_png: bytes | None = None
    narration_wav: bytes | None = None  # 16-bit mono PCM WAV
    narration_start_ms: int = 0
    motion: int = 0
    cues: tuple[Cue, ...] = ()
    fade_ms: int = 0


@dataclasses.dataclass(frozen=True)
class RenderedVideo:
    mp4: bytes  # H.264 video and AAC audio
    poster_png: bytes  # a frame that shows what the video is about
    duration_ms: int
    width: int
    height: int


class VideoEncoder(Protocol):
    """Renders and joins MP4 clips. CPU-heavy work runs off the event loop."""

    name: str

    async def render_clip(self, clip: ClipSpec, fmt: VideoFormat) -> RenderedVideo:
        """The clip as an MP4 of exactly `clip.duration_ms` (to a frame)."""

    async def join(self, clips: Sequence[bytes], fade_ms: int, fmt: VideoFormat) -> RenderedVideo:
        """The clips one after the other, each crossfading into the next over `fade_ms` (pictures and sound
        overlap): the result lasts the sum of the clips less one fade per join."""


class NarrationAligner(Protocol):
    """Finds when each sentence of a narration starts."""

    def sentences(self, text: str, wav: bytes) -> list[Cue]:
        """The narration's sentences with their start and end in the audio, in milliseconds."""

"""MP4 files for story videos: writing H.264 + AAC (or copying encoded frames), and reading them back."""

from __future__ import annotations

import io
import os
import tempfile
import wave
from collections.abc import Iterator
from fractions import Fraction

import av
import av.container
import av.video.stream
import numpy as np
from av.video.frame import PictureType
from PIL import Image

from storyloom.domain.ports.video import VideoFormat

AUDIO_RATE = 22_050  # the narrator's own rate: no resampling, and half the AAC work of 44.1 kHz
AUDIO_FRAME = 1024  # samples per AAC frame


def frame_count(duration_ms: int, fmt: VideoFormat) -> int:
    return max(1, round(duration_ms * fmt.frames_per_second / 1000))


def samples_for_frames(frames: int, fmt: VideoFormat) -> int:
    return round(frames * AUDIO_RATE / fmt.frames_per_second)


def read_wav(data: bytes) -> np.ndarray:
    """16-bit PCM WAV as float samples at AUDIO_RATE (mono, resampled by FFmpeg's resampler)."""
    with wave.open(io.BytesIO(data)) as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        pcm = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError("narration must be 16-bit PCM")
    pcm16 = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
    samples: np.ndarray = (pcm16.mean(axis=1) / 32768).astype(np.float32)
    if rate == AUDIO_RATE or not len(samples):
        return samples
    frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
    parts = [f.to_ndarray()[0] for f in resampler.resample(frame)] + [f.to_ndarray()[0] for f in
                                                                      resampler.resample(None)]
    resampled: np.ndarray = np.concatenate(parts).astype(np.float32) if parts else samples[:0]
    return resampled


class Sound:
    """The sound of a clip being decoded: float samples at AUDIO_RATE, one frame's worth per video frame."""

    def __init__(self, fmt: VideoFormat):
        self._fmt = fmt
        self._parts: list[np.ndarray] = []
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
        self.frames = 0

    def add(self, frame: av.AudioFrame | None) -> None:
        self._parts += [f.to_ndarray()[0] for f in self._resampler.resample(frame)]

    def result(self) -> np.ndarray:
        self.add(None)
        samples = np.concatenate(self._parts).astype(np.float32) if self._parts else np.zeros(0, np.float32)
        wanted = samples_for_frames(self.frames, self._fmt)
        samples = samples[:wanted]
        return np.pad(samples, (0, wanted - len(samples)))


def decode(data: bytes, fmt: VideoFormat) -> tuple[Iterator[av.VideoFrame], Sound]:
    """A clip's frames (yuv420p at the format's size, as they are decoded) and its sound, complete once the frames
    are."""
    sound = Sound(fmt)

    def frames() -> Iterator[av.VideoFrame]:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = [s for s in container.streams if s.type in ("video", "audio")]
            for stream in container.streams.video:
                stream.thread_type = "AUTO"
            for packet in container.demux(*streams):
                for decoded in packet.decode():
                    if isinstance(decoded, av.AudioFrame):
                        sound.add(decoded)
                    elif isinstance(decoded, av.VideoFrame):
                        if (decoded.width, decoded.height, decoded.format.name) != (fmt.width, fmt.height,
                                                                                      "yuv420p"):
                            decoded = decoded.reformat(width=fmt.width, height=fmt.height, format="yuv420p")
                        decoded.pict_type = PictureType.NONE  # else x264 keeps the clip's frame types
                        sound.frames += 1
                        yield decoded

    return frames(), sound


def to_image(frame: av.VideoFrame) -> Image.Image:
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]  # PyAV leaves it untyped
    return image


def from_image(image: Image.Image) -> av.VideoFrame:
    frame: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]  # PyAV leaves it untyped
    return frame


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


class Mp4Writer:
    """An MP4 being written: one H.264 stream and one AAC stream, moov first so that playing can start at once.

    FFmpeg moves the moov atom to the front by reading the file again, which it cannot do with an in-memory
    output: it writes a temporary file, whose bytes `data` holds once closed.
    """

    def __init__(self, fmt: VideoFormat, preset: str = "ultrafast", crf: str = "26",
                 template: av.video.stream.VideoStream | None = None):
        """With `template` (a stream of another MP4), the video stream takes its codec parameters and is written
        with `copy` (packets as they are), not encoded."""
        self._dir = tempfile.TemporaryDirectory(prefix="storyloom-video-")
        self._path = os.path.join(self._dir.name, "out.mp4")
        self.data = b""
        self._container: av.container.OutputContainer = av.open(
            self._path, mode="w", format="mp4", options={"movflags": "+faststart"})
        self._fmt = fmt
        self._copying = template is not None
        if template is not None:
            self._video = self._container.add_stream_from_template(template)
        else:
            video = self._container.add_stream("libx264", rate=fmt.frames_per_second)
            video.width, video.height, video.pix_fmt = fmt.width, fmt.height, "yuv420p"
            # forced-idr: a frame marked I starts a new IDR, where a join can cut the clip without decoding it.
            video.options = {"preset": preset, "crf": crf, "tune": "stillimage",
                             "g": str(fmt.frames_per_second * 2), "forced-idr": "1"}
            video.codec_context.thread_type = "AUTO"
            self._video = video
        self._audio = self._container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        self._audio.options = {"b": "64000"}
        self._frames = 0

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None and not self._copying:
                for packet in self._video.encode(None):
                    self._container.mux(packet)
            self._container.close()
            if exc[0] is None:
                with open(self._path, "rb") as file:
                    self.data = file.read()
        finally:
            self._dir.cleanup()

    def video(self, frame: av.VideoFrame, *, keyframe: bool = False) -> None:
        frame.pts = self._frames
        frame.time_base = Fraction(1, self._fmt.frames_per_second)
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        self._frames += 1
        for packet in self._video.encode(frame):
            self._container.mux(packet)

    def copy(self, data: bytes, *, keyframe: bool) -> None:
        """Writes one encoded frame (from a stream like the template) as the next frame."""
        packet = av.Packet(data)
        packet.pts = packet.dts = self._frames
        packet.duration = 1
        packet.time_base = Fraction(1, self._fmt.frames_per_second)
        packet.is_keyframe = keyframe
        packet.stream = self._video
        self._frames += 1
        self._container.mux(packet)

    def audio(self, samples: np.ndarray) -> None:
        for start in range(0, len(samples), AUDIO_FRAME):
            chunk = samples[start:start + AUDIO_FRAME]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk[None, :]), format="fltp", layout="mono")
            frame.sample_rate = AUDIO_RATE
            frame.pts = start
            frame.time_base = Fraction(1, AUDIO_RATE)
            for packet in self._audio.encode(frame):
                self._container.mux(packet)
        for packet in self._audio.encode(None):
            self._container.mux(packet)

"""What tests check in a story video: its streams and duration as PyAV reads them, its captions, its sound."""

from __future__ import annotations

import dataclasses
import io
import re

import av
import numpy as np


@dataclasses.dataclass
class Probe:
    video_codec: str
    audio_codec: str
    width: int
    height: int
    duration_s: float  # the container's
    video_frames: int
    audio: np.ndarray  # mono float samples
    audio_rate: int


def probe(data: bytes) -> Probe:
    """Opens an MP4 as ffprobe would, and decodes its sound."""
    with av.open(io.BytesIO(data)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        duration = (container.duration or 0) / av.time_base
        codecs = (video.codec_context.name, audio.codec_context.name, video.codec_context.width,
                  video.codec_context.height)
        frames, samples, rate = 0, [], audio.codec_context.sample_rate
        for packet in container.demux(video, audio):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    frames += 1
                else:
                    samples.append(frame.to_ndarray().mean(axis=0))
    return Probe(codecs[0], codecs[1], codecs[2], codecs[3], duration, frames,
                 np.concatenate(samples) if samples else np.zeros(0), rate)


@dataclasses.dataclass
class Caption:
    start_ms: int
    end_ms: int
    text: str


def parse_webvtt(data: bytes) -> list[Caption]:
    text = data.decode()
    assert text.startswith("WEBVTT")
    cues = []
    for block in text.split("\n\n")[1:]:
        lines = [line for line in block.splitlines() if line.strip()]
        timing = next((line for line in lines if "-->" in line), None)
        if timing is None:
            continue
        start, end = (_ms(t) for t in re.findall(r"(\d+:\d\d:\d\d\.\d{3})", timing))
        cues.append(Caption(start, end, " ".join(lines[lines.index(timing) + 1:])))
    return cues


def _ms(stamp: str) -> int:
    hours, minutes, seconds = stamp.split(":")
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)


def speech_onsets(samples: np.ndarray, rate: int, window_ms: int = 20, threshold: float = 0.02,
                  min_quiet_ms: int = 200) -> list[int]:
    """Times (ms) where sound starts after at least `min_quiet_ms` of quiet: where sentences begin."""
    window = rate * window_ms // 1000
    count = len(samples) // window
    rms = np.sqrt((samples[: count * window].reshape(count, window) ** 2).mean(axis=1))
    loud = rms > threshold
    onsets, quiet = [], min_quiet_ms // window_ms
    for i in range(count):
        if loud[i] and (i >= quiet and not loud[i - quiet:i].any()):
            onsets.append(i * window_ms)
    return onsets

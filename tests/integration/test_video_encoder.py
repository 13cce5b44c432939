"""The PyAV video engine on its own: clips of the asked size and length, joins that copy the frames between fades
(the same pictures as encoding everything again), and the fallback when clips were not made for copying."""

from __future__ import annotations

import io
import wave

import av
import numpy as np
import pytest
from PIL import Image

from storyloom.domain.ports.video import ClipSpec, Cue, VideoFormat
from storyloom.engines.video import splice
from storyloom.engines.video.encoder import PyAvVideoEncoder
from tests.support.video import probe

SMALL = VideoFormat(320, 180, 20)


def picture() -> bytes:
    pixels = np.zeros((256, 384, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, 384, dtype=np.uint8)[None, :]
    pixels[..., 2] = np.linspace(255, 0, 256, dtype=np.uint8)[:, None]
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def tone(seconds: float, rate: int = 22_050) -> bytes:
    samples = (np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 330 / rate) * 9000).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


def gray_frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="gray").astype(np.float32) for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def encoder() -> PyAvVideoEncoder:
    return PyAvVideoEncoder()


async def test_a_clip_has_the_asked_size_length_sound_and_a_poster(encoder):
    clip = await encoder.render_clip(ClipSpec(2000, picture_png=picture(), narration_wav=tone(1.0),
                                              narration_start_ms=500, cues=(Cue(500, 1500, "Hello there."),),
                                              fade_ms=500), SMALL)
    found = probe(clip.mp4)
    assert (found.video_codec, found.audio_codec, found.width, found.height) == ("h264", "aac", 320, 180)
    assert found.video_frames == 40 and clip.duration_ms == 2000
    assert abs(found.duration_s - 2.0) <= 0.1
    loud = np.flatnonzero(np.abs(found.audio) > 0.05)
    assert abs(loud[0] / found.audio_rate - 0.5) < 0.05 and abs(loud[-1] / found.audio_rate - 1.5) < 0.05
    with Image.open(io.BytesIO(clip.poster_png)) as poster:
        assert poster.size == (320, 180)


async def test_1080p_is_rendered_on_request(encoder):
    clip = await encoder.render_clip(ClipSpec(500, picture_png=picture()), VideoFormat(1920, 1080, 20))
    assert (probe(clip.mp4).width, probe(clip.mp4).height) == (1920, 1080)


async def test_a_join_copies_the_frames_between_fades_and_shows_what_encoding_everything_again_shows(encoder):
    title = await encoder.render_clip(ClipSpec(1500, title="A Title", fade_ms=500), SMALL)
    scenes = [await encoder.render_clip(ClipSpec(2500, picture_png=picture(), narration_wav=tone(1.5),
                                                 narration_start_ms=500, motion=i, fade_ms=500), SMALL)
              for i in range(2)]
    parts = [title.mp4] + [s.mp4 for s in scenes]

    copied = splice.join_copying(parts, 10, SMALL, "ultrafast", "26")
    encoded = encoder.join_encoding(parts, 500, SMALL)

    assert copied.duration_ms == encoded.duration_ms == 1500 + 2500 + 2500 - 2 * 500
    found = probe(copied.mp4)
    assert (found.video_codec, found.audio_codec) == ("h264", "aac") and found.video_frames == 110
    assert abs(found.duration_s - 5.5) <= 0.1
    a, b = gray_frames(copied.mp4), gray_frames(encoded.mp4)
    assert len(a) == len(b) == 110
    assert max(float(np.abs(x - y).mean()) for x, y in zip(a, b, strict=True)) < 2.0
    # The fades are blends: half-way through the first, the frame lies between the title's and the picture's.
    title_frame, scene_frame = gray_frames(title.mp4)[0], gray_frames(scenes[0].mp4)[5]
    middle = a[30 - 5]
    assert np.abs(middle - title_frame).mean() > 5 and np.abs(middle - scene_frame).mean() > 5


async def test_clips_not_made_for_copying_are_joined_by_encoding_everything_again(encoder):
    plain = [await encoder.render_clip(ClipSpec(1500, picture_png=picture(), motion=i), SMALL) for i in range(2)]
    with pytest.raises(splice.CannotSplice):
        splice.join_copying([p.mp4 for p in plain], 10, SMALL, "ultrafast", "26")
    joined = await encoder.join([p.mp4 for p in plain], 500, SMALL)
    assert joined.duration_ms == 2500 and probe(joined.mp4).video_frames == 50

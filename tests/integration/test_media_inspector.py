"""The upload inspector against the real libraries: every bad upload of issue 10 is refused with a reason, and good
ones are read whole."""

from __future__ import annotations

import pytest

from storyloom.domain.errors import InvalidArgument
from storyloom.engines.media.inspector import MediaInspector
from tests.support import media_samples as samples

INSPECTOR = MediaInspector()


def refusal(data: bytes, content_type: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as raised:
        INSPECTOR.inspect(data, content_type)
    assert len(str(raised.value)) < 600
    return raised.value


@pytest.mark.parametrize(("data", "content_type", "reason"), [
    (b"\x00\x01" * 100, "audio/l16;rate=²", "SAMPLE_RATE_UNSUPPORTED"),
    (b"\x00\x01" * 100, "audio/l16;rate=１６０００", "SAMPLE_RATE_UNSUPPORTED"),  # fullwidth digits
    (b"\x00\x01" * 100, "audio/l16", "SAMPLE_RATE_UNSUPPORTED"),
    (b"\x00\x01" * 100, "audio/l16;rate=0", "SAMPLE_RATE_UNSUPPORTED"),
    (b"\x00\x01" * 100, "audio/l16;rate=16000;channels=9", "CHANNELS_UNSUPPORTED"),
    (b"\x00\x01\x02", "audio/l16;rate=16000", "MEDIA_CONTENT_INVALID"),
    (b"\x00\x01" * 9_000_000, "audio/l16;rate=8000", "AUDIO_TOO_LONG"),
    (samples.wav_header(rate=0), "audio/wav", "SAMPLE_RATE_UNSUPPORTED"),
    (samples.wav_header(rate=16000, channels=0), "audio/wav", "MEDIA_CONTENT_INVALID"),
    (samples.wav_header(rate=16000, channels=6), "audio/wav", "CHANNELS_UNSUPPORTED"),
    (samples.wav_header(rate=16000, frames=16000, data=b"\x00" * 100), "audio/wav", "MEDIA_CONTENT_INVALID"),
    (samples.wav_header(rate=96000), "audio/wav", "SAMPLE_RATE_UNSUPPORTED"),
    (b"RIFF\xff\xff", "audio/wav", "MEDIA_CONTENT_INVALID"),
    (samples.png_claiming(20000, 20000), "image/png", "IMAGE_TOO_LARGE"),
    (samples.png_claiming(0, 10), "image/png", "MEDIA_CONTENT_INVALID"),
    (samples.png_with_broken_data(), "image/png", "MEDIA_CONTENT_INVALID"),
    (samples.png_claiming(64, 48, rows=4), "image/png", "MEDIA_CONTENT_INVALID"),  # truncated pixel data
    (samples.png()[:-40], "image/png", "MEDIA_CONTENT_INVALID"),
    (samples.png(), "image/jpeg", "MEDIA_CONTENT_INVALID"),
    (b"OggS" + b"\x00" * 60, "audio/ogg", "MEDIA_CONTENT_INVALID"),
    (b"\x1a\x45\xdf\xa3" + b"\x00" * 60, "audio/webm", "MEDIA_CONTENT_INVALID"),
    (b"ID3" + b"\x00" * 60, "audio/mpeg", "MEDIA_CONTENT_INVALID"),
    (b"abc", "text/html" + "x" * 5000, "MEDIA_TYPE_UNSUPPORTED"),
])
def test_a_bad_upload_is_refused_with_a_reason(data: bytes, content_type: str, reason: str) -> None:
    assert refusal(data, content_type).reason == reason


def test_an_oversize_content_type_is_echoed_at_most_200_characters() -> None:
    error = refusal(b"abc", "y" * 20000)
    assert "y" * 201 not in str(error) and "y" * 200 in str(error)


def test_good_uploads_are_read_whole() -> None:
    picture = INSPECTOR.inspect(samples.png(64, 48), "image/png")
    assert (picture.width, picture.height) == (64, 48)
    sound = INSPECTOR.inspect(samples.wav(rate=22050, seconds=0.5, channels=2), "audio/wav")
    assert (sound.sample_rate_hertz, sound.channel_count, sound.duration_ms) == (22050, 2, 500)
    raw = INSPECTOR.inspect(b"\x00\x01" * 16000, "audio/L16; rate=16000")
    assert (raw.content_type, raw.duration_ms) == ("audio/L16;rate=16000", 1000)


def test_compressed_audio_is_decoded_by_pyav() -> None:
    from storyloom.engines.speech.containers import OggOpusEncoder  # the narrator's own encoder

    encoder = OggOpusEncoder(16000)
    data = encoder.encode(b"\x10\x00" * 16000) + encoder.finish()
    found = INSPECTOR.inspect(data, "audio/ogg")
    assert found.sample_rate_hertz == 48000 and 900 <= (found.duration_ms or 0) <= 1200

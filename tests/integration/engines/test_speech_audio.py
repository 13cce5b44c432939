"""decode_audio and the resampler, on generated tones (no models): formats, rates, channels, limits, bad input."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from storyloom.domain.errors import InvalidArgument
from storyloom.engines.speech.audio import PcmResampler, decode_audio, resample, sniff_encoding


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def pcm16(samples: np.ndarray) -> bytes:
    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()


def wav_file(frames: bytes, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return buffer.getvalue()


def opus_file(samples: np.ndarray, rate: int, container: str) -> bytes:
    """Mono float samples encoded as Opus at 48 kHz in an Ogg or WebM container, with PyAV."""
    import av

    signal = resample(samples, rate, 48000)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream("libopus", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.frombuffer(pcm16(signal), dtype="<i2")[None, :], format="s16",
                                           layout="mono")
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def samples_of(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_a_stereo_wav_at_22050_hz_becomes_16_khz_mono_with_the_same_pitch_and_length() -> None:
    left = tone(440, 1.0, 22050)
    stereo = np.stack([left, left], axis=1).reshape(-1)

    pcm, rate = decode_audio(wav_file(pcm16(stereo), 22050, channels=2), None)

    assert rate == 16000
    decoded = samples_of(pcm)
    assert len(decoded) == 16000
    assert dominant_frequency(decoded, 16000) == pytest.approx(440, abs=2)
    assert np.max(np.abs(decoded[100:-100])) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("width", [1, 3, 4])
def test_8_24_and_32_bit_wavs_decode_to_the_same_signal_as_16_bit(width: int) -> None:
    signal = tone(300, 0.5, 16000)
    integers = np.round(signal * 32767).astype(np.int64)
    if width == 1:
        frames = ((integers >> 8) + 128).astype(np.uint8).tobytes()
    elif width == 3:
        wide = (integers << 8).astype("<i4").tobytes()
        frames = b"".join(wide[i:i + 3] for i in range(0, len(wide), 4))
    else:
        frames = (integers << 16).astype("<i4").tobytes()

    pcm, _ = decode_audio(wav_file(frames, 16000, width=width), "WAV")

    tolerance = 256 / 32768 if width == 1 else 1 / 32768
    assert np.max(np.abs(samples_of(pcm) - samples_of(pcm16(signal)))) <= tolerance + 1e-6


def test_a_float_wav_that_the_wave_module_refuses_is_read_through_pyav() -> None:
    import av

    signal = tone(500, 0.5, 24000)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as output:
        stream = output.add_stream("pcm_f32le", rate=24000, layout="mono")
        frame = av.AudioFrame.from_ndarray(signal[None, :], format="flt", layout="mono")
        frame.sample_rate = 24000
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    data = buffer.getvalue()
    with pytest.raises(wave.Error), wave.open(io.BytesIO(data), "rb"):
        pass

    pcm, rate = decode_audio(data, None)

    decoded = samples_of(pcm)
    assert rate == 16000 and abs(len(decoded) - 8000) <= 32
    assert dominant_frequency(decoded, 16000) == pytest.approx(500, abs=3)


def test_raw_linear16_at_8_khz_is_upsampled_to_twice_the_samples() -> None:
    pcm, rate = decode_audio(pcm16(tone(1000, 1.0, 8000)), "LINEAR16", 8000)

    decoded = samples_of(pcm)
    assert rate == 16000 and len(decoded) == 16000
    assert dominant_frequency(decoded, 16000) == pytest.approx(1000, abs=2)


def test_raw_bytes_without_an_encoding_are_16_khz_linear16() -> None:
    raw = pcm16(tone(700, 0.25, 16000))

    pcm, rate = decode_audio(raw, None)

    assert (pcm, rate) == (raw, 16000)


@pytest.mark.parametrize(("container", "encoding"), [("ogg", "OGG_OPUS"), ("webm", "WEBM_OPUS")])
@pytest.mark.parametrize("declared", [True, False])
def test_opus_in_ogg_and_webm_decodes_whether_declared_or_sniffed(container: str, encoding: str,
                                                                 declared: bool) -> None:
    data = opus_file(tone(440, 1.0, 16000), 16000, container)
    assert sniff_encoding(data) == encoding

    pcm, rate = decode_audio(data, encoding if declared else None)

    decoded = samples_of(pcm)
    assert rate == 16000
    assert 15500 <= len(decoded) <= 16700  # Opus adds a little padding
    assert dominant_frequency(decoded, 16000) == pytest.approx(440, abs=3)


@pytest.mark.parametrize(("data", "encoding", "reason"), [
    (b"", None, "AUDIO_EMPTY"),
    (np.random.default_rng(1).bytes(4000), "WAV", "AUDIO_UNDECODABLE"),
    (np.random.default_rng(2).bytes(4000), "OGG_OPUS", "AUDIO_UNDECODABLE"),
    (np.random.default_rng(3).bytes(4000), "WEBM_OPUS", "AUDIO_UNDECODABLE"),
    (b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(40), None, "AUDIO_UNDECODABLE"),
    (b"OggS" + np.random.default_rng(4).bytes(400), None, "AUDIO_UNDECODABLE"),
    (b"\x1a\x45\xdf\xa3" + np.random.default_rng(5).bytes(400), None, "AUDIO_UNDECODABLE"),
    (b"\x00\x01\x02", "LINEAR16", "AUDIO_UNDECODABLE"),  # odd length: not 16-bit samples
    (b"fLaC" + bytes(100), None, "AUDIO_ENCODING_UNSUPPORTED"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), None, "AUDIO_ENCODING_UNSUPPORTED"),
    (bytes(100), "MP3", "AUDIO_ENCODING_UNSUPPORTED"),
], ids=["empty", "garbage-as-wav", "garbage-as-ogg", "garbage-as-webm", "broken-wav", "broken-ogg",
        "broken-webm", "odd-raw", "flac", "png", "mp3-declared"])
def test_undecodable_audio_is_an_invalid_argument_with_a_reason(data: bytes, encoding: str | None,
                                                                reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode_audio(data, encoding)

    assert caught.value.reason == reason
    assert caught.value.violations and caught.value.violations[0].field in ("audio_content", "format.encoding")


def test_an_opus_file_with_no_audio_stream_is_refused() -> None:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as output:
        output.add_stream("libvpx", rate=1)  # video only
    with pytest.raises(InvalidArgument) as caught:
        decode_audio(buffer.getvalue(), "WEBM_OPUS")

    assert caught.value.reason in ("AUDIO_UNDECODABLE", "AUDIO_EMPTY")


@pytest.mark.parametrize("rate", [4000, 7999, 48001, 96000])
def test_sample_rates_outside_8_to_48_khz_are_refused(rate: int) -> None:
    with pytest.raises(InvalidArgument) as raw:
        decode_audio(bytes(200), "LINEAR16", rate)
    with pytest.raises(InvalidArgument) as wav:
        decode_audio(wav_file(bytes(200), rate), None)

    assert raw.value.reason == wav.value.reason == "SAMPLE_RATE_UNSUPPORTED"
    assert raw.value.violations[0].field == "format.sample_rate_hertz"


def test_audio_longer_than_the_limit_is_refused_in_every_encoding() -> None:
    signal = tone(440, 3.0, 16000)
    encoded = {"LINEAR16": pcm16(signal), "WAV": wav_file(pcm16(signal), 16000),
               "OGG_OPUS": opus_file(signal, 16000, "ogg"), "WEBM_OPUS": opus_file(signal, 16000, "webm")}

    for encoding, data in encoded.items():
        assert decode_audio(data, encoding, max_seconds=3.5)[0]  # under the limit: fine
        with pytest.raises(InvalidArgument) as caught:
            decode_audio(data, encoding, max_seconds=2.0)
        assert caught.value.reason == "AUDIO_TOO_LONG", encoding


@pytest.mark.parametrize(("source", "target"), [(22050, 16000), (8000, 16000), (44100, 16000), (16000, 22050)])
def test_resampling_in_chunks_gives_the_same_samples_as_in_one_go(source: int, target: int) -> None:
    signal = np.random.default_rng(7).normal(0, 0.2, source).astype(np.float32)
    whole = resample(signal, source, target)

    resampler = PcmResampler(source, target)
    sizes = np.random.default_rng(8).integers(1, 2000, 200)
    pieces, start = [], 0
    for size in sizes:
        pieces.append(resampler.process(signal[start:start + size]))
        start += size
        if start >= len(signal):
            break
    pieces.append(resampler.process(signal[start:]))
    pieces.append(resampler.flush())
    chunked = np.concatenate(pieces)

    assert len(whole) == len(chunked) == -(-len(signal) * target // source)
    assert np.allclose(whole, chunked, atol=1e-6)


def test_resampling_keeps_a_tone_in_band_and_removes_one_above_the_new_nyquist() -> None:
    kept = resample(tone(1000, 1.0, 48000), 48000, 16000)
    aliased = resample(tone(12000, 1.0, 48000), 48000, 16000)

    reference = tone(1000, 1.0, 16000)
    assert np.max(np.abs(kept - reference)[200:-200]) < 2e-3
    assert np.sqrt(np.mean(aliased[200:-200] ** 2)) < 1e-3  # a 12 kHz tone cannot exist at 16 kHz: filtered out

"""The AudioCodecs port on the stdlib, numpy and PyAV: decoding (audio.py), resampling, WAV and Ogg/Opus."""

from __future__ import annotations

from storyloom.domain.ports.speech import AudioEncoder, PcmStreamResampler
from storyloom.engines.speech import audio, containers


class AvAudioCodecs:
    def decode(self, data: bytes, encoding: str, sample_rate_hertz: int) -> tuple[bytes, int]:
        return audio.decode_audio(data, encoding, sample_rate_hertz)

    def resample(self, pcm16: bytes, source_rate: int, target_rate: int) -> bytes:
        return audio.resample_pcm16(pcm16, source_rate, target_rate)

    def stream_resampler(self, source_rate: int, target_rate: int) -> PcmStreamResampler:
        return audio.StreamResampler(source_rate, target_rate)

    def wav_header(self, sample_rate_hertz: int, data_bytes: int | None = None) -> bytes:
        return containers.wav_header(sample_rate_hertz, data_bytes)

    def wav_sample_rate(self, header: bytes) -> int:
        return containers.wav_sample_rate(header)

    def true_wav_sizes(self, data: bytes) -> bytes:
        return containers.true_wav_sizes(data)

    def opus_encoder(self, sample_rate_hertz: int) -> AudioEncoder | None:
        return containers.OggOpusEncoder(sample_rate_hertz)

"""Loudness normalization for narration: ITU-R BS.1770 integrated loudness, a gain to a target, and a peak limiter.

A small numpy implementation (pyloudnorm would bring scipy for two biquads). The K-weighting filters are applied
in the frequency domain: for the energy of 400 ms blocks their phase does not matter, and an FFT of a scene's audio
(a minute at 22 kHz) takes milliseconds. The limiter rides the gain down where a peak would pass the ceiling, with
a short attack and a slower release, so nothing is clipped and the speech does not pump.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float64]

TARGET_LUFS = -16.0
CEILING_DBFS = -1.5  # sample peaks stay under -1 dBFS with room for rounding to 16 bits


def _k_weighting(rate: int) -> list[tuple[list[float], list[float]]]:
    """The two K-weighting biquads (a high shelf, then a high pass) for any sample rate (BS.1770-4, the
    coefficients derived for arbitrary rates)."""
    f0, gain, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = ([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
             [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    highpass = ([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return [shelf, highpass]


@functools.lru_cache(maxsize=2)  # normalize measures the same audio two or three times
def _k_weighting_gain(size: int, rate: int) -> npt.NDArray[np.float64]:
    """The K-weighting filters' gain at each frequency of an rfft of `size` samples."""
    z = np.exp(-2j * np.pi * np.fft.rfftfreq(size, 1 / rate) / rate)
    gain = np.ones(z.size)
    for b, a in _k_weighting(rate):
        gain *= np.abs((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z))
    gain.flags.writeable = False
    return gain


def _fast_length(size: int) -> int:
    """The smallest length >= `size` whose only prime factors are 2, 3 and 5: an FFT of a length with a large prime
    factor (a scene's audio has any length) takes several times longer."""
    best = 1 << max(0, (size - 1).bit_length())
    fives = 1
    while fives < best:
        odd = fives
        while odd < best:  # each 3^i 5^j, doubled up to the size
            length = odd
            while length < size:
                length *= 2
            best = min(best, length)
            odd *= 3
        fives *= 5
    return best


def integrated_loudness(samples: Samples, rate: int) -> float:
    """Integrated loudness in LUFS of mono samples in [-1, 1]; -inf for silence or less than 400 ms."""
    if samples.size < rate * 0.4:
        return -math.inf
    size = _fast_length(samples.size)  # zeros after the end: an FFT of any length, as fast as a power of two
    spectrum = np.fft.rfft(samples, n=size) * _k_weighting_gain(size, rate)
    power = np.square(np.fft.irfft(spectrum, n=size)[:samples.size])
    block, step = int(0.4 * rate), int(0.1 * rate)
    cumulative = np.concatenate(([0.0], np.cumsum(power)))
    starts = np.arange(0, samples.size - block + 1, step)
    means = (cumulative[starts + block] - cumulative[starts]) / block
    gated = means[-0.691 + 10 * np.log10(np.maximum(means, 1e-12)) > -70]
    if gated.size == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(gated.mean())) - 10
    kept = gated[-0.691 + 10 * np.log10(gated) > relative]
    return -0.691 + 10 * math.log10(float(kept.mean()))


def _running_min(values: Samples, width: int) -> Samples:
    """The minimum of each `width` consecutive values (len(values) - width + 1 of them), in O(n) whatever the
    width (van Herk / Gil-Werman: minima from the left and from the right within blocks of `width`)."""
    count = values.size - width + 1
    blocks = np.pad(values, (0, -values.size % width), constant_values=np.inf).reshape(-1, width)
    from_left = np.minimum.accumulate(blocks, axis=1).ravel()
    from_right = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(from_right[:count], from_left[width - 1:width - 1 + count])


def _moving_average(values: Samples, width: int) -> Samples:
    """What np.convolve(values, a box of `width`, mode="same") gives (zeros beyond the ends), from a running sum:
    O(n) where the convolution is O(n * width), 1,100 taps at 22 kHz."""
    before, after = width - 1 - (width - 1) // 2, (width - 1) // 2
    sums = np.concatenate((np.zeros(before + 1), np.cumsum(np.pad(values, (0, after)))))
    return np.asarray((sums[width:width + values.size] - sums[:values.size]) / width, dtype=np.float64)


def _limit(samples: Samples, ceiling: float, rate: int) -> Samples:
    """Gain that never lets |sample| pass `ceiling`: the needed gain is held over a 5 ms look-around and smoothed
    (release ~50 ms), then never allowed above what each sample needs."""
    peak = np.abs(samples)
    if peak.max(initial=0.0) <= ceiling:
        return samples
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-9))
    hold = max(1, int(0.005 * rate))
    held = _running_min(np.pad(need, (hold, hold), constant_values=1.0), 2 * hold + 1)
    smooth = _moving_average(held, max(1, int(0.05 * rate)))
    gain = np.minimum(smooth, held)
    return np.asarray(samples * gain, dtype=np.float64)


def normalize(pcm: bytes, rate: int, target_lufs: float = TARGET_LUFS, ceiling_dbfs: float = CEILING_DBFS) -> bytes:
    """16-bit mono PCM brought to `target_lufs` with its sample peaks under `ceiling_dbfs`; silence is unchanged."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    loudness = integrated_loudness(samples, rate)
    if not math.isfinite(loudness):
        return pcm
    limited = samples
    for _ in range(3):  # the limiter takes a little loudness away; the next pass gives it back
        scaled = limited * 10 ** ((target_lufs - loudness) / 20)
        limited = _limit(scaled, 10 ** (ceiling_dbfs / 20), rate)
        loudness = integrated_loudness(limited, rate)
        if abs(loudness - target_lufs) < 0.3:
            break
    return bytes(np.clip(np.round(limited * 32768.0), -32767, 32767).astype("<i2").tobytes())

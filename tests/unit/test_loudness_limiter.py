"""The narration limiter's O(n) filters give what the direct (O(n * width)) ones give."""

from __future__ import annotations

import numpy as np
import pytest

from storyloom.engines.speech.loudness import _limit, _moving_average, _running_min


@pytest.mark.parametrize(("size", "width"), [(1, 1), (7, 3), (100, 7), (1000, 221), (1103, 1102), (5000, 1102)])
def test_running_min_and_moving_average_match_the_direct_filters(size: int, width: int) -> None:
    values = np.random.default_rng(size).uniform(0.2, 1.0, size)
    if width <= size:
        direct = np.lib.stride_tricks.sliding_window_view(values, width).min(axis=1)
        assert np.array_equal(_running_min(values, width), direct)
    box = np.ones(width) / width
    if width <= size:  # np.convolve's "same" has max(size, width) values
        assert np.allclose(_moving_average(values, width), np.convolve(values, box, mode="same"), atol=1e-12)


def test_the_limiter_keeps_every_sample_under_the_ceiling_and_leaves_quiet_audio_alone() -> None:
    rate = 22050
    samples = np.random.default_rng(3).normal(0, 0.2, rate * 3)
    samples[[5, 30_000, samples.size - 3]] = [1.5, -2.0, 1.2]
    limited = _limit(samples, 0.84, rate)
    assert np.abs(limited).max() <= 0.84 + 1e-9
    far = np.abs(np.arange(samples.size) - 30_000) > rate  # a second away from any peak: untouched
    far[: rate] = far[-rate:] = False
    assert np.allclose(limited[far], samples[far])
    quiet = samples.clip(-0.5, 0.5)
    assert _limit(quiet, 0.84, rate) is quiet

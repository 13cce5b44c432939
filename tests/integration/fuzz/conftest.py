"""Hypothesis profiles of the fuzzers: `ci` (the default, bounded: `make test`) and `fuzz` (long: `make fuzz`, which
passes --hypothesis-profile=fuzz)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, database=None, derandomize=False, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture])
settings.register_profile("ci", max_examples=120, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("fuzz", max_examples=3000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile("ci")

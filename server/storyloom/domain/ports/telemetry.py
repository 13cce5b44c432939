"""The telemetry port: what the domain tells operators (metrics, trace spans), without knowing how they are kept.

The domain reports events (a task changed state, a stage unit took so long, an engine answered); an adapter
(`storyloom.observability`) turns them into Prometheus metrics and OpenTelemetry spans. `NO_TELEMETRY` does
nothing and is every service's default, so tests and tools need not wire one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Protocol

Attributes = Mapping[str, str | int | float | bool]


class Telemetry(Protocol):
    def span(self, name: str, attributes: Attributes | None = None,
             parent: Mapping[str, str] | None = None) -> AbstractContextManager[None]:
        """A trace span around a block, a child of the current span (a call, a task, a stage), or of `parent` (a
        `trace_context` taken elsewhere) when given."""

    def trace_context(self) -> dict[str, str]:
        """The current trace as W3C `traceparent` headers, to continue it where the context does not flow (a task
        run by a worker, perhaps in another process); {} when nothing is traced."""

    def engine_call(self, operation: str, attributes: Attributes | None = None) -> AbstractContextManager[None]:
        """Times one engine call (`picture`, `tts`, `stt`, `text.premise`...) as a span and a latency histogram."""

    def first_chunk(self, engine: str, seconds: float) -> None:
        """How long a streaming engine took to its first chunk (a chat reply's first words)."""

    def tts_real_time_factor(self, seconds_spent: float, audio_seconds: float) -> None:
        """Speech synthesis time per second of speech made (below 1: faster than real time)."""

    def task_state(self, kind: str, previous: str | None, state: str) -> None:
        """A task of `kind` moved from `previous` (None: it is new to this process) to `state`."""

    def queue_wait(self, kind: str, seconds: float) -> None:
        """How long a task waited for a slot before it ran."""

    def stage_unit(self, kind: str, stage: str, seconds: float) -> None:
        """One unit of a task's stage (a scene written, a picture painted) took `seconds`."""


class NoTelemetry:
    """Telemetry that keeps nothing."""

    @contextlib.contextmanager
    def span(self, name: str, attributes: Attributes | None = None,
             parent: Mapping[str, str] | None = None) -> Iterator[None]:
        yield

    def trace_context(self) -> dict[str, str]:
        return {}

    @contextlib.contextmanager
    def engine_call(self, operation: str, attributes: Attributes | None = None) -> Iterator[None]:
        yield

    def first_chunk(self, engine: str, seconds: float) -> None:
        pass

    def tts_real_time_factor(self, seconds_spent: float, audio_seconds: float) -> None:
        pass

    def task_state(self, kind: str, previous: str | None, state: str) -> None:
        pass

    def queue_wait(self, kind: str, seconds: float) -> None:
        pass

    def stage_unit(self, kind: str, stage: str, seconds: float) -> None:
        pass


NO_TELEMETRY: Telemetry = NoTelemetry()

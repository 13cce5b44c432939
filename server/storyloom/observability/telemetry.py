"""The domain's telemetry port, kept as Prometheus metrics and (when tracing is on) OpenTelemetry spans."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping

from opentelemetry.trace import Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from storyloom.domain.ports.telemetry import Attributes
from storyloom.observability.metrics import Metrics

_PROPAGATOR = TraceContextTextMapPropagator()


class Observability:
    """Implements `Telemetry`; the interceptor reports calls through `metrics` and traces with `provider`."""

    def __init__(self, metrics: Metrics, provider: TracerProvider | None = None):
        self.metrics = metrics
        self.provider = provider
        self._tracer: Tracer | None = provider.get_tracer("storyloom") if provider is not None else None

    @contextlib.contextmanager
    def span(self, name: str, attributes: Attributes | None = None,
             parent: Mapping[str, str] | None = None) -> Iterator[None]:
        if self._tracer is None:
            yield
            return
        context = _PROPAGATOR.extract(dict(parent)) if parent else None
        with self._tracer.start_as_current_span(name, context=context, attributes=attributes):
            yield

    def trace_context(self) -> dict[str, str]:
        carrier: dict[str, str] = {}
        if self._tracer is not None:
            _PROPAGATOR.inject(carrier)
        return carrier

    @contextlib.contextmanager
    def engine_call(self, operation: str, attributes: Attributes | None = None) -> Iterator[None]:
        started, outcome = time.perf_counter(), "error"
        try:
            with self.span(f"engine {operation}", attributes):
                yield
            outcome = "ok"
        finally:
            self.metrics.engine_call(operation, outcome, time.perf_counter() - started)

    def first_chunk(self, engine: str, seconds: float) -> None:
        self.metrics.engine_first_chunk(engine, seconds)

    def tts_real_time_factor(self, seconds_spent: float, audio_seconds: float) -> None:
        if audio_seconds > 0:
            self.metrics.tts_rtf.observe(seconds_spent / audio_seconds)

    def task_state(self, kind: str, previous: str | None, state: str) -> None:
        self.metrics.task_state(kind, previous, state)

    def queue_wait(self, kind: str, seconds: float) -> None:
        self.metrics.task_queue_wait(kind, seconds)

    def stage_unit(self, kind: str, stage: str, seconds: float) -> None:
        self.metrics.stage_unit(kind, stage, seconds)

    def close(self) -> None:
        self.metrics.close()
        shutdown = getattr(self.provider, "shutdown", None)
        if shutdown is not None:
            shutdown()

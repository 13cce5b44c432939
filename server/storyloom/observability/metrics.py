"""Prometheus metrics: calls, streams, tasks, stages, engines and the database pool, served on an admin port.

Every family lives in one `CollectorRegistry` per server (tests run several servers in one process), and
`/metrics` serves only that registry. The names follow Prometheus' conventions: seconds, `_total` counters.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Latency buckets from a cache hit (1 ms) to a long narration (two minutes).
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
RATIOS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
LIVE_STATES = ("PENDING", "RUNNING")


class _PoolCollector(Collector):
    """The database pool, read when scraped: connections open in the pool, checked out, and its size."""

    def __init__(self, read: Callable[[], Mapping[str, int]]):
        self._read = read

    def collect(self) -> Iterable[Metric]:
        status = self._read()
        family = GaugeMetricFamily("storyloom_db_pool_connections", "Database pool connections by state.",
                                   labels=["state"])
        for state in ("checked_out", "idle", "overflow"):
            family.add_metric([state], status.get(state, 0))
        yield family
        yield GaugeMetricFamily("storyloom_db_pool_size", "Connections the pool keeps (without overflow).",
                                value=status.get("size", 0))


class Metrics:
    """The server's metric families, and the HTTP endpoint that serves them."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.rpcs = Counter("storyloom_rpcs", "Finished calls by method and gRPC status code.",
                            ["method", "code"], registry=registry)
        self.rpc_seconds = Histogram("storyloom_rpc_duration_seconds", "Call duration by method (streams: open time).",
                                     ["method"], buckets=SECONDS, registry=registry)
        self.open_streams = Gauge("storyloom_open_streams", "Streaming calls in progress by method.", ["method"],
                                  registry=registry)
        self.tasks = Gauge("storyloom_tasks", "Live tasks of this process by kind and state.", ["kind", "state"],
                           registry=registry)
        self.tasks_finished = Counter("storyloom_tasks_finished", "Tasks that ended, by kind and final state.",
                                      ["kind", "state"], registry=registry)
        self.queue_wait = Histogram("storyloom_task_queue_wait_seconds", "Time a task waited for a slot.", ["kind"],
                                    buckets=SECONDS, registry=registry)
        self.stage_seconds = Histogram("storyloom_task_stage_unit_seconds",
                                       "One unit of a task's stage (a scene, a picture, a narration).",
                                       ["kind", "stage"], buckets=SECONDS, registry=registry)
        self.engine_seconds = Histogram("storyloom_engine_duration_seconds", "Engine calls by operation.",
                                        ["operation", "outcome"], buckets=SECONDS, registry=registry)
        self.first_chunk = Histogram("storyloom_engine_time_to_first_chunk_seconds",
                                     "Time from asking a streaming engine to its first chunk.", ["engine"],
                                     buckets=SECONDS, registry=registry)
        self.tts_rtf = Histogram("storyloom_tts_real_time_factor",
                                 "Synthesis seconds per second of speech (below 1: faster than real time).",
                                 buckets=RATIOS, registry=registry)
        # The per-call families' children by label values, found once: prometheus_client's labels() checks and
        # converts its arguments and takes a lock each time, and every call would look up two or three. (Few keys:
        # only registered methods reach the interceptor, and there are 17 codes.)
        self._calls: Callable[[str, str], Counter] = functools.cache(self.rpcs.labels)
        self._durations: Callable[[str], Histogram] = functools.cache(self.rpc_seconds.labels)
        self._open_streams: Callable[[str], Gauge] = functools.cache(self.open_streams.labels)
        # The same for what every task (each chat reply) reports: few keys, the registered kinds and their states.
        self._live_tasks: Callable[[str, str], Gauge] = functools.cache(self.tasks.labels)
        self._ended_tasks: Callable[[str, str], Counter] = functools.cache(self.tasks_finished.labels)
        self._queue_waits: Callable[[str], Histogram] = functools.cache(self.queue_wait.labels)
        self._first_chunks: Callable[[str], Histogram] = functools.cache(self.first_chunk.labels)
        # And for engine calls and story stage units: the operations, outcomes and stages are the code's own names.
        self._engine_calls: Callable[[str, str], Histogram] = functools.cache(self.engine_seconds.labels)
        self._stage_units: Callable[[str, str], Histogram] = functools.cache(self.stage_seconds.labels)
        self._server: WSGIServer | None = None
        self._thread: Thread | None = None

    def watch_pool(self, read: Callable[[], Mapping[str, int]]) -> None:
        self.registry.register(_PoolCollector(read))

    # --- what the interceptor and the telemetry adapter call ---------------------------------

    def rpc_started(self, method: str, streaming: bool) -> None:
        if streaming:
            self._open_streams(method).inc()

    def rpc_finished(self, method: str, code: str, seconds: float, streaming: bool) -> None:
        if streaming:
            self._open_streams(method).dec()
        self._calls(method, code).inc()
        self._durations(method).observe(seconds)

    def task_state(self, kind: str, previous: str | None, state: str) -> None:
        if previous in LIVE_STATES:
            self._live_tasks(kind, previous).dec()
        if state in LIVE_STATES:
            self._live_tasks(kind, state).inc()
        else:
            self._ended_tasks(kind, state).inc()

    def task_queue_wait(self, kind: str, seconds: float) -> None:
        self._queue_waits(kind).observe(seconds)

    def engine_first_chunk(self, engine: str, seconds: float) -> None:
        self._first_chunks(engine).observe(seconds)

    def engine_call(self, operation: str, outcome: str, seconds: float) -> None:
        self._engine_calls(operation, outcome).observe(seconds)

    def stage_unit(self, kind: str, stage: str, seconds: float) -> None:
        self._stage_units(kind, stage).observe(seconds)

    # --- the endpoint ------------------------------------------------------------------------

    def serve(self, address: str) -> int:
        """Serves /metrics on host:port (port 0: any free one) from a daemon thread; returns the port."""
        host, _, port = address.rpartition(":")
        server, self._thread = start_http_server(int(port), host or "127.0.0.1", registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

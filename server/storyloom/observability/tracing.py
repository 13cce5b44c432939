"""OpenTelemetry tracing: a tracer provider when there is somewhere to send spans, else none at all.

With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans go to that OTLP collector (gRPC, batched; the SDK reads the other
`OTEL_*` variables, such as `OTEL_SERVICE_NAME`, itself). Without it nothing is traced and no span is made: the
calls' hot path pays nothing. Tests pass a provider of their own (the SDK's in-memory exporter).
"""

from __future__ import annotations

import logging
import os

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

log = logging.getLogger(__name__)

SERVICE_NAME = "storyloom"


def provider_from_env() -> TracerProvider | None:
    """A provider exporting to OTEL_EXPORTER_OTLP_ENDPOINT, or None when it is not set."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    log.info("traces exported", extra={"endpoint": endpoint})
    return provider

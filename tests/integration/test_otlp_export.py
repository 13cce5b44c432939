"""With OTEL_EXPORTER_OTLP_ENDPOINT set, the server sends its spans to that collector over OTLP/gRPC (a collector
stand-in here: OpenTelemetry's own TraceService, served by grpcio in threads)."""

from __future__ import annotations

import threading
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.conftest import serving, settings_for_tests

TRACE_ID = "5b8aa5a2d2c872e8321cf37308d69df2"


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[tuple[str, bytes]] = []
        self.received = threading.Event()

    def Export(self, request, context):  # the generated method name
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.spans += [(span.name, span.trace_id) for span in scope.spans]
        self.received.set()
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_spans_are_exported_to_the_otlp_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    try:
        async with serving(settings_for_tests(tmp_path / "data")) as storyloom:
            caller = await storyloom.new_caller()
            with pytest.raises(grpc.aio.AioRpcError):
                await task_pb2_grpc.TaskServiceStub(storyloom.channel).GetTask(
                    task_pb2.GetTaskRequest(name="tasks/missing"),
                    metadata=(*caller.metadata, ("traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-01")))
        # Closing the app flushed the batch.
        assert collector.received.is_set()
        assert ("/storyloom.v1.TaskService/GetTask", bytes.fromhex(TRACE_ID)) in collector.spans
    finally:
        server.stop(0)

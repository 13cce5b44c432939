"""A tiny fake gRPC backend for gateway behaviours the real Storyloom server cannot trigger yet.

Everything else in tests/gateway runs against the real server (tests/conftest.py). This fake
exists only for:

* a gRPC error in the middle of a server stream (HTTP/1.1 trailers): the real streams end with
  an in-band terminal event instead, by design;
* a unary `google.api.HttpBody` response: StoryService.ExportStory is not implemented yet;
* a slow unary call next to a slow stream (route timeouts).

Delete each case once the real server can produce it.
"""

from __future__ import annotations

import asyncio

import grpc
from google.api import httpbody_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_status import rpc_status

from storyloom.v1 import story_pb2_grpc, task_pb2, task_pb2_grpc

DOMAIN = "storyloom.v1"
EXPORT_MARKDOWN = "# The Brave Little Fox\n\nOnce upon a time...\n"
STREAM_EVENTS = 5


def rich_status(code: int, message: str, *details) -> grpc.Status:
    status = status_pb2.Status(code=code, message=message)
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return rpc_status.to_status(status)


class Tasks(task_pb2_grpc.TaskServiceServicer):
    async def GetTask(self, request, context):
        if request.name == "tasks/sleep":  # slower than a short unary route timeout
            await asyncio.sleep(2)
        return task_pb2.Task(name=request.name, kind="fake", state=task_pb2.TASK_STATE_RUNNING)

    async def WatchTask(self, request, context):
        delay = 0.3 if request.name == "tasks/slow" else 0.01
        for seq in range(request.after_sequence + 1, STREAM_EVENTS + 1):
            if request.name == "tasks/fail-midstream" and seq == 3:
                await context.abort_with_status(
                    rich_status(
                        code_pb2.INTERNAL,
                        "engine crashed",
                        error_details_pb2.ErrorInfo(reason="ENGINE_CRASHED", domain=DOMAIN),
                    )
                )
            done = seq == STREAM_EVENTS
            yield task_pb2.TaskEvent(
                task=request.name,
                sequence=seq,
                state=task_pb2.TASK_STATE_SUCCEEDED if done else task_pb2.TASK_STATE_RUNNING,
                percent=seq * 100 // STREAM_EVENTS,
                message=f"step {seq}",
            )
            await asyncio.sleep(delay)


class Stories(story_pb2_grpc.StoryServiceServicer):
    async def ExportStory(self, request, context):
        return httpbody_pb2.HttpBody(content_type="text/markdown; charset=utf-8", data=EXPORT_MARKDOWN.encode())


async def start() -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    task_pb2_grpc.add_TaskServiceServicer_to_server(Tasks(), server)
    story_pb2_grpc.add_StoryServiceServicer_to_server(Stories(), server)
    health = HealthServicer()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port

"""The access log of a real server: each call's line names its own caller and request id, however many calls of one
method run at once (they share the interceptor's wrapper of the method)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import grpc
import pytest

from storyloom.v1 import task_pb2, task_pb2_grpc
from tests.support.log_records import Records
from tests.support.server import StoryloomServer

GET_TASK = "/storyloom.v1.TaskService/GetTask"


@pytest.fixture
def access() -> Iterator[list[logging.LogRecord]]:
    records, logger = Records(), logging.getLogger("storyloom.access")
    level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.INFO)  # setLevel, not .level: it clears the logger's cached isEnabledFor answers
    try:
        yield records.records
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)


async def test_concurrent_calls_of_one_method_each_log_their_own_caller_and_request_id(
        storyloom_server: StoryloomServer, access: list[logging.LogRecord]):
    callers = [await storyloom_server.new_caller(f"reader {i}") for i in range(3)]
    stub = task_pb2_grpc.TaskServiceStub(storyloom_server.channel)

    async def get(metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetTask(task_pb2.GetTaskRequest(name="tasks/missing"), metadata=metadata)
        return refused.value.code()

    calls = [(caller.user_id, f"{caller.user_id}-{n}") for caller in callers for n in range(4)]
    codes = await asyncio.gather(*(get((("x-api-key", next(c.key for c in callers if c.user_id == user)),
                                        ("x-request-id", request_id))) for user, request_id in calls),
                                 get((("x-request-id", "no key"),)))
    assert codes == [grpc.StatusCode.NOT_FOUND] * len(calls) + [grpc.StatusCode.UNAUTHENTICATED]
    logged = sorted((r.user, r.request_id, r.code) for r in access if r.method == GET_TASK)
    assert logged == sorted([(user, request_id, "NOT_FOUND") for user, request_id in calls]
                            + [("", "no key", "UNAUTHENTICATED")])

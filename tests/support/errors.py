"""Reading a gRPC error's google.rpc.Status: its one ErrorInfo, its RetryInfo."""

from __future__ import annotations

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "storyloom.v1"


def rich_status(error: grpc.aio.AioRpcError | grpc.RpcError) -> status_pb2.Status:
    """The error's google.rpc.Status (from the grpc-status-details-bin trailer); fails if there is none."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"{error.code()} without status details: {error.details()!r}"
    return status


def details_of(status: status_pb2.Status, kind: type[Message]) -> list[Message]:
    found = []
    for detail in status.details:
        if detail.Is(kind.DESCRIPTOR):
            message = kind()
            detail.Unpack(message)
            found.append(message)
    return found


def the_error_info(error: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The error's one ErrorInfo (exactly one, domain storyloom.v1)."""
    infos = details_of(rich_status(error), error_details_pb2.ErrorInfo)
    assert len(infos) == 1, f"{error.code()}: {len(infos)} ErrorInfo in {error.details()!r}"
    info = infos[0]
    assert isinstance(info, error_details_pb2.ErrorInfo) and info.domain == ERROR_DOMAIN, info
    return info


def in_band_reason(status: status_pb2.Status) -> str:
    """The reason of the one ErrorInfo of a google.rpc.Status a stream sent in-band (an error event)."""
    infos = details_of(status, error_details_pb2.ErrorInfo)
    assert len(infos) == 1, f"{len(infos)} ErrorInfo in {status}"
    info = infos[0]
    assert isinstance(info, error_details_pb2.ErrorInfo) and info.domain == ERROR_DOMAIN, info
    return info.reason


def retry_seconds(error: grpc.aio.AioRpcError | grpc.RpcError) -> float:
    """The RetryInfo delay of the error, in seconds (exactly one RetryInfo)."""
    infos = details_of(rich_status(error), error_details_pb2.RetryInfo)
    assert len(infos) == 1, f"{error.code()}: {len(infos)} RetryInfo"
    info = infos[0]
    assert isinstance(info, error_details_pb2.RetryInfo)
    return info.retry_delay.ToMilliseconds() / 1000


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """The error's one ErrorInfo (domain storyloom.v1), as clients must read a refusal."""
    return the_error_info(error)

"""Errors as Storyloom sends them: a gRPC status with a `google.rpc.Status` in the `grpc-status-details-bin`
trailer, holding exactly one `ErrorInfo` (an UPPER_SNAKE `reason` to branch on), `BadRequest` field violations for
bad input and `RetryInfo` when waiting helps.

Every failed call of `StoryloomClient` raises `StoryloomError`, a `grpclib.GRPCError` whose details are decoded
with the generated betterproto2 messages (no protobuf runtime needed). A connection that cannot be made or is lost
is a `StoryloomError` with status UNAVAILABLE, a deadline that passes is DEADLINE_EXCEEDED, so callers handle one
exception type.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from typing import Any

from grpclib.const import Status
from grpclib.encoding.base import StatusDetailsCodecBase
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

from .generated.google import rpc
from .generated.google.protobuf import Any as AnyMessage

ERROR_DOMAIN = "storyloom.v1"

__all__ = ["ERROR_DOMAIN", "ChecksumMismatch", "Status", "StatusDetailsCodec", "StoryloomError"]


class StoryloomError(GRPCError):
    """A failed call or a failed task: its gRPC status code, message and decoded `google.rpc.Status` details.

    `str(error)` is one readable line, for example
    `NOT_FOUND (RESOURCE_NOT_FOUND): Story users/u1/stories/s1 was not found.`; `describe()` adds the field
    violations and the retry delay on lines of their own.
    """

    def __init__(self, status: Status, message: str | None = None, details: Sequence[Any] | None = None) -> None:
        super().__init__(status, message, list(details or ()))

    @classmethod
    def from_rpc_status(cls, status: rpc.Status) -> StoryloomError:
        """An in-band error (a `ReplyEvent.error` or a `TaskEvent.error`) as an exception."""
        try:
            code = Status(status.code)
        except ValueError:
            code = Status.UNKNOWN
        return cls(code, status.message, _unpack_all(status.details))

    @property
    def code(self) -> Status:
        return self.status

    @property
    def error_info(self) -> rpc.ErrorInfo | None:
        return next((d for d in self.details if isinstance(d, rpc.ErrorInfo)), None)

    @property
    def reason(self) -> str:
        """The ErrorInfo reason, for example `RESOURCE_NOT_FOUND`; empty if the server sent none."""
        info = self.error_info
        return info.reason if info else ""

    @property
    def field_violations(self) -> list[rpc.BadRequestFieldViolation]:
        return [v for d in self.details if isinstance(d, rpc.BadRequest) for v in d.field_violations]

    @property
    def retry_delay(self) -> datetime.timedelta | None:
        """How long the server asks to wait before trying again (RetryInfo), if it said."""
        return next((d.retry_delay for d in self.details if isinstance(d, rpc.RetryInfo) and d.retry_delay), None)

    def __str__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.status.name}{reason}: {self.message or 'no message'}"

    def describe(self) -> str:
        lines = [str(self)]
        violations = [f"{v.field}: {v.description}" for v in self.field_violations]
        # One violation is often the message itself; say it once.
        lines += [f"  {v}" for v in violations if v != self.message]
        if (delay := self.retry_delay) is not None:
            lines.append(f"  retry after {delay.total_seconds():g} s")
        return "\n".join(lines)


class ChecksumMismatch(StoryloomError):
    """Downloaded bytes whose SHA-256 or size differ from what the server announced (DATA_LOSS)."""

    def __init__(self, name: str, expected: str, actual: str) -> None:
        super().__init__(Status.DATA_LOSS, f"{name}: sha256 {actual} does not match the announced {expected}")
        self.expected, self.actual = expected, actual


def _unpack_all(details: Sequence[AnyMessage]) -> list[Any]:
    """Unpacks every detail whose type the generated code knows; unknown ones stay `Any`."""
    unpacked: list[Any] = []
    for detail in details:
        try:
            unpacked.append(detail.unpack())
        except TypeError:
            unpacked.append(detail)
    return unpacked


class StatusDetailsCodec(StatusDetailsCodecBase):
    """Decodes `grpc-status-details-bin` with the generated `google.rpc` messages, for `grpclib.client.Channel`."""

    def encode(self, status: Status, message: str | None, details: Any) -> bytes:
        packed = [AnyMessage.pack(d) for d in details or ()]
        return bytes(rpc.Status(code=status.value, message=message or "", details=packed))

    def decode(self, status: Status, message: str | None, data: bytes) -> list[Any]:
        try:
            return _unpack_all(rpc.Status.parse(data).details)
        except Exception:  # noqa: BLE001 - a malformed trailer must not hide the status itself
            return []


def translate(error: BaseException, address: str) -> StoryloomError | None:
    """The StoryloomError for an exception a grpclib call raised, or None if it is not a call failure."""
    if isinstance(error, StoryloomError):
        return error
    if isinstance(error, GRPCError):
        return StoryloomError(error.status, error.message, error.details if isinstance(error.details, list) else [])
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return StoryloomError(Status.DEADLINE_EXCEEDED, "the call's deadline passed")
    if isinstance(error, StreamTerminatedError):
        return StoryloomError(Status.UNAVAILABLE, f"the connection to {address} was lost: {error}")
    if isinstance(error, (ConnectionError, OSError)):
        return StoryloomError(Status.UNAVAILABLE, f"cannot reach {address}: {error.strerror or error}")
    if isinstance(error, ProtocolError) and "closed" in str(error).lower():
        return StoryloomError(Status.UNAVAILABLE, f"the connection to {address} was closed: {error}")
    return None

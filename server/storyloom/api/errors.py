"""The one place that turns domain errors into google.rpc.Status (AIP-193).

Every status carries exactly one ErrorInfo (domain `storyloom.v1`), plus BadRequest field
violations for invalid input and RetryInfo when waiting helps.
"""

from __future__ import annotations

import uuid

from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from storyloom.api.context import Context
from storyloom.domain.errors import DomainError, InvalidArgument, ResourceExhausted
from storyloom.domain.tasks import TaskError

ERROR_DOMAIN = "storyloom.v1"


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


# Every message quotes at most 200 characters of a caller's input (`domain.text.clip`); these caps are the net under
# that rule, so that no status can outgrow the trailers it travels in (an oversize one would arrive as a metadata
# RESOURCE_EXHAUSTED without details).
MAX_MESSAGE_CHARS = 600
MAX_DESCRIPTION_CHARS = 400
MAX_METADATA_CHARS = 256


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def status_proto(code: str, reason: str, message: str, metadata: dict[str, str]) -> status_pb2.Status:
    status = status_pb2.Status(code=code_pb2.Code.Value(code), message=_cap(message, MAX_MESSAGE_CHARS))
    capped = {key: _cap(value, MAX_METADATA_CHARS) for key, value in metadata.items()}
    status.details.append(_pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=capped)))
    return status


def status_for_error(error: DomainError) -> status_pb2.Status:
    status = status_proto(error.code, error.reason, error.message, error.metadata)
    if isinstance(error, InvalidArgument):
        status.details.append(_pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=_cap(v.field, MAX_METADATA_CHARS),
                                                        description=_cap(v.description, MAX_DESCRIPTION_CHARS))
            for v in error.violations
        ])))
    if isinstance(error, ResourceExhausted):
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(max(1, round(error.retry_after_seconds * 1000)))
        status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status


def status_for_task_error(error: TaskError) -> status_pb2.Status:
    """A stored error as a status; `retryDelaySeconds` in its metadata also becomes a RetryInfo."""
    status = status_proto(error.code, error.reason, error.message, error.metadata)
    try:
        retry_after = float(error.metadata.get("retryDelaySeconds", ""))
    except ValueError:
        return status
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(max(1, round(retry_after * 1000)))
    status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status


def new_request_id() -> str:
    """The id a server fault is logged under and reported with (ErrorInfo metadata `requestId`)."""
    return uuid.uuid4().hex


def internal_status(request_id: str = "") -> status_pb2.Status:
    """INTERNAL for a fault of the server; `request_id` (in the metadata) finds its log line."""
    metadata = {"requestId": request_id} if request_id else {}
    message = f"Internal error; it has been logged as request {request_id}." if request_id else (
        "Internal error; it has been logged.")
    return status_proto("INTERNAL", "INTERNAL", message, metadata)


async def abort(context: Context, status: status_pb2.Status, metadata: tuple[tuple[str, str], ...] = ()) -> None:
    """Ends the call with `status`, its details in the `grpc-status-details-bin` trailer (and `metadata` beside)."""
    rich = rpc_status.to_status(status)
    await context.abort(rich.code, rich.details, (*rich.trailing_metadata, *metadata))

"""Errors the domain raises. The API layer maps each to a google.rpc.Status in one place.

Every error carries an UPPER_SNAKE `reason` and `metadata` naming each variable of its message
(AIP-193), so clients branch on the reason, never on the text.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    field: str  # path of the request field, e.g. "page_size" or "conversation.title"
    description: str


class DomainError(Exception):
    """Base of all expected errors. `code` is a google.rpc.Code name."""

    code = "UNKNOWN"
    default_reason = "UNKNOWN"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})


class InvalidArgument(DomainError):
    code = "INVALID_ARGUMENT"
    default_reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation] | FieldViolation, *, reason: str | None = None,
                 message: str | None = None):
        self.violations = [violations] if isinstance(violations, FieldViolation) else list(violations)
        text = message or "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(text, reason=reason, metadata={"fields": ",".join(v.field for v in self.violations)})


class NotFound(DomainError):
    code = "NOT_FOUND"
    default_reason = "RESOURCE_NOT_FOUND"

    def __init__(self, resource_name: str):
        super().__init__(f"{resource_name} was not found", metadata={"resourceName": resource_name})


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"
    default_reason = "RESOURCE_ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    code = "FAILED_PRECONDITION"
    default_reason = "FAILED_PRECONDITION"


class Aborted(DomainError):
    code = "ABORTED"
    default_reason = "ABORTED"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    default_reason = "API_KEY_INVALID"


class ResourceExhausted(DomainError):
    code = "RESOURCE_EXHAUSTED"
    default_reason = "RATE_LIMIT_EXCEEDED"

    def __init__(self, message: str, *, retry_after_seconds: float, reason: str | None = None,
                 metadata: dict[str, str] | None = None):
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(DomainError):
    code = "UNAVAILABLE"
    default_reason = "UNAVAILABLE"


class Unimplemented(DomainError):
    code = "UNIMPLEMENTED"
    default_reason = "NOT_IMPLEMENTED"


class Internal(DomainError):
    """A fault of the server, not of the request: the message says so and `requestId` in the metadata names the
    log line that tells what happened."""

    code = "INTERNAL"
    default_reason = "INTERNAL"

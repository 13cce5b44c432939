"""Request messages over the size limit, refused by us (RESOURCE_EXHAUSTED with an ErrorInfo), not by grpc.

grpc's own limit (`grpc.max_receive_message_length`) answers a bare RESOURCE_EXHAUSTED that no handler sees, so no
details can be added. The server sets grpc's limit to `GRPC_CEILING_FACTOR` times ours, and each method's
deserializer measures the raw message first: one over our limit becomes an `Oversized` marker instead of a
message, which the interceptor turns into MESSAGE_TOO_LARGE (after authentication). Only a message over the
ceiling still gets grpc's bare answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

from storyloom.domain.errors import DomainError

# grpc's limit, as a multiple of ours: what a caller can make the server buffer before it is refused.
GRPC_CEILING_FACTOR = 4


class MessageTooLarge(DomainError):
    code = "RESOURCE_EXHAUSTED"
    default_reason = "MESSAGE_TOO_LARGE"

    def __init__(self, size: int, limit: int):
        super().__init__(f"A request message may be at most {limit} bytes; this one has {size}.",
                         metadata={"messageBytes": str(size), "limitBytes": str(limit)})


@dataclasses.dataclass(frozen=True)
class Oversized:
    """What the deserializer gives for a message over the limit."""

    size: int
    limit: int

    def error(self) -> MessageTooLarge:
        return MessageTooLarge(self.size, self.limit)


def bounded(deserializer: Callable[[bytes], Any] | None, limit: int) -> Callable[[bytes], Any]:
    """`deserializer` behind a size check: a message over `limit` bytes becomes an `Oversized`, undecoded."""

    def deserialize(raw: bytes) -> Any:
        if len(raw) > limit:
            return Oversized(len(raw), limit)
        return deserializer(raw) if deserializer is not None else raw

    return deserialize


def check(request: Any) -> Any:
    """The request, or MessageTooLarge if it was too large."""
    if isinstance(request, Oversized):
        raise request.error()
    return request


async def checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A request stream that raises MessageTooLarge at the first message that was too large."""
    async for request in requests:
        yield check(request)

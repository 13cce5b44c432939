"""The decoding guard: a request that does not parse is INVALID_ARGUMENT (MALFORMED_REQUEST), never a traceback.

grpc.aio deserializes a request before the handler runs, and a deserializer that raises ends the call with
UNKNOWN and an ERROR traceback in the log. The interceptor wraps each handler's deserializer with `guarded`: a
message that does not decode becomes a `Malformed` marker instead, and the interceptor, after it has
authenticated the caller, answers it with one status (`malformed_error`). Client-streamed messages are checked as
they are read (`checked_stream`). `MalformedLog` keeps the log to one line per client per minute.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from storyloom.domain.errors import FieldViolation, InvalidArgument

MALFORMED_REASON = "MALFORMED_REQUEST"


class Malformed:
    """What a request that did not decode becomes: the error's type name, and nothing of the bytes."""

    __slots__ = ("error",)

    def __init__(self, error: str):
        self.error = error


class MalformedRequest(InvalidArgument):
    def __init__(self) -> None:
        super().__init__(FieldViolation("request", "is not a valid message of this method's request type"),
                         reason=MALFORMED_REASON, message="The request could not be decoded.")


def guarded(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """`deserializer`, returning a `Malformed` marker where it would raise."""
    if deserializer is None:
        return None
    parse = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception as exc:  # noqa: BLE001 -- DecodeError, or whatever else a parser raises on bad bytes
            return Malformed(type(exc).__name__)

    return deserialize


async def checked_stream(requests: AsyncIterator[Any], on_malformed: Callable[[Malformed], None]) -> AsyncIterator[Any]:
    """The client's messages; a malformed one is reported, then raises MalformedRequest (the stream ends)."""
    async for request in requests:
        if isinstance(request, Malformed):
            on_malformed(request)
            raise MalformedRequest()
        yield request


class MalformedLog:
    """At most one log line per client per `interval` seconds; counts what it left out. Bounded memory: past
    `max_clients` distinct clients within an interval, the table starts again."""

    def __init__(self, interval: float = 60.0, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._interval = interval
        self._max = max_clients
        self._clock = clock
        self._next: dict[str, tuple[float, int]] = {}

    def admit(self, client: str) -> int | None:
        """None: do not log now. Otherwise how many lines were left out for this client since the last one."""
        now = self._clock()
        due, skipped = self._next.get(client, (0.0, 0))
        if now < due:
            self._next[client] = (due, skipped + 1)
            return None
        if len(self._next) >= self._max and client not in self._next:
            self._next = {c: v for c, v in self._next.items() if v[0] > now}
            if len(self._next) >= self._max:
                self._next.clear()
        self._next[client] = (now + self._interval, 0)
        return skipped

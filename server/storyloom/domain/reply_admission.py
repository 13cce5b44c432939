"""How many replies this process takes on at once; past that a new message is refused at once, not queued.

A reply mostly waits on the model, so many run side by side (`ConversationLimits.concurrent_replies`), and a few
more may wait for a writer. Beyond `ConversationLimits.admitted_replies`, SendMessage answers RESOURCE_EXHAUSTED with
a RetryInfo in milliseconds, storing nothing, instead of holding the caller in a queue for minutes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from storyloom.domain.errors import ResourceExhausted

# An admitted reply whose task never ran (cancelled while queued...) is forgotten after this long.
STALE_SECONDS = 15 * 60
RETRY_AFTER_SECONDS = 1.0


class Place:
    """A reservation: admitted once its reply has an id."""

    def __init__(self) -> None:
        self.admitted = False


class ReplyAdmission:
    def __init__(self, limit: int):
        self._limit = limit
        self._reserved = 0  # admissions whose reply has no id yet
        self._admitted: dict[str, float] = {}  # reply message id -> when admitted (monotonic)

    def __len__(self) -> int:
        return self._reserved + len(self._admitted)

    @contextlib.contextmanager
    def reserve(self) -> Iterator[Place]:
        """Holds a place for a reply being sent (ResourceExhausted if none is left) until `admit` or the end of the
        block, which gives it back if nothing was admitted (the send failed)."""
        if len(self) >= self._limit:
            self._forget_stale()
        if len(self) >= self._limit:
            raise ResourceExhausted(
                f"The server is writing as many replies as it can ({self._limit}); try again in a moment.",
                retry_after_seconds=RETRY_AFTER_SECONDS, reason="REPLIES_AT_CAPACITY",
                metadata={"limit": str(self._limit)})
        self._reserved += 1
        place = Place()
        try:
            yield place
        finally:
            if not place.admitted:
                self._reserved -= 1

    def admit(self, message_id: str, place: Place | None = None) -> None:
        """Within `reserve`: the reply now has an id, and holds its place (the reserved one, given as `place`, so it
        is not counted twice while its send finishes) until `release`."""
        self._admitted[message_id] = time.monotonic()
        if place is not None and not place.admitted:
            place.admitted = True
            self._reserved -= 1

    def release(self, message_id: str) -> None:
        self._admitted.pop(message_id, None)

    def _forget_stale(self) -> None:
        cutoff = time.monotonic() - STALE_SECONDS
        for message_id in [m for m, since in self._admitted.items() if since < cutoff]:
            del self._admitted[message_id]

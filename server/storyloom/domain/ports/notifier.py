"""Wake-ups across processes: a write announces (channel, key) after it is stored; whoever waits on that key wakes.

Small and general on purpose: what changed is read from the store, never carried by the notice, so a notice may be
merged with others or (rarely, after a lost connection) missed; waiters keep a long safety timeout for that. The
in-process implementation serves one process (SQLite); PostgreSQL's LISTEN/NOTIFY serves every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Protocol


class Subscription:
    """Notices of one (channel, key) since the subscription began. `wait` returns when one came since the last
    `wait` (at once if one already did), or after `timeout` seconds; True when woken by a notice."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - a bounded wait is the point
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True


class Notifier(Protocol):
    # How long a waiter may sleep before it reads the store again in case a notice was lost; None: never (no notice
    # can be lost, so an idle waiter costs nothing).
    recheck_seconds: float | None

    async def publish(self, channel: str, key: str) -> None:
        """Announces that something under (channel, key) changed; call it after the change is stored."""

    def subscribe(self, channel: str, key: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Subscribes for the block; subscribe before reading, so no change after the read is missed."""


class LocalNotifier:
    """Notices within this process: enough when one process is the only writer (SQLite). Also the delivery half
    of the cross-process notifiers, which call `deliver` for what they hear."""

    recheck_seconds: float | None = None  # a notice within one process is never lost

    def __init__(self) -> None:
        self._subscribers: dict[tuple[str, str], set[Subscription]] = defaultdict(set)

    async def publish(self, channel: str, key: str) -> None:
        self.deliver(channel, key)

    def deliver(self, channel: str, key: str) -> None:
        for subscription in list(self._subscribers.get((channel, key), ())):
            subscription.notify()

    def deliver_all(self) -> None:
        """Wakes every subscriber: what they wait for may have changed unannounced (notices were missed)."""
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                subscription.notify()

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str, key: str) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        subscribers = self._subscribers[(channel, key)]
        subscribers.add(subscription)
        try:
            yield subscription
        finally:
            subscribers.discard(subscription)
            if not subscribers:
                self._subscribers.pop((channel, key), None)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

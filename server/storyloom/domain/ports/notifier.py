"""Wake-ups across processes: a write announces (channel, key) after it is stored; whoever waits on that key wakes.

Small and general on purpose: what changed is read from the store, never carried by the notice, so a notice may be
merged with others or (rarely, after a lost connection) missed; waiters keep a long safety timeout for that. The
in-process implementation serves one process (SQLite); PostgreSQL's LISTEN/NOTIFY serves every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

# The channel that announces a change to a resource that was finished (a finished story, task or media item changes
# only by being deleted, or by what refers to it), keyed by the resource's name (`tasks/{id}`,
# `users/{user}/stories/{id}`, `media/{id}`); a key ending in "/" names everything under it (`tasks/`). Whoever keeps
# copies of finished resources (the API's read cache) listens to it.
CHANGED = "changed"

# Called with the key of each notice on a channel, or with None when notices may have been missed.
Listener = Callable[[str | None], None]


class Subscription:
    """Notices of one (channel, key) since the subscription began. `wait` returns when one came since the last
    `wait` (at once if one already did), or after `timeout` seconds; True when woken by a notice. One waiter at a
    time. A server keeps thousands waiting (idle watchers): one waiting holds a future, and a timer if it has a
    timeout, not a task nor an event of its own."""

    __slots__ = ("_notified", "_waiter")

    def __init__(self) -> None:
        self._notified = False  # a notice came while nobody waited: the next wait returns at once
        self._waiter: asyncio.Future[bool] | None = None

    def notify(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)
        elif waiter is None or waiter.cancelled() or not waiter.result():  # (woken already: one wake is enough)
            self._notified = True

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - a bounded wait is the point
        if self._notified:
            self._notified = False
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = None if timeout is None else loop.call_later(timeout, _time_out, waiter)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _time_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class _LocalSubscription(Subscription):
    """A subscription that is its own context manager (no generator per waiter): listed on entry, gone on exit."""

    __slots__ = ("_subscribers", "_key")

    def __init__(self, subscribers: defaultdict[tuple[str, str], set[Subscription]], key: tuple[str, str]) -> None:
        super().__init__()
        self._subscribers = subscribers
        self._key = key

    async def __aenter__(self) -> Subscription:
        self._subscribers[self._key].add(self)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        subscribers = self._subscribers.get(self._key)
        if subscribers is not None:
            subscribers.discard(self)
            if not subscribers:
                del self._subscribers[self._key]


class Notifier(Protocol):
    # How long a waiter may sleep before it reads the store again in case a notice was lost; None: never (no notice
    # can be lost, so an idle waiter costs nothing).
    recheck_seconds: float | None
    # True while every notice is heard; False while it may not be (the listening connection is down), when whoever
    # keeps copies must not trust them.
    live: bool

    async def publish(self, channel: str, key: str) -> None:
        """Announces that something under (channel, key) changed; call it after the change is stored."""

    def announced(self, channel: str, key: str, *, store_only: bool = False) -> None:
        """What `publish` does but send the notice: the store sent it to every replica itself, in the statement that
        stored the change (`ConversationRepository.announces_replies`, `TaskRepository.announces_tasks`). Its echo
        may come before the writer's call returns, so this process's subscribers are woken now too (they may look
        at what the writer keeps in memory), unless they read `store_only`, which the echo finds committed."""

    def subscribe(self, channel: str, key: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Subscribes for the block; subscribe before reading, so no change after the read is missed."""

    def listen(self, channel: str, listener: Listener) -> Callable[[], None]:
        """Calls `listener(key)` for every notice on `channel` (in the publishing process before `publish`
        returns), and `listener(None)` when notices may have been missed: when the listening connection is lost and
        again when it is back. Returns what stops the listening."""


class LocalNotifier:
    """Notices within this process: enough when one process is the only writer (SQLite). Also the delivery half
    of the cross-process notifiers, which call `deliver` for what they hear."""

    recheck_seconds: float | None = None  # a notice within one process is never lost
    live = True

    def __init__(self) -> None:
        self._subscribers: defaultdict[tuple[str, str], set[Subscription]] = defaultdict(set)
        self._listeners: dict[str, list[Listener]] = defaultdict(list)

    async def publish(self, channel: str, key: str) -> None:
        self.deliver(channel, key)

    def announced(self, channel: str, key: str, *, store_only: bool = False) -> None:
        self.deliver(channel, key)

    def deliver(self, channel: str, key: str) -> None:
        for subscription in list(self._subscribers.get((channel, key), ())):
            subscription.notify()
        self.tell_listeners(channel, key)

    def tell_listeners(self, channel: str, key: str | None) -> None:
        """Calls the channel's listeners (not its subscribers) with `key`."""
        for listener in list(self._listeners.get(channel, ())):
            listener(key)

    def deliver_all(self) -> None:
        """Wakes every subscriber and tells every listener that notices were missed: what they wait for or keep may
        have changed unannounced."""
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                subscription.notify()
        self.missed()

    def missed(self) -> None:
        """Tells every listener that notices may have been missed."""
        for channel in list(self._listeners):
            self.tell_listeners(channel, None)

    def listen(self, channel: str, listener: Listener) -> Callable[[], None]:
        self._listeners[channel].append(listener)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._listeners[channel].remove(listener)

        return stop

    def subscribe(self, channel: str, key: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        return _LocalSubscription(self._subscribers, (channel, key))

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

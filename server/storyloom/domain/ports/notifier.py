"""Wake-ups across processes: a write announces (channel, key) after it is stored; whoever waits on that key wakes.

Small and general on purpose: what changed is read from the store, never carried by the notice, so a notice may be
merged with others or (rarely, after a lost connection) missed; waiters keep a long safety timeout for that. The
in-process implementation serves one process (SQLite); PostgreSQL's LISTEN/NOTIFY serves every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
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
        self._subscribers: dict[tuple[str, str], set[Subscription]] = defaultdict(set)
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

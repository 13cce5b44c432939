"""The built responses of finished resources, served from memory with no database statement.

A finished story, task or media item changes only by being deleted, or through what it embeds (a picture gaining a
rendition, a story's deletion taking a task's result away). Every such change is announced on the notifier's
CHANGED channel, to every replica (PostgreSQL's LISTEN/NOTIFY) and in the writing process before its call returns;
the cache forgets the named entries and those that depend on them. It serves nothing while the notifier may be
missing notices (its listening connection down), and forgets everything when it is back.

A response read from the store is kept only if nothing it is built from was announced since the read began
(`token()` before the read, `put(..., since=token)` after), so a delete racing a read cannot leave a copy behind.
Who may see an entry is the caller's business: each entry keeps its owner.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from google.protobuf.message import Message

from storyloom.domain.ports.notifier import CHANGED, Notifier

M = TypeVar("M", bound=Message)


class Entry(Generic[M]):
    __slots__ = ("owner", "response", "depends", "stored")

    def __init__(self, owner: str, response: M, depends: tuple[str, ...], stored: float):
        self.owner, self.response, self.depends, self.stored = owner, response, depends, stored


class ReadCache:
    """Responses by resource name, for at most `capacity` names (the least recently used go first). Responses are
    shared between calls: nobody may change one after `put`. `max_age` (seconds, None: no limit) bounds how long
    an entry is trusted without reading the store again, against a notice lost without the connection being seen
    to drop."""

    def __init__(self, capacity: int = 4096, *, max_age: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._capacity = capacity
        self._max_age = max_age
        self._clock = clock
        self._entries: collections.OrderedDict[str, Entry[Message]] = collections.OrderedDict()
        self._dependents: dict[str, set[str]] = {}
        self._notifier: Notifier | None = None
        # Announcements counted: `_forgotten` has the count just after the last announcement of each recent name,
        # `_floor` the count after the last one that covered every name (or the newest trimmed from `_forgotten`).
        # A read that began at count `since` may keep its copy only if none of its names came after: since >= both.
        self._count = 0
        self._floor = 0
        self._forgotten: collections.OrderedDict[str, int] = collections.OrderedDict()

    def attach(self, notifier: Notifier) -> Callable[[], None]:
        """Follows the announcements of changes on `notifier`; returns what stops it."""
        self._notifier = notifier
        return notifier.listen(CHANGED, self._heard)

    def _heard(self, key: str | None) -> None:
        if key is None or key == "":
            self.clear()
        elif key.endswith("/"):
            self.forget_under(key)
        else:
            self.forget(key)

    @property
    def _live(self) -> bool:
        return self._notifier is None or self._notifier.live

    def token(self) -> int:
        """Take before reading what is to be `put`."""
        return self._count

    def get(self, name: str, kind: type[M]) -> Entry[M] | None:
        entry = self._entries.get(name)
        if entry is None or not self._live:
            return None
        if self._max_age is not None and self._clock() - entry.stored > self._max_age:
            self._drop(name)
            return None
        if not isinstance(entry.response, kind):
            return None
        self._entries.move_to_end(name)
        return entry  # type: ignore[return-value]  # checked by isinstance above

    def owned(self, name: str, kind: type[M], owner: str) -> M | None:
        """The response kept for `name` if `owner` owns it; anyone else takes the uncached path, which answers
        with the same refusal it always does."""
        entry = self.get(name, kind)
        return entry.response if entry is not None and entry.owner == owner else None

    def put(self, name: str, owner: str, response: M, *, since: int, depends: Iterable[str] = ()) -> M:
        """Keeps `response` for `name`, unless `name` or one of `depends` (names it is built from) was announced
        since `token()` gave `since`. Returns `response`."""
        needs = tuple(depends)
        if not self._live or since < self._floor or any(self._forgotten.get(n, -1) > since for n in (name, *needs)):
            return response
        self._drop(name)
        self._entries[name] = Entry(owner, response, needs, self._clock())
        for need in needs:
            self._dependents.setdefault(need, set()).add(name)
        while len(self._entries) > self._capacity:
            self._drop(next(iter(self._entries)))
        return response

    def forget(self, name: str) -> None:
        """Drops `name` and every entry built from it (announced: a read under way will not keep its copy)."""
        self._count += 1
        self._remember(name)
        self._drop(name)
        for dependent in self._dependents.pop(name, ()):
            self.forget(dependent)

    def forget_under(self, prefix: str) -> None:
        """Drops every name that starts with `prefix`, and refuses the copies of reads under way."""
        for name in [n for n in self._entries if n.startswith(prefix)]:
            self.forget(name)
        self._count += 1
        self._floor = self._count

    def clear(self) -> None:
        """Drops everything, and refuses the copies of reads under way."""
        self._count += 1
        self._floor = self._count
        self._entries.clear()
        self._dependents.clear()
        self._forgotten.clear()

    def _remember(self, name: str) -> None:
        self._forgotten[name] = self._count
        self._forgotten.move_to_end(name)
        while len(self._forgotten) > self._capacity:
            _, count = self._forgotten.popitem(last=False)
            self._floor = max(self._floor, count)

    def _drop(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is None:
            return
        for need in entry.depends:
            dependents = self._dependents.get(need)
            if dependents is not None:
                dependents.discard(name)
                if not dependents:
                    del self._dependents[need]

    def __len__(self) -> int:
        return len(self._entries)

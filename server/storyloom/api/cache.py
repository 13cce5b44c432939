"""A small cache of the responses for finished resources, keyed by name and version.

A finished story, task or media item does not change until its update time does (a story ends READY, FAILED or
CANCELLED once; a task ends once; media never change), so its built response can be served again for as long as the
version read from the database (one short statement) is the same. The version check is what keeps every replica
right; `forget` (on delete) only frees the memory early.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable
from typing import Generic, TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


class ResponseCache(Generic[M]):
    """The newest response per resource name, for at most `capacity` names (the least recently used go first).
    Responses are shared between calls: nobody may change one after `put`."""

    def __init__(self, capacity: int = 2048):
        self._capacity = capacity
        self._entries: collections.OrderedDict[str, tuple[Hashable, M]] = collections.OrderedDict()

    def get(self, name: str, version: Hashable) -> M | None:
        entry = self._entries.get(name)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(name)
        return entry[1]

    def put(self, name: str, version: Hashable, response: M) -> M:
        self._entries[name] = (version, response)
        self._entries.move_to_end(name)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return response

    def forget(self, name: str) -> None:
        self._entries.pop(name, None)

    def __len__(self) -> int:
        return len(self._entries)


class Same:
    """A part of a version that equals only another wrapping the very same object (a response another cache
    handed out): a parent response built from it stays current while that object is still the one served."""

    __slots__ = ("value",)

    def __init__(self, value: object):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)

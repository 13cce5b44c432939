"""Waiting in tests on something that happens after the call a test awaited (a log line, a background step)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until(condition: Callable[[], object], timeout: float = 60.0, what: str = "the condition") -> None:
    """Returns once `condition()` is true; fails the test after `timeout` seconds (room for a busy machine)."""
    async def read() -> object:
        return condition()

    await read_until(read, bool, timeout, what)


async def read_until(read: Callable[[], Awaitable[T | None]], check: Callable[[T], bool], timeout: float = 60.0,
                     what: str = "the condition") -> T:
    """Reads (`read()`, e.g. a row from the store) until what it returns passes `check`, and returns that; fails the
    test after `timeout` seconds, saying what it read last."""
    deadline = time.monotonic() + timeout
    while True:
        found = await read()
        if found is not None and check(found):
            return found
        assert time.monotonic() < deadline, f"timed out waiting until {what}; last read: {found}"
        await asyncio.sleep(0.02)

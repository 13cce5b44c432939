"""The narrator's lanes: waiters served by priority, then in the order they came; a cancelled waiter passes on."""

from __future__ import annotations

import asyncio

from storyloom.engines.lanes import PrioritySlots
from tests.support.fakes import until


async def test_a_freed_slot_goes_to_the_lowest_priority_then_the_earliest() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(5)  # taken at once
    order: list[str] = []

    async def wait(name: str, priority: int) -> None:
        await slots.acquire(priority)
        order.append(name)

    waiters = [asyncio.create_task(wait(name, priority))
               for name, priority in [("scene 3", 2), ("scene 2 a", 1), ("scene 2 b", 1), ("scene 1", 0)]]
    await until(lambda: len(slots._waiting) == 4)
    for expected in (1, 2, 3, 4):
        slots.release()
        await until(lambda expected=expected: len(order) == expected)
    await asyncio.gather(*waiters)
    assert order == ["scene 1", "scene 2 a", "scene 2 b", "scene 3"]


async def test_a_cancelled_waiter_never_holds_a_slot() -> None:
    slots = PrioritySlots(1)
    await slots.acquire()
    gone = asyncio.create_task(slots.acquire(0))
    later = asyncio.create_task(slots.acquire(1))
    await until(lambda: len(slots._waiting) == 2)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    slots.release()
    await asyncio.wait_for(later, 30)  # the slot went past the cancelled waiter
    slots.release()
    await asyncio.wait_for(slots.acquire(), 30)  # and it is free again afterwards

"""The in-process notifier: a notice after subscribing wakes the waiter (even if it came before the wait), a notice
for another key does not, and an unsubscribed key costs nothing."""

from __future__ import annotations

import asyncio

from storyloom.domain.ports.notifier import LocalNotifier


async def test_a_notice_wakes_the_subscriber_of_its_key_and_no_other() -> None:
    notifier = LocalNotifier()
    async with notifier.subscribe("task", "a") as a, notifier.subscribe("task", "b") as b:
        await notifier.publish("task", "a")  # before the wait: kept until the next wait

        assert await a.wait(5.0) is True
        assert await a.wait(0.01) is False  # consumed
        assert await b.wait(0.01) is False
    await notifier.publish("task", "a")  # nobody listens any more
    assert notifier._subscribers == {}


async def test_a_waiter_with_a_timeout_holds_no_task_of_its_own() -> None:
    """A server keeps thousands of idle watchers waiting (on PostgreSQL with a safety timeout): each holds a future
    and a timer, not a task of its own."""
    notifier = LocalNotifier()
    async with notifier.subscribe("task", "a") as a:
        waiting = asyncio.create_task(a.wait(300.0))
        await asyncio.sleep(0)  # it waits now

        assert len(asyncio.all_tasks()) == 2  # the test's and the waiter's

        await notifier.publish("task", "a")
        assert await waiting is True


async def test_a_notice_wakes_its_waiter_in_the_next_pass_of_the_event_loop() -> None:
    # Under a burst a pass of the loop runs hundreds of callbacks: a stream woken passes later gets its text later.
    notifier, woke = LocalNotifier(), []
    async with notifier.subscribe("reply", "a") as a:
        waiter = asyncio.create_task(a.wait(300.0))
        waiter.add_done_callback(lambda done: woke.append(done.result()))
        await asyncio.sleep(0)  # the waiter waits
        await notifier.publish("reply", "a")
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # (its done callback: the pass after)
        assert woke == [True]

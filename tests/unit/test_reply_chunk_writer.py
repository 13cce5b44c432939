"""The reply chunk writer: group commit, stored before announced, one reply's failure kept to itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from storyloom.domain.reply_chunks import ChunkWriter, ReplyEnding


class FakeChunkStore:
    """Keeps the chunks in memory; `gate` holds each transaction until set; `refuse` names replies it rejects."""

    def __init__(self) -> None:
        self.transactions: list[list[tuple[str, int, str]]] = []
        self.endings: list[list[ReplyEnding]] = []  # each transaction's
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.refuse: set[str] = set()

    async def append_chunks(self, chunks: Sequence[tuple[str, int, str]],
                            endings: Sequence[ReplyEnding] = ()) -> list[Any]:
        self.entered.set()
        await self.gate.wait()
        if any(message_id in self.refuse for message_id, _, _ in chunks) or any(
                ending.message_id in self.refuse for ending in endings):
            raise LookupError("conversation deleted")
        self.transactions.append(list(chunks))
        self.endings.append(list(endings))
        return [f"{ending.message_id} {ending.state}: {''.join(ending.chunks)}" for ending in endings]


def announcer(announced: list[str]) -> Callable[[str], Awaitable[None]]:
    async def announce(message_id: str) -> None:
        announced.append(message_id)

    return announce


async def test_what_several_replies_queued_together_is_stored_in_one_transaction_a_chunk_each():
    store, announced = FakeChunkStore(), []
    writer = ChunkWriter(store, announcer(announced))
    for reply in ("a", "b"):
        writer.open(reply)
    for word in ("once ", "upon ", "a time"):
        writer.add("a", word)
        writer.add("b", word.upper())
    await writer.flush("a")
    await writer.flush("b")
    assert store.transactions == [[("a", 1, "once upon a time"), ("b", 1, "ONCE UPON A TIME")]]
    assert writer.live("a").stored == ["once upon a time"]  # type: ignore[union-attr]
    assert sorted(announced) == ["a", "b"]


async def test_nothing_is_announced_or_readable_before_its_transaction_returns():
    store, announced = FakeChunkStore(), []
    store.gate.clear()
    writer = ChunkWriter(store, announcer(announced))
    live = writer.open("a")
    writer.add("a", "hello")
    await store.entered.wait()  # the transaction is under way, not finished
    assert announced == [] and live.stored == []
    flushed = asyncio.create_task(writer.flush("a"))
    await asyncio.sleep(0)
    assert not flushed.done()
    store.gate.set()
    await flushed
    assert announced == ["a"] and live.stored == ["hello"]


async def test_a_reply_that_cannot_be_stored_fails_alone():
    store, announced = FakeChunkStore(), []
    store.refuse.add("gone")
    writer = ChunkWriter(store, announcer(announced))
    writer.open("gone")
    writer.open("fine")
    writer.add("gone", "lost")
    writer.add("fine", "kept")
    await writer.flush("fine")
    with pytest.raises(LookupError):
        await writer.flush("gone")
    with pytest.raises(LookupError):
        writer.add("gone", "more")
    assert writer.live("fine").stored == ["kept"] and announced == ["fine"]  # type: ignore[union-attr]
    assert writer.live("gone").stored == []  # type: ignore[union-attr]


async def test_a_closed_reply_is_read_from_the_database_again():
    writer = ChunkWriter(FakeChunkStore(), announcer([]))
    writer.open("a")
    writer.add("a", "x")
    await writer.flush("a")
    writer.close("a")
    assert writer.live("a") is None
    await writer.aclose()


async def stored(writer: ChunkWriter, message_id: str, pieces: int) -> None:
    """Waits until the first `pieces` pieces queued for the reply are stored."""
    live = writer.live(message_id)
    assert live is not None
    while live.written < pieces:
        live.changed.clear()
        await live.changed.wait()


async def test_a_reply_s_first_chunk_goes_at_once_and_the_rest_wait_for_the_end_of_a_sentence():
    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0, max_hold_seconds=3600)
    writer.open("a")
    writer.add("a", "Once ")
    await stored(writer, "a", 1)
    writer.add("a", "upon ")
    writer.add("a", "a ")
    writer.add("a", "time, ")  # a clause ends, not a sentence
    for _ in range(10):  # the writer gets every chance to run: nothing is due until the sentence ends
        await asyncio.sleep(0)
    assert len(store.transactions) == 1
    writer.add("a", "there ")
    writer.add("a", "was. ")
    await stored(writer, "a", 6)
    assert store.transactions == [[("a", 1, "Once ")], [("a", 2, "upon a time, there was. ")]]
    assert writer.live("a").stored == ["Once ", "upon a time, there was. "]  # type: ignore[union-attr]


async def test_the_writer_waits_for_a_reply_s_sentence_without_a_task_of_its_wait():
    # A paced reply makes the writer wait so for each of its sentences; a task a wait (asyncio.wait_for's) was two
    # more passes of the event loop a chunk, and one even when the reply was due already.
    loop = asyncio.get_running_loop()
    made: list[str] = []

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        made.append(coro.__qualname__)
        return asyncio.Task(coro, loop=loop, **kwargs)

    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0, max_hold_seconds=3600)
    writer.open("a")
    loop.set_task_factory(counting)
    try:
        writer.add("a", "Once ")  # due at once
        await stored(writer, "a", 1)
        writer.add("a", "upon ")  # held: the writer waits for the sentence's end
        for _ in range(10):
            await asyncio.sleep(0)
        writer.add("a", "a time. ")
        await stored(writer, "a", 3)
    finally:
        loop.set_task_factory(None)
    assert store.transactions == [[("a", 1, "Once ")], [("a", 2, "upon a time. ")]]
    assert set(made) == {"ChunkWriter._run"}


async def test_a_sentence_that_ends_inside_a_piece_makes_the_reply_due_as_one_that_ends_with_it():
    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0, max_hold_seconds=3600)
    writer.open("a")
    writer.add("a", "Once ")
    await stored(writer, "a", 1)
    writer.add("a", "upon a time. There ")  # a model's chunk: the sentence ends inside it
    for _ in range(10):  # the writer gets every chance to run (the hold is an hour)
        await asyncio.sleep(0)
    assert store.transactions == [[("a", 1, "Once ")], [("a", 2, "upon a time. There ")]]


async def test_chunks_without_a_sentence_end_are_stored_after_the_longest_hold():
    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0, max_hold_seconds=0.01)
    writer.open("a")
    for count, word in enumerate(("Once ", "upon ", "a "), start=1):
        writer.add("a", word)  # (no word ends a sentence: only the hold stores the second and the third)
        await stored(writer, "a", count)
    assert writer.live("a").stored == ["Once ", "upon ", "a "]  # type: ignore[union-attr]


async def test_a_reply_mid_sentence_goes_on_holding_its_words_while_another_one_s_sentence_is_stored():
    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0, max_hold_seconds=3600)
    for reply in ("a", "b"):
        writer.open(reply)
        writer.add(reply, "Once ")
        await stored(writer, reply, 1)
    writer.add("a", "upon ")
    writer.add("b", "upon ")
    writer.add("b", "a time. ")  # b's sentence ends; a's does not
    await stored(writer, "b", 3)
    assert store.transactions[-1] == [("b", 2, "upon a time. ")]
    writer.add("a", "a time. ")
    await stored(writer, "a", 3)
    assert store.transactions[-1] == [("a", 2, "upon a time. ")]
    assert writer.live("a").stored == writer.live("b").stored == ["Once ", "upon a time. "]  # type: ignore[union-attr]


async def test_a_reply_ends_in_the_transaction_of_its_last_chunk_and_its_streams_are_told_once():
    store, announced = FakeChunkStore(), []
    writer = ChunkWriter(store, announcer(announced), gather_seconds=0, max_hold_seconds=3600)
    live = writer.open("a")
    writer.add("a", "Once ")
    await stored(writer, "a", 1)
    writer.add("a", "upon a time")  # held: no sentence ends
    final = await writer.finish("a", ReplyEnding("a", "COMPLETE", "STOP", 3, 4))
    assert final == live.final == "a COMPLETE: Once upon a time"  # set before its streams were told
    assert store.transactions == [[("a", 1, "Once ")], [("a", 2, "upon a time")]]
    assert [[ending.chunks for ending in endings] for endings in store.endings] == [
        [], [("Once ", "upon a time")]]
    assert announced == ["a", "a"] and live.stored == ["Once ", "upon a time"]


async def test_a_reply_with_nothing_queued_ends_in_a_transaction_without_a_chunk():
    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0)
    writer.open("a")
    writer.add("a", "Hello. ")
    await writer.flush("a")
    assert await writer.finish("a", ReplyEnding("a", "FAILED", "ERROR", 0, 0)) == "a FAILED: Hello. "
    assert store.transactions == [[("a", 1, "Hello. ")], []]


async def test_a_reply_whose_ending_cannot_be_stored_fails_alone_with_nothing_of_it_stored():
    store, announced = FakeChunkStore(), []
    writer = ChunkWriter(store, announcer(announced))
    for reply in ("gone", "fine"):
        writer.open(reply)
        writer.add(reply, "Once ")
        await writer.flush(reply)
    announced.clear()
    store.refuse.add("gone")
    writer.add("gone", "upon")
    writer.add("fine", "upon")
    ending = asyncio.create_task(writer.finish("gone", ReplyEnding("gone", "COMPLETE", "STOP", 0, 0)))
    assert await writer.finish("fine", ReplyEnding("fine", "COMPLETE", "STOP", 0, 0)) == "fine COMPLETE: Once upon"
    with pytest.raises(LookupError):
        await ending
    assert writer.live("gone").stored == ["Once "] and writer.live("gone").final is None  # type: ignore[union-attr]
    assert announced == ["fine"]


async def test_a_busy_writer_holds_a_reply_s_words_past_a_sentence_end_until_the_longest_hold():
    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0, max_hold_seconds=0.05, busy_replies=2)
    for reply in ("a", "b"):  # two replies written at once: busy
        writer.open(reply)
    writer.add("a", "Once ")  # the first text is never held, busy or not
    await stored(writer, "a", 1)
    writer.add("a", "upon a time. ")
    writer.add("a", "There ")
    for _ in range(10):  # the writer gets every chance to run: the sentence's end does not make the reply due
        await asyncio.sleep(0)
    assert store.transactions == [[("a", 1, "Once ")]]
    await stored(writer, "a", 3)  # the hold did
    assert store.transactions == [[("a", 1, "Once ")], [("a", 2, "upon a time. There ")]]


async def test_a_busy_writer_still_stores_a_reply_s_words_with_its_end_at_once():
    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0, max_hold_seconds=3600, busy_replies=2)
    for reply in ("a", "b"):
        writer.open(reply)
    writer.add("a", "Once ")
    await stored(writer, "a", 1)
    writer.add("a", "upon a time. ")
    final = await writer.finish("a", ReplyEnding("a", "COMPLETE", "STOP", 3, 4))  # (the hold is an hour)
    assert final == "a COMPLETE: Once upon a time. "
    assert store.transactions == [[("a", 1, "Once ")], [("a", 2, "upon a time. ")]]


async def test_a_busy_writer_gathers_longer_so_a_burst_s_replies_share_its_transactions():
    """Under a burst each transaction costs the event loop the same whatever it carries: a busy writer gathers
    longer, and what became due meanwhile (another reply's first text, a reply's end) shares one transaction."""
    store = FakeChunkStore()
    writer = ChunkWriter(store, announcer([]), gather_seconds=0, max_hold_seconds=3600, busy_replies=2,
                         busy_gather_seconds=0.5)
    for reply in ("a", "b"):  # two replies written at once: busy
        writer.open(reply)
    store.gate.clear()
    writer.add("a", "Once ")  # an idle writer stores at once
    await store.entered.wait()
    writer.add("a", "upon a time. ")  # held (busy): the writer goes on after this transaction, waiting
    store.gate.set()
    await stored(writer, "a", 1)
    writer.add("b", "Hello ")  # a first text: due
    for _ in range(10):  # the writer gets every chance to run: it is gathering
        await asyncio.sleep(0)
    final = await writer.finish("a", ReplyEnding("a", "COMPLETE", "STOP", 3, 4))
    assert final == "a COMPLETE: Once upon a time. "
    assert store.transactions == [[("a", 1, "Once ")], [("a", 2, "upon a time. "), ("b", 1, "Hello ")]]

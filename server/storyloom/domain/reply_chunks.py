"""Group commit of reply chunks: one writer stores the new chunks of every live reply in one transaction.

A reply's text is still stored before it is announced, but a streamed word is no longer a transaction of its own:
the reply task queues its piece of text and goes on; the writer gathers what the replies queued for a few
milliseconds (and while its previous transaction runs), stores it in one append-only insert, and only then tells the
streams.
Streams in this process read the stored chunks from memory (`LiveReply.stored`); others read the database.

A reply's pieces are held until the reply is due: when its first piece is queued (the first text is never held; nor
gathered with others when the writer was idle), when a queued piece ends a sentence (what a listener or a voice
waits for anyway; not while the writer is busy, `BUSY_REPLIES`), when it is flushed, or when its pieces have waited
`max_hold_seconds`. A transaction stores what
every due reply holds, one chunk each (its pieces joined); the others go on holding theirs, so a 50-word reply is a
handful of chunks, inserts and delta events however many replies are written at once. (Clause ends, commas
included, made a 50-word reply of the offline storyteller 10 chunks; sentence ends make it 5.) A stream gets a
sentence's words at the same moment either way: a chunk per word only multiplied the events, each a message through
the interceptor and HTTP/2; and a replay streams exactly the chunks the live stream did.

A reply written here ends in the transaction that stores its last chunk (`finish`), not in one of its own after it,
and its task's end with it (`TaskContext.succeeding`): under a burst those ends share the writer's transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from storyloom.domain.task_types import TaskEnding

log = logging.getLogger(__name__)

# How long the writer gathers due replies before a transaction: short next to a word's pace, long enough to share a
# transaction between the replies written at once.
GATHER_SECONDS = 0.002
# How long a busy writer (`BUSY_REPLIES`) gathers: under a burst every transaction costs the event loop its own
# commit, wake-ups and announcements, whatever it carries, and on SQLite a 2 ms gather made a 500-stream burst about
# 350-410 transactions of a few chunks (2 to 7 reply ends); 10 ms makes it 130-180. What it adds to a first text
# (at most this) is small next to what a burst's accepts take.
BUSY_GATHER_SECONDS = 0.010
# The longest a piece of text waits for its sentence to end before it is stored (and announced) anyway.
MAX_HOLD_SECONDS = 0.3
# What ends a sentence: once a piece holds one, the reply's text so far is worth announcing. Anywhere in the piece:
# a model's chunk (and the offline storyteller's) is several words, and its sentence may end mid-chunk.
SENTENCE_END = re.compile("[.!?\u2026\n]")
# From this many replies written at once, the writer is busy: a sentence's end no longer makes a reply due, its
# pieces wait out `max_hold_seconds` (or its end). Each chunk is a delta event to every stream of the reply, and
# under a burst the event loop is what every caller waits for: 500 replies of 50 words at once took 7 chunks each
# per sentence, 4 per hold, and each chunk cost the loop about 0.1 ms (a stream's wake-up, its message through the
# interceptor and grpc). Below it, the loop has time to spare and a listener gets each sentence as it ends.
BUSY_REPLIES = 64


@dataclasses.dataclass(frozen=True)
class ReplyEnding:
    """How a reply ends (`ChunkWriter.finish`), stored in the transaction of its last chunk: its text is `chunks`,
    all of its chunks, which the writer fills in. `task`: the end of the reply's task, stored there too (and settled
    once committed)."""

    message_id: str
    state: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    error: Any = None  # what failed, when it did (a TaskError)
    chunks: tuple[str, ...] = ()
    task: TaskEnding | None = None


class ChunkStore(Protocol):
    async def append_chunks(self, chunks: Sequence[tuple[str, int, str]],
                            endings: Sequence[ReplyEnding] = ()) -> list[Any]:
        """Stores the chunks (message id, index from 1, text) in one transaction; they are only ever added. Ends the
        replies of `endings` in the same transaction (and their tasks, settled after the commit), and returns what
        each became (the message), in order."""


@dataclasses.dataclass(eq=False)  # one per reply: kept by identity
class LiveReply:
    """A reply being written in this process: how many pieces of text were queued and stored, and the chunks
    stored (announceable), in order."""

    message_id: str
    queued: int = 0
    written: int = 0  # the queued pieces stored so far, joined into the chunks of `stored`
    stored: list[str] = dataclasses.field(default_factory=list)
    error: BaseException | None = None
    changed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # The reply as stored when it ended, its text made of `stored`: streams end with it without reading it back.
    final: Any = None


class ChunkWriter:
    def __init__(self, store: ChunkStore, on_stored: Callable[[str], Awaitable[None]],
                 gather_seconds: float = GATHER_SECONDS, max_hold_seconds: float = MAX_HOLD_SECONDS,
                 busy_replies: int = BUSY_REPLIES, busy_gather_seconds: float = BUSY_GATHER_SECONDS):
        self._store = store
        self._on_stored = on_stored
        self._gather = gather_seconds
        self._max_hold = max_hold_seconds
        self._busy_replies = busy_replies
        self._busy_gather = busy_gather_seconds
        self._due = asyncio.Event()  # a reply is due: a transaction should start (after the gather)
        self._live: dict[str, LiveReply] = {}
        self._held: dict[LiveReply, _Held] = {}  # the replies with pieces queued, not yet in a transaction
        self._task: asyncio.Task[None] | None = None
        self.transactions = 0  # how many the writer committed (for benchmarks)

    def open(self, message_id: str) -> LiveReply:
        """Starts a reply with no chunks stored yet."""
        live = self._live[message_id] = LiveReply(message_id)
        return live

    def live(self, message_id: str) -> LiveReply | None:
        return self._live.get(message_id)

    def add(self, message_id: str, text: str) -> None:
        """Queues the reply's next piece of text; it is stored (and `on_stored` called) when the reply is due,
        joined to the reply's other pieces queued meanwhile."""
        live = self._live[message_id]
        if live.error is not None:
            raise live.error
        live.queued += 1
        held = self._held.get(live)
        if held is None:
            held = self._held[live] = _Held(asyncio.get_running_loop().time())
        held.pieces.append(text)
        if live.queued == 1 or (len(self._live) < self._busy_replies and SENTENCE_END.search(text)):
            self._make_due(held)
        self._start()

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="reply-chunk-writer")

    async def finish(self, message_id: str, ending: ReplyEnding) -> Any:
        """Ends the reply in the transaction that stores what is queued for it (one transaction less than a flush and
        an end of its own: on SQLite a commit costs the event loop more than the statements of a small one); returns
        the message it became, also its `final` before its streams are told. Raises what failed to store it: then
        nothing of the ending is stored."""
        live = self._live[message_id]
        if live.error is not None:
            raise live.error
        held = self._held.get(live)
        if held is None:
            held = self._held[live] = _Held(asyncio.get_running_loop().time())
        held.ending = ending
        self._make_due(held)
        self._start()
        while live.final is None:
            if live.error is not None:
                raise live.error
            live.changed.clear()
            await live.changed.wait()
        return live.final

    async def flush(self, message_id: str) -> None:
        """Waits until everything queued for the reply is stored; raises what failed to store it."""
        live = self._live.get(message_id)
        held = self._held.get(live) if live is not None else None
        if held is not None:
            self._make_due(held)
        while live is not None and live.written < live.queued:
            if live.error is not None:
                raise live.error
            live.changed.clear()
            await live.changed.wait()

    def close(self, message_id: str) -> None:
        """Forgets the reply (finished and stored): streams read it from the database from now on."""
        self._live.pop(message_id, None)

    async def aclose(self) -> None:
        """Stores what is queued, then stops."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._task)

    def _make_due(self, held: _Held) -> None:
        held.due = True
        self._due.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            idle = True  # the first transaction after a quiet spell is not held back: nothing is there to share it
            while self._held:
                longest_held = min(held.since for held in self._held.values()) + self._max_hold - loop.time()
                if longest_held > 0 and not self._due.is_set():
                    # (asyncio.timeout: wait_for makes a task of the wait, and a reply waits so per sentence.)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(longest_held):
                            await self._due.wait()
                if not idle:
                    await asyncio.sleep(self._gather if len(self._live) < self._busy_replies else self._busy_gather)
                idle = False
                self._due.clear()
                held_since = loop.time() - self._max_hold + _TIMER_SLACK
                due = [(live, held) for live, held in self._held.items() if held.due or held.since <= held_since]
                for live, _held in due:
                    del self._held[live]
                stored = await self._store_batch([
                    _Chunk(live, len(live.stored) + 1, "".join(held.pieces), len(held.pieces), held.ending)
                    for live, held in due])
                touched: dict[str, LiveReply] = {}
                for chunk in stored:
                    if chunk.pieces:
                        chunk.live.stored.append(chunk.text)
                        chunk.live.written += chunk.pieces
                    if chunk.final is not None:
                        chunk.live.final = chunk.final
                    touched[chunk.live.message_id] = chunk.live
                # The announcements, in turn: each wakes this process's streams, and awaits nothing (on PostgreSQL
                # the store's notice rode in the write); gathered, they cost a task each per transaction. One that
                # fails is only logged: the chunks are stored, and other replicas' streams re-read on their safety
                # timeout.
                for message_id in touched:
                    try:
                        await self._on_stored(message_id)
                    except Exception as exc:  # logged; the others are still told
                        log.warning("reply chunks stored but not announced", exc_info=exc,
                                    extra={"message_id": message_id})
                for live in touched.values():
                    live.changed.set()
        finally:
            self._task = None

    async def _store_batch(self, batch: list[_Chunk]) -> list[_Chunk]:
        """Stores the batch in one transaction; if that fails, each reply's chunk on its own, so one reply that
        cannot be stored (its conversation was deleted meanwhile...) does not fail the others. Returns what was
        stored; the replies whose chunk was not get the error."""
        if not batch:
            return []
        ending = [chunk for chunk in batch if chunk.ending is not None]
        try:
            finals = await self._store.append_chunks(
                [(chunk.live.message_id, chunk.index, chunk.text) for chunk in batch if chunk.pieces],
                [dataclasses.replace(chunk.ending, chunks=(*chunk.live.stored, *([chunk.text] if chunk.pieces else ())))
                 for chunk in ending if chunk.ending is not None])
            self.transactions += 1
            for chunk, final in zip(ending, finals, strict=True):
                chunk.final = final
            return batch
        except Exception as exc:
            if len(batch) == 1:
                log.warning("reply chunk not stored", exc_info=True, extra={"message_id": batch[0].live.message_id})
                batch[0].live.error = exc
                batch[0].live.changed.set()
                return []
        stored: list[_Chunk] = []
        for chunk in batch:
            stored += await self._store_batch([chunk])
        return stored


# (A timer may fire a hair before its time: a reply held that long is due.)
_TIMER_SLACK = 0.001


@dataclasses.dataclass
class _Held:
    """A reply's pieces queued since its last transaction, from when, and whether it is due."""

    since: float
    pieces: list[str] = dataclasses.field(default_factory=list)
    due: bool = False
    ending: ReplyEnding | None = None  # the reply ends with them (`finish`)


@dataclasses.dataclass
class _Chunk:
    live: LiveReply
    index: int  # from 1, in the reply
    text: str
    pieces: int  # how many queued pieces it joins (none: only the reply's ending is stored)
    ending: ReplyEnding | None = None
    final: Any = None  # the message the reply became, once its ending is stored

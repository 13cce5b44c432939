"""Group commit of reply chunks: one writer stores the new chunks of every live reply in one transaction.

A reply's chunks are still stored before they are announced, but a streamed word is no longer a transaction of its
own: the reply task queues its chunk and goes on; the writer gathers what all replies queued for a few milliseconds
(and while its previous transaction runs), stores it in one append-only insert, and only then tells the streams.
Streams in this process read the stored chunks from memory (`LiveReply.stored`); others read the database.

A transaction is due when a reply's first chunk is queued (the first text is never held; nor gathered with others
when the writer was idle), when a queued chunk ends a sentence (what a listener or a voice waits for anyway), when
a reply is flushed, or when chunks have waited `max_hold_seconds`: a 50-word reply costs a handful of inserts
instead of one per word. (Clause ends, commas included, made a 50-word reply of the offline storyteller 10 inserts;
sentence ends make it 5.)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

# How long the writer gathers chunks before a transaction: short next to a word's pace, long enough to share a
# transaction between the replies written at once.
GATHER_SECONDS = 0.002
# The longest a chunk waits for a sentence to end before it is stored (and announced) anyway.
MAX_HOLD_SECONDS = 0.3
# What ends a sentence: once a chunk ends with one of these, the reply's text so far is worth announcing.
SENTENCE_ENDS = tuple(".!?\u2026\n")


class ChunkStore(Protocol):
    async def append_chunks(self, chunks: Sequence[tuple[str, int, str]]) -> None:
        """Stores the chunks (message id, index from 1, text) in one transaction; they are only ever added."""


@dataclasses.dataclass
class LiveReply:
    """A reply being written in this process: the chunks queued and those stored (announceable), in order."""

    message_id: str
    queued: int = 0
    stored: list[str] = dataclasses.field(default_factory=list)
    error: BaseException | None = None
    changed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # The reply as stored when it ended, its text made of `stored`: streams end with it without reading it back.
    final: Any = None


class ChunkWriter:
    def __init__(self, store: ChunkStore, on_stored: Callable[[str], Awaitable[None]],
                 gather_seconds: float = GATHER_SECONDS, max_hold_seconds: float = MAX_HOLD_SECONDS):
        self._store = store
        self._on_stored = on_stored
        self._gather = gather_seconds
        self._max_hold = max_hold_seconds
        self._due = asyncio.Event()  # a transaction should start (after the gather) rather than wait for more
        self._live: dict[str, LiveReply] = {}
        self._pending: list[tuple[LiveReply, int, str]] = []
        self._task: asyncio.Task[None] | None = None
        self.transactions = 0  # how many the writer committed (for benchmarks)

    def open(self, message_id: str) -> LiveReply:
        """Starts a reply with no chunks stored yet."""
        live = self._live[message_id] = LiveReply(message_id)
        return live

    def live(self, message_id: str) -> LiveReply | None:
        return self._live.get(message_id)

    def add(self, message_id: str, text: str) -> None:
        """Queues the reply's next chunk; it is stored (and `on_stored` called) in the writer's next transaction."""
        live = self._live[message_id]
        if live.error is not None:
            raise live.error
        live.queued += 1
        self._pending.append((live, live.queued, text))
        if live.queued == 1 or text.rstrip(" ").endswith(SENTENCE_ENDS):
            self._due.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="reply-chunk-writer")

    async def flush(self, message_id: str) -> None:
        """Waits until every chunk queued for the reply is stored; raises what failed to store one."""
        live = self._live.get(message_id)
        if live is not None and len(live.stored) < live.queued:
            self._due.set()
        while live is not None and len(live.stored) < live.queued:
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

    async def _run(self) -> None:
        try:
            idle = True  # the first transaction after a quiet spell is not held back: nothing is there to share it
            while self._pending:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._due.wait(), self._max_hold)
                if not idle:
                    await asyncio.sleep(self._gather)
                idle = False
                self._due.clear()
                batch, self._pending = self._pending, []
                stored = await self._store_batch(batch)
                touched: dict[str, LiveReply] = {}
                for live, _index, text in stored:
                    live.stored.append(text)
                    touched[live.message_id] = live
                # The announcements (a NOTIFY each on PostgreSQL) go out together; one that fails is only logged:
                # the chunks are stored, and other replicas' streams re-read on their safety timeout.
                for message_id, outcome in zip(touched, await asyncio.gather(
                        *(self._on_stored(message_id) for message_id in touched), return_exceptions=True),
                        strict=True):
                    if isinstance(outcome, Exception):
                        log.warning("reply chunks stored but not announced", exc_info=outcome,
                                    extra={"message_id": message_id})
                for live in touched.values():
                    live.changed.set()
        finally:
            self._task = None

    async def _store_batch(self, batch: list[tuple[LiveReply, int, str]]) -> list[tuple[LiveReply, int, str]]:
        """Stores the batch in one transaction; if that fails, each reply's chunks on their own, so one reply that
        cannot be stored (its conversation was deleted meanwhile...) does not fail the others. Returns what was
        stored; the replies whose chunks were not get the error."""
        try:
            await self._store.append_chunks([(live.message_id, index, text) for live, index, text in batch])
            self.transactions += 1
            return batch
        except Exception as exc:
            replies = {live.message_id for live, _index, _text in batch}
            if len(replies) == 1:
                log.warning("reply chunks not stored", exc_info=True, extra={"chunks": len(batch)})
                for live, _index, _text in batch:
                    live.error = exc
                    live.changed.set()
                return []
        stored: list[tuple[LiveReply, int, str]] = []
        for message_id in replies:
            stored += await self._store_batch([entry for entry in batch if entry[0].message_id == message_id])
        return stored

"""Memories: what a user said (and what the assistant answered) worth remembering across sessions.

Each memory is one exchange. Queries are ranked by full-text relevance in the store (SQLite FTS5 with BM25,
PostgreSQL text search with ts_rank); the domain turns the query into search terms (words, no stop words) so
both backends rank the same terms. With an `Embedder` (Gemini's embedContent when Gemini is the engine), memories
are ranked by meaning instead: each memory's vector is stored when it is added (or, if that failed, at the next
query), the query is embedded and compared with the user's vectors (cosine similarity); when the embedder
fails, the query falls back to full text. Voice turns give the memories most relevant to what the user just said
to the text engine (`ChatRequest.memories`).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
import math
import re
import unicodedata
import uuid
from collections.abc import Sequence
from typing import Protocol

from storyloom.domain.errors import FieldViolation, InvalidArgument, ResourceExhausted, Unavailable
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.embedding import Embedder
from storyloom.domain.text import check_plain_text

logger = logging.getLogger(__name__)

MAX_MEMORY_CHARS = 4000
MAX_QUERY_CHARS = 1000
DEFAULT_MATCHES = 5
MAX_MATCHES = 50
# Terms sent to the full-text index at most (a long query is cut, keeping its first words).
MAX_TERMS = 32
# Memories embedded at once when vectors are missing (Gemini takes up to 100 texts a request).
EMBED_BATCH = 100

# Words too common to say anything about relevance (English; other languages rely on BM25's IDF).
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both but
by can could did do does doing down during each few for from further had has have having he her here hers herself
him himself his how i if in into is it its itself just let lets me more most my myself no nor not now of off on once
only or other our ours ourselves out over own same she should so some such than that thats the their theirs them
themselves then there these they this those through to too under until up very was we were what whats when where
which while who whom why will with would you your yours yourself yourselves im ive id youre dont doesnt didnt cant
okay ok yes yeah please tell remember know think like want wants really also get got us oh um uh hmm well
""".split())

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


@dataclasses.dataclass(frozen=True)
class Memory:
    id: str
    user_id: str
    user_text: str
    assistant_text: str
    session_id: str  # "" when not from a voice session
    create_time: dt.datetime

    @property
    def name(self) -> str:
        return f"users/{self.user_id}/memories/{self.id}"

    @property
    def text(self) -> str:
        """The exchange as one line, the way it is given to the text engine."""
        if self.assistant_text:
            return f"The user said: {self.user_text} The assistant answered: {self.assistant_text}"
        return self.user_text


@dataclasses.dataclass(frozen=True)
class MemoryMatch:
    memory: Memory
    score: float  # higher is better; comparable within one query only


@dataclasses.dataclass(frozen=True)
class MemorySummary:
    user_id: str
    memory_count: int
    last_update_time: dt.datetime | None
    summary: str


class MemoryRepository(Protocol):
    async def add(self, memory: Memory) -> Memory: ...

    async def search(self, user_id: str, terms: list[str], limit: int, *,
                     exclude_session: str = "") -> list[tuple[Memory, float]]:
        """The user's memories matching any of the terms, best first, with a relevance score (higher is better).
        `exclude_session` leaves out the memories of that voice session."""

    async def stats(self, user_id: str) -> tuple[int, dt.datetime | None]:
        """How many memories the user has and when the newest was stored."""

    async def recent(self, user_id: str, limit: int) -> list[Memory]:
        """Newest first."""

    async def store_embeddings(self, model: str, vectors: Sequence[tuple[Memory, Sequence[float]]]) -> None:
        """Keeps each memory's vector from `model` (a memory has at most one vector per model)."""

    async def embeddings(self, user_id: str, model: str, *,
                         exclude_session: str = "") -> list[tuple[Memory, list[float]]]:
        """The user's memories that have a vector from `model`, with it."""

    async def without_embedding(self, user_id: str, model: str, limit: int) -> list[Memory]:
        """The user's memories that have no vector from `model` yet, newest first."""


def search_terms(text: str) -> list[str]:
    """The words of a query worth searching for: lower-cased, accents kept, no stop words, no repeats."""
    terms: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        word = word.replace("'", "")
        if len(word) < 2 or word in STOP_WORDS or word in terms:
            continue
        terms.append(word)
    return terms[:MAX_TERMS]


def _check_text(text: str, field: str, *, required: bool) -> str:
    return check_plain_text(text, field, max_chars=MAX_MEMORY_CHARS, required=required,
                            too_long_reason="MEMORY_TOO_LONG").strip()


class Memories:
    def __init__(self, repository: MemoryRepository, embedder: Embedder | None = None,
                 clock: Clock = SYSTEM_CLOCK):
        self._repo = repository
        # Search by meaning when set, by words otherwise. Memories owns it and closes it.
        self.embedder = embedder
        self._clock = clock

    async def aclose(self) -> None:
        if self.embedder is not None:
            await self.embedder.aclose()

    async def add(self, user_id: str, user_text: str, assistant_text: str = "", session_id: str = "") -> Memory:
        """Stores the memory, then its vector when there is an embedder (a failure there loses nothing: the vector
        is made at the next query)."""
        memory = Memory(
            id=uuid.uuid4().hex, user_id=user_id,
            user_text=_check_text(user_text, "memory.user_text", required=True),
            assistant_text=_check_text(assistant_text, "memory.assistant_text", required=False),
            session_id=session_id, create_time=self._clock.now())
        added = await self._repo.add(memory)
        if self.embedder is not None:
            try:
                await self._embed(self.embedder, [added])
            except (Unavailable, ResourceExhausted) as error:
                logger.warning("memory %s stored without its vector for now: %s", added.id, error)
        return added

    async def query(self, user_id: str, query: str, limit: int = 0) -> list[MemoryMatch]:
        """The memories most relevant to `query`, best first. A query of only common words matches nothing."""
        if not query.strip():
            raise InvalidArgument(FieldViolation("query", "must not be empty"))
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidArgument(FieldViolation("query", f"must be at most {MAX_QUERY_CHARS} characters"))
        if limit < 0:
            raise InvalidArgument(FieldViolation("page_size", "must not be negative"))
        return await self.relevant(user_id, query, min(limit or DEFAULT_MATCHES, MAX_MATCHES))

    async def relevant(self, user_id: str, text: str, limit: int, *, exclude_session: str = "") -> list[MemoryMatch]:
        terms = search_terms(text[:MAX_QUERY_CHARS])
        if not terms or limit <= 0:
            return []
        if self.embedder is not None:
            try:
                return await self._nearest(self.embedder, user_id, text[:MAX_QUERY_CHARS], limit, exclude_session)
            except (Unavailable, ResourceExhausted) as error:
                logger.warning("memory search by meaning failed, searching the words instead: %s", error)
        found = await self._repo.search(user_id, terms, limit, exclude_session=exclude_session)
        return [MemoryMatch(memory, score) for memory, score in found]

    async def _nearest(self, embedder: Embedder, user_id: str, text: str, limit: int,
                       exclude_session: str) -> list[MemoryMatch]:
        """The memories closest in meaning to `text`, best first, leaving out those below the embedder's
        `min_similarity`."""
        while missing := await self._repo.without_embedding(user_id, embedder.model, EMBED_BATCH):
            await self._embed(embedder, missing)
            if len(missing) < EMBED_BATCH:
                break
        [wanted] = await embedder.embed([text], query=True)
        scored = [(cosine(wanted, vector), memory)
                  for memory, vector in await self._repo.embeddings(user_id, embedder.model,
                                                                    exclude_session=exclude_session)]
        scored.sort(key=lambda pair: (-pair[0], pair[1].create_time, pair[1].id))
        return [MemoryMatch(memory, score) for score, memory in scored[:limit] if score >= embedder.min_similarity]

    async def _embed(self, embedder: Embedder, memories: Sequence[Memory]) -> None:
        vectors = await embedder.embed([memory.text for memory in memories], query=False)
        await self._repo.store_embeddings(embedder.model, list(zip(memories, vectors, strict=True)))

    async def summary(self, user_id: str) -> MemorySummary:
        count, last = await self._repo.stats(user_id)
        return MemorySummary(user_id, count, last, summarize(await self._repo.recent(user_id, 50), count))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine of the angle between two vectors (0 when either is zero or their sizes differ)."""
    if len(a) != len(b):
        return 0.0
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norms if norms else 0.0


def summarize(recent: list[Memory], count: int) -> str:
    """A short plain-text summary: how many memories, the topics that come up most, and the latest one."""
    if count == 0:
        return "Nothing is remembered yet."
    words: collections.Counter[str] = collections.Counter()
    for memory in recent:
        words.update(set(search_terms(memory.user_text)))
    topics = [word for word, _ in words.most_common(5)]
    latest = recent[0].user_text if recent else ""
    if len(latest) > 120:
        latest = latest[:117].rstrip() + "..."
    parts = [f"{count} remembered exchange{'s' if count != 1 else ''}."]
    if topics:
        parts.append("Frequent topics: " + ", ".join(topics) + ".")
    if latest:
        parts.append(f"Latest: \"{latest}\"")
    return " ".join(parts)


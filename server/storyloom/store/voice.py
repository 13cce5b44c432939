"""Voice sessions and memories in SQL, with full-text memory search on SQLite (FTS5) and PostgreSQL, and the
memories' vectors for search by meaning (ranked by the domain)."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, text, update

from storyloom.domain.memory import Memory
from storyloom.domain.voice import VoiceSession
from storyloom.store.db import Database, changed_rows, completes_when_cancelled
from storyloom.store.models import MemoryEmbeddingRow, MemoryRow, VoiceSessionRow

# bm25() weights of the FTS5 columns (user_text, assistant_text): what the user said counts double.
_BM25 = "bm25(memories_fts, 0.0, 0.0, 2.0, 1.0)"
_SQLITE_SEARCH = text(f"""
    SELECT memory_id, -{_BM25} AS score FROM memories_fts
    WHERE memories_fts MATCH :match AND user_id = :user_id
    ORDER BY {_BM25} LIMIT :limit
""")
# The same expression as the migration's GIN index, so PostgreSQL uses it. setweight() mirrors the bm25 weights.
_PG_VECTOR = "to_tsvector('english', user_text || ' ' || assistant_text)"
_PG_SEARCH = text(f"""
    SELECT id AS memory_id,
           ts_rank(setweight(to_tsvector('english', user_text), 'A') ||
                   setweight(to_tsvector('english', assistant_text), 'B'), query) AS score
    FROM memories, to_tsquery('english', :match) AS query
    WHERE user_id = :user_id AND {_PG_VECTOR} @@ query
    ORDER BY score DESC, create_time DESC LIMIT :limit
""")


@completes_when_cancelled
class SqlVoiceSessionRepository:
    def __init__(self, db: Database):
        self._db = db

    async def create(self, voice_session: VoiceSession, request_id: str) -> tuple[VoiceSession, bool]:
        """Stores the session; on a (user, request_id) clash returns the existing one and False."""
        existing = await self._db.insert_once([VoiceSessionRow(
            id=voice_session.id, user_id=voice_session.user_id,
            conversation_id=voice_session.conversation_id, language_code=voice_session.language_code,
            voice=voice_session.voice, turn_count=voice_session.turn_count, request_id=request_id or None,
            create_time=voice_session.create_time, last_use_time=voice_session.last_use_time)], request_id)
        if existing is None:
            return voice_session, True
        found = await self.get(existing)
        assert found is not None
        return found, False

    async def find_by_request(self, user_id: str, request_id: str) -> VoiceSession | None:
        async with self._db.begin() as session:
            row = await session.scalar(select(VoiceSessionRow).where(
                VoiceSessionRow.user_id == user_id, VoiceSessionRow.request_id == request_id))
            return _voice_session(row) if row else None

    async def get(self, session_id: str) -> VoiceSession | None:
        async with self._db.begin() as session:
            row = await session.get(VoiceSessionRow, session_id)
            return _voice_session(row) if row else None

    async def delete(self, session_id: str) -> bool:
        async with self._db.write() as session:
            return bool(await changed_rows(session, delete(VoiceSessionRow).where(VoiceSessionRow.id == session_id)))

    async def update(self, session_id: str, *, turns_added: int = 0, **fields: Any) -> VoiceSession | None:
        """Sets fields (last_use_time, conversation_id...) and adds to the turn count, atomically."""
        values: dict[str, Any] = dict(fields)
        if turns_added:
            values["turn_count"] = VoiceSessionRow.turn_count + turns_added
        async with self._db.write() as session:
            if values:
                await session.execute(update(VoiceSessionRow).where(VoiceSessionRow.id == session_id)
                                      .values(**values).execution_options(synchronize_session=False))
            row = await session.get(VoiceSessionRow, session_id, populate_existing=True)
            return _voice_session(row) if row else None


@completes_when_cancelled
class SqlMemoryRepository:
    def __init__(self, db: Database):
        self._db = db

    async def add(self, memory: Memory) -> Memory:
        async with self._db.write() as session:
            session.add(MemoryRow(id=memory.id, user_id=memory.user_id, session_id=memory.session_id,
                                  user_text=memory.user_text, assistant_text=memory.assistant_text,
                                  create_time=memory.create_time))
        return memory

    async def search(self, user_id: str, terms: list[str], limit: int, *,
                     exclude_session: str = "") -> list[tuple[Memory, float]]:
        if not terms:
            return []
        # Terms are words of letters and digits only (domain.memory.search_terms): safe in both query syntaxes.
        if self._db.is_sqlite:
            query, match = _SQLITE_SEARCH, " OR ".join(f'"{term}"' for term in terms)
        else:
            query, match = _PG_SEARCH, " | ".join(terms)
        # Excluded memories are dropped after ranking, so ask for enough to fill the page.
        fetch = limit * 4 + 20 if exclude_session else limit
        async with self._db.begin() as session:
            ranked = (await session.execute(query, {"match": match, "user_id": user_id, "limit": fetch})).all()
            if not ranked:
                return []
            rows = {row.id: row for row in await session.scalars(
                select(MemoryRow).where(MemoryRow.id.in_([r.memory_id for r in ranked])))}
        found = []
        for memory_id, score in ranked:
            row = rows.get(memory_id)
            if row is None or (exclude_session and row.session_id == exclude_session):
                continue
            found.append((_memory(row), float(score)))
        return found[:limit]

    async def stats(self, user_id: str) -> tuple[int, dt.datetime | None]:
        async with self._db.begin() as session:
            count = await session.scalar(select(func.count()).select_from(MemoryRow)
                                         .where(MemoryRow.user_id == user_id))
            # Ordered read rather than max(): aggregates bypass the column type (naive datetimes on SQLite).
            last = await session.scalar(select(MemoryRow.create_time).where(MemoryRow.user_id == user_id)
                                        .order_by(MemoryRow.create_time.desc()).limit(1))
        return int(count or 0), last

    async def recent(self, user_id: str, limit: int) -> list[Memory]:
        async with self._db.begin() as session:
            rows = await session.scalars(select(MemoryRow).where(MemoryRow.user_id == user_id)
                                         .order_by(MemoryRow.create_time.desc(), MemoryRow.id.desc()).limit(limit))
            return [_memory(row) for row in rows]

    async def store_embeddings(self, model: str, vectors: Sequence[tuple[Memory, Sequence[float]]]) -> None:
        if not vectors:
            return
        async with self._db.write() as session:
            # A vector made twice (two queries backfilling at once) is the same vector: the first one stays.
            stored = set(await session.scalars(select(MemoryEmbeddingRow.memory_id).where(
                MemoryEmbeddingRow.model == model,
                MemoryEmbeddingRow.memory_id.in_([memory.id for memory, _ in vectors]))))
            session.add_all(MemoryEmbeddingRow(memory_id=memory.id, model=model, user_id=memory.user_id,
                                               vector=_pack(vector))
                            for memory, vector in vectors if memory.id not in stored)

    async def embeddings(self, user_id: str, model: str, *,
                         exclude_session: str = "") -> list[tuple[Memory, list[float]]]:
        query = (select(MemoryRow, MemoryEmbeddingRow.vector)
                 .join(MemoryEmbeddingRow, MemoryEmbeddingRow.memory_id == MemoryRow.id)
                 .where(MemoryEmbeddingRow.user_id == user_id, MemoryEmbeddingRow.model == model))
        if exclude_session:
            query = query.where(MemoryRow.session_id != exclude_session)
        async with self._db.begin() as session:
            return [(_memory(row), _unpack(vector)) for row, vector in (await session.execute(query)).all()]

    async def without_embedding(self, user_id: str, model: str, limit: int) -> list[Memory]:
        embedded = select(MemoryEmbeddingRow.memory_id).where(MemoryEmbeddingRow.model == model,
                                                              MemoryEmbeddingRow.user_id == user_id)
        async with self._db.begin() as session:
            rows = await session.scalars(
                select(MemoryRow).where(MemoryRow.user_id == user_id, MemoryRow.id.not_in(embedded))
                .order_by(MemoryRow.create_time.desc(), MemoryRow.id.desc()).limit(limit))
            return [_memory(row) for row in rows]


def _pack(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _unpack(data: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(data) // 4}f", data))


def _voice_session(row: VoiceSessionRow) -> VoiceSession:
    return VoiceSession(id=row.id, user_id=row.user_id, conversation_id=row.conversation_id,
                        language_code=row.language_code, voice=row.voice, turn_count=row.turn_count,
                        create_time=row.create_time, last_use_time=row.last_use_time)


def _memory(row: MemoryRow) -> Memory:
    return Memory(id=row.id, user_id=row.user_id, user_text=row.user_text, assistant_text=row.assistant_text,
                  session_id=row.session_id, create_time=row.create_time)

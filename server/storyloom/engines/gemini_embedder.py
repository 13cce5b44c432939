"""Memory embeddings on Gemini: embedContent with gemini-embedding-001, for the memory search by meaning.

Documents (memories) and queries are embedded with their own task types (RETRIEVAL_DOCUMENT, RETRIEVAL_QUERY), at
768 dimensions (one of the sizes Google recommends; the vectors are compared by cosine, so they need not be
normalized). Calls go through a `GeminiConnection`, with short deadlines: a query is embedded during a voice turn,
and when it fails the memories are searched by their words instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from storyloom.engines.gemini_client import GeminiConnection, GeminiTimeouts

DEFAULT_EMBEDDING_MODEL = "gemini-embedding-001"
MODEL_SETTING = "STORYLOOM_GEMINI_EMBEDDING_MODEL"
DIMENSIONS = 768
# Cosine similarity below which a memory counts as unrelated to a query: a first estimate for gemini-embedding-001
# (its similarities are compressed: unrelated texts seldom fall far below 0.5). `make gemini-smoke` prints related
# and unrelated pairs from the real service to check it.
MIN_SIMILARITY = 0.6
EMBEDDING_TIMEOUTS = GeminiTimeouts(first_chunk=5.0, idle=5.0, total=8.0)


class GeminiEmbedder:
    """An Embedder (domain/ports/embedding.py) on Gemini. It owns its connection and closes it."""

    def __init__(self, connection: GeminiConnection, *, model: str = DEFAULT_EMBEDDING_MODEL,
                 dimensions: int = DIMENSIONS, timeouts: GeminiTimeouts = EMBEDDING_TIMEOUTS,
                 min_similarity: float = MIN_SIMILARITY):
        self._connection = connection
        self.model = model
        self.dimensions = dimensions
        self.timeouts = timeouts
        self.min_similarity = min_similarity

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **options: Any) -> GeminiEmbedder:
        """From GEMINI_API_KEY, STORYLOOM_GEMINI_EMBEDDING_MODEL, STORYLOOM_GEMINI_BASE_URL and
        STORYLOOM_GEMINI_API_VERSION."""
        return cls(GeminiConnection.from_env(environ),
                   model=environ.get(MODEL_SETTING, "").strip() or DEFAULT_EMBEDDING_MODEL, **options)

    async def embed(self, texts: Sequence[str], *, query: bool) -> list[list[float]]:
        return await self._connection.embed(self.model, texts, task_type="RETRIEVAL_QUERY" if query
                                            else "RETRIEVAL_DOCUMENT", dimensions=self.dimensions,
                                            timeouts=self.timeouts)

    async def check_model(self) -> bool | None:
        """Whether the embedding model exists (None: it could not be asked); a warning names the models that do
        when it does not."""
        return await self._connection.check_model(self.model, method="embedContent", setting=MODEL_SETTING)

    async def aclose(self) -> None:
        await self._connection.aclose()

"""The embedding port: vectors whose closeness measures closeness of meaning, for searching memories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Embedder(Protocol):
    """Turns texts into vectors whose cosine similarity measures closeness of meaning.

    Raises `Unavailable` or `ResourceExhausted` (domain/errors.py) when the service cannot answer: the caller falls
    back to another way of searching then.
    """

    # The embedding model: vectors of different models are never compared.
    model: str
    # The cosine similarity below which a memory is unrelated to a query, on this model's scale.
    min_similarity: float

    async def embed(self, texts: Sequence[str], *, query: bool) -> list[list[float]]:
        """One vector per text; `query` for a search query, else for a document to be found."""

    async def aclose(self) -> None: ...

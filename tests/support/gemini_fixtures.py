"""Shared pytest fixtures for Gemini tests: the strict wire fake and engines pointed at it.

Test modules load them with `pytest_plugins = ("tests.support.gemini_fixtures",)` (and import nothing from here:
a plugin module imported first cannot have its asserts rewritten). Deadlines and retries are those of
tests/support/gemini_engines.py; tests that need others pass their own to the `make_*` factories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio

from storyloom.engines.gemini_client import GeminiRetryPolicy, GeminiTimeouts
from storyloom.engines.images.gemini import GeminiIllustrator
from storyloom.engines.text.gemini import GeminiTextEngine
from tests.support.gemini_engines import FAST, QUICK_RETRIES, connect, text_engine
from tests.support.gemini_fake import GeminiFake


@pytest_asyncio.fixture
async def gemini() -> AsyncIterator[GeminiFake]:
    """The strict fake; the test fails if a scripted response was one the published types cannot carry."""
    async with GeminiFake() as fake:
        yield fake
    assert fake.script_errors == []


@pytest_asyncio.fixture
async def make_gemini_engine(gemini: GeminiFake) -> AsyncIterator[Callable[..., GeminiTextEngine]]:
    """Builds text engines on the fake (FAST deadlines, quick retries unless given); closes them afterwards."""
    made: list[GeminiTextEngine] = []

    def make(**options: Any) -> GeminiTextEngine:
        made.append(text_engine(gemini, **options))
        return made[-1]

    yield make
    for engine in made:
        await engine.aclose()


@pytest_asyncio.fixture
async def gemini_engine(make_gemini_engine: Callable[..., GeminiTextEngine]) -> GeminiTextEngine:
    return make_gemini_engine()


@pytest_asyncio.fixture
async def make_gemini_illustrator(gemini: GeminiFake) -> AsyncIterator[Callable[..., GeminiIllustrator]]:
    """Builds illustrators on the fake (FAST deadlines, quick retries unless given); closes them afterwards."""
    made: list[GeminiIllustrator] = []

    def make(*, retry: GeminiRetryPolicy = QUICK_RETRIES, timeouts: GeminiTimeouts = FAST,
             **options: Any) -> GeminiIllustrator:
        made.append(GeminiIllustrator(connect(gemini, retry=retry), timeouts=timeouts, **options))
        return made[-1]

    yield make
    for illustrator in made:
        await illustrator.aclose()


@pytest_asyncio.fixture
async def gemini_illustrator(make_gemini_illustrator: Callable[..., GeminiIllustrator]) -> GeminiIllustrator:
    return make_gemini_illustrator()

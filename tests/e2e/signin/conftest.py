"""Fixtures for signing in with tokens: the four preset identity providers serving their JWKS on 127.0.0.1, and the
whole server in this process accepting their tokens (besides API keys)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.identity import PRESETS, IdentityProvider
from tests.support.server import StoryloomServer, serving, settings_for_tests


@pytest.fixture
def providers() -> Iterator[dict[str, IdentityProvider]]:
    started = {name: make() for name, make in PRESETS.items()}
    for provider in started.values():
        assert provider.jwks is not None
        provider.jwks.start()
    yield started
    for provider in started.values():
        assert provider.jwks is not None
        provider.jwks.stop()


@pytest_asyncio.fixture
async def signin_server(tmp_path: Path, providers: dict[str, IdentityProvider]) -> AsyncIterator[StoryloomServer]:
    settings = settings_for_tests(tmp_path / "data", jwt_issuers=tuple(p.settings() for p in providers.values()),
                                  # a new kid is fetched at once (the tests rotate keys)
                                  jwks_refresh_cooldown_seconds=0.0, jwt_clock_skew_seconds=30)
    async with serving(settings) as server:
        yield server

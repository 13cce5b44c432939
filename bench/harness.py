"""What the benchmarks share: the whole server in the bench's own process (127.0.0.1:0, a fresh data dir, one
caller with an API key), as the tests' `serving` does, without the tests' extra task kinds."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from storyloom.app import App, build_app, start
from storyloom.config import Settings
from storyloom.server import start_server


@dataclasses.dataclass
class Served:
    app: App
    port: int
    channel: grpc.aio.Channel
    user_id: str
    key: str
    work_dir: Path  # scratch space removed with the server (the data dir is its data/)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-api-key", self.key),)


@contextlib.asynccontextmanager
async def served(**settings: Any) -> AsyncIterator[Served]:
    """The server with `settings` over the defaults (no bootstrap user, warnings only), stopped on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        values: dict[str, Any] = {"address": "127.0.0.1:0", "data_dir": Path(tmp) / "data", "dev_bootstrap": False,
                                  "log_level": "WARNING", **settings}
        app = await build_app(Settings(**values))
        await start(app)
        running = await start_server(app)
        try:
            user = await app.accounts.create_user("bench")
            key = await app.accounts.create_key(user.id)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                yield Served(app, running.port, channel, user.id, key, Path(tmp))
        finally:
            await running.stop(0.5)
            await app.close()

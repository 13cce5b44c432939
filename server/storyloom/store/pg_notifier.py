"""Notices across replicas through PostgreSQL LISTEN/NOTIFY: one listening connection per process delivers what any
replica publishes to this process's subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from sqlalchemy import text

from storyloom.domain.ports.notifier import Listener, LocalNotifier, Subscription
from storyloom.store.db import Database, run_to_completion

log = logging.getLogger(__name__)

CHANNEL = "storyloom"
RECONNECT_SECONDS = 1.0
# Waiters read again this often in case a notice was lost: one whose NOTIFY failed (logged by the publisher) is
# the only way; a lost listening connection wakes every waiter when it is back.
RECHECK_SECONDS = 300.0
# An announcement, built once.
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


class PostgresNotifier:
    recheck_seconds: float | None = RECHECK_SECONDS

    def __init__(self, db: Database):
        self._db = db
        self._local = LocalNotifier()
        # Whether the listening connection is up, so that every notice is heard (see Notifier.live).
        self.live = False
        self._connection: asyncpg.Connection | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    async def start(self) -> None:
        self._keeper = asyncio.create_task(self._keep_listening(), name="notifier")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout=10)

    async def aclose(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close()

    async def publish(self, channel: str, key: str) -> None:
        """Announces to every replica. A failure is logged, not raised: the change itself is stored, and waiters
        read the store again within their safety timeout. This process's listeners hear it at once (they keep
        copies, which must be gone when the writer's call returns); its echo from the database comes too."""
        self._local.tell_listeners(channel, key)
        try:
            # Run to its end even if the caller is cancelled meanwhile: a statement cut short costs the connection.
            await run_to_completion(self._notify(channel, key))
        except Exception:
            log.exception("could not announce a change", extra={"channel": channel})

    async def _notify(self, channel: str, key: str) -> None:
        # In autocommit: one round trip, where BEGIN, the NOTIFY and COMMIT were three.
        await self._db.transaction(lambda connection: connection.execute(
            _NOTIFY, {"channel": CHANNEL, "payload": f"{channel}\n{key}"}), one_statement=True)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str, key: str) -> AsyncIterator[Subscription]:
        async with self._local.subscribe(channel, key) as subscription:
            yield subscription

    def listen(self, channel: str, listener: Listener) -> Callable[[], None]:
        return self._local.listen(channel, listener)

    async def _keep_listening(self) -> None:
        dsn = self._db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            lost = asyncio.Event()
            try:
                self._connection = await asyncpg.connect(dsn)
                self._connection.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await self._connection.add_listener(CHANNEL, self._heard)
                self.live = True
                if self._connected.is_set():  # back after a loss: what was announced meanwhile went unheard
                    self._local.deliver_all()
                self._connected.set()
                await lost.wait()
                self._lost()
                log.warning("lost the notification connection; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception:
                self._lost()
                log.exception("cannot listen for notifications; retrying")
            await asyncio.sleep(RECONNECT_SECONDS)

    def _lost(self) -> None:
        if self.live:
            self.live = False
            self._local.missed()

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        channel, _, key = payload.partition("\n")
        self._local.deliver(channel, key)

"""Notices across replicas through PostgreSQL LISTEN/NOTIFY: one listening connection per process delivers what any
replica publishes to this process's subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, func, literal, text

from storyloom.domain.ports.notifier import Listener, LocalNotifier, Subscription
from storyloom.store.db import Database

log = logging.getLogger(__name__)

CHANNEL = "storyloom"
# A notice's payload is its channel, this, then its key (a channel's name never holds it).
PAYLOAD_SEPARATOR = "\n"
RECONNECT_SECONDS = 1.0
# Waiters read again this often in case a notice was lost: one whose NOTIFY failed (logged by `_send_due`) is
# the only way; a lost listening connection wakes every waiter when it is back.
RECHECK_SECONDS = 300.0
# Every notice due, in the order published: one statement.
NOTIFY_ALL = text("SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload")


def payload_prefix(channel: str) -> str:
    """What the payload of every notice on `channel` starts with; the key follows. Statements that build payloads
    in SQL use it too."""
    return channel + PAYLOAD_SEPARATOR


def notice(channel: str, key: ColumnElement[str]) -> ColumnElement[Any]:
    """A notice of (channel, key) sent from inside a write's own statement (a column of what it selects): heard by
    every replica when the write commits, never before, and with no statement of its own."""
    return func.pg_notify(CHANNEL, literal(payload_prefix(channel)) + key)


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
        # Notices published while others are being sent, each with what its publisher awaits, and the task sending
        # them (`_send_due`).
        self._due: list[tuple[str, asyncio.Future[None]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._keeper = asyncio.create_task(self._keep_listening(), name="notifier")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout=10)

    async def aclose(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close()

    async def publish(self, channel: str, key: str) -> None:
        """Announces to every replica. A failure is logged, not raised: the change itself is stored, and waiters
        read the store again within their safety timeout. This process's listeners hear it at once (they keep
        copies, which must be gone when the writer's call returns); its echo from the database comes too."""
        self._local.tell_listeners(channel, key)
        sent = asyncio.get_running_loop().create_future()
        self._due.append((payload_prefix(channel) + key, sent))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_due(), name="notices")
        # The sending runs to its end even if this caller is cancelled: a statement cut short costs the connection.
        await asyncio.shield(sent)

    async def _send_due(self) -> None:
        """Sends the notices due, those published meanwhile next, each batch in one statement: a chat reply
        publishes about nine, and under load many replies publish at once. On the autocommit pool (`fetch`), sent
        as the statement ends: one round trip, where the main pool's ping, BEGIN and COMMIT made four. Its
        retry on a connection found dead may announce twice: a notice only wakes readers."""
        due: list[tuple[str, asyncio.Future[None]]] = []
        try:
            while self._due:
                due, self._due = self._due, []
                try:
                    await self._db.fetch(NOTIFY_ALL, {"channel": CHANNEL, "payloads": [payload for payload, _ in due]})
                except Exception:
                    log.exception("could not announce changes", extra={"notices": len(due)})
                _sent(due)
        finally:  # cancelled: no publisher waits for ever
            self._sender = None
            _sent(due + self._due)
            self._due = []

    def announced(self, channel: str, key: str, *, store_only: bool = False) -> None:
        """The store sent the notice in its own statement: this process's listeners hear it at once, as for
        `publish`, and so do its subscribers unless they read only the store (then the echo wakes them)."""
        if store_only:
            self._local.tell_listeners(channel, key)
        else:
            self._local.deliver(channel, key)

    def subscribe(self, channel: str, key: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        return self._local.subscribe(channel, key)

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
        channel, _, key = payload.partition(PAYLOAD_SEPARATOR)
        self._local.deliver(channel, key)


def _sent(notices: list[tuple[str, asyncio.Future[None]]]) -> None:
    for _, waiter in notices:
        if not waiter.done():
            waiter.set_result(None)

"""Fixtures for the client tests: the Python client on the real in-process server, a TCP proxy whose connections
the tests can cut (a phone going into a tunnel), and storyloom-cli run as a subprocess against the server's port.

The CLI runs in its own process (asyncio.create_subprocess_exec) because it runs its own event loop, and the
server lives in the tests' loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from storyloom_client import StoryloomClient
from tests.support.clients import FAST_RETRY, Proxy
from tests.support.server import Caller, StoryloomServer


@pytest_asyncio.fixture
async def proxy(storyloom_server: StoryloomServer) -> AsyncIterator[Proxy]:
    running = Proxy(storyloom_server.port)
    await running.start()
    yield running
    await running.close()


@pytest_asyncio.fixture
async def client(storyloom_server: StoryloomServer, caller: Caller) -> AsyncIterator[StoryloomClient]:
    async with StoryloomClient(storyloom_server.address, caller.key, retry=FAST_RETRY) as connected:
        yield connected

"""Unit tests run without the network: a connection to any TCP address fails the test that tries it. They use the
in-memory fakes of tests/support/fakes.py and a `FakeClock`; a database, Envoy, a browser or a model belongs in
tests/integration or tests/e2e (tests/conftest.py refuses to collect a unit test whose fixtures need one)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

INTERNET = (socket.AF_INET, socket.AF_INET6)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(kind: str, real: Any) -> Any:
        def connect(self: socket.socket, address: Any) -> Any:
            if self.family in INTERNET:
                raise AssertionError(f"a unit test may not use the network ({kind} to {address!r}): fake the port, "
                                     "or move the test to tests/integration")
            return real(self, address)
        return connect

    monkeypatch.setattr(socket.socket, "connect", refuse("connect", real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex", real_connect_ex))
    yield

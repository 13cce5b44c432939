"""Counts the SQL statements an engine runs: the hot paths' budgets are asserted in statements, not seconds."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class StatementCount:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.parameters: list[Any] = []  # each statement's, as the driver was given them

    def __len__(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[StatementCount]:
    """Every statement `engine` sends while the block runs (ROLLBACK/COMMIT of the pool are not statements)."""
    count = StatementCount()

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        count.statements.append(statement)
        count.parameters.append(parameters)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield count
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


@contextlib.contextmanager
def hearing(engine: AsyncEngine, name: str) -> Iterator[list[Any]]:
    """The connections on which `engine` fires the event `name` ("begin", "commit", ...) while the block runs."""
    heard: list[Any] = []

    def hear(connection: Any) -> None:
        heard.append(connection)

    event.listen(engine.sync_engine, name, hear)
    try:
        yield heard
    finally:
        event.remove(engine.sync_engine, name, hear)

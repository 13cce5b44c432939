"""Log records kept in memory, for tests that read what a real server logged."""

from __future__ import annotations

import logging


class Records(logging.Handler):
    """Keeps every record at INFO or above that reaches it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

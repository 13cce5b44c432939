"""Structured logs: one JSON object per line on stderr, or plain text with key=value fields for a terminal.

A line written while a task's handler runs carries the task's id and attempt (`task`, `attempt`), whatever module
wrote it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]  # untyped

from storyloom.domain.tasks import current_task

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class TaskFields(logging.Filter):
    """Adds the running task's id and attempt to the records written inside it."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task.get()
        if task is not None and not hasattr(record, "task"):
            record.task, record.attempt = task
        return True


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Cheap, because every call writes one: the time string is made once a second,
    and values are encoded as they are (only what JSON cannot hold goes through str)."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return _encode(entry)
        except TypeError:  # a value JSON has no type for (a datetime, an enum...)
            return json.dumps(entry, default=str)


def _unencodable(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_encoder() -> Callable[[dict[str, object]], str]:
    """`json.JSONEncoder(separators=(", ", ": ")).encode` (ASCII only, NaN allowed), with the encoder built once:
    encode() builds a new one per call, a fifth of the cost of encoding an access line. No check for circular
    references (a record's fields are flat): one would end in RecursionError, as it did in ValueError."""
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(separators=(", ", ": ")).encode
    chunks = c_make_encoder(None, _unencodable, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    return lambda entry: "".join(chunks(entry, 0))


_encode = _json_encoder()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, for people reading a terminal (`make run`)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """logging's own `2026-01-02 10:11:12,345` (local time), its date part made once a second."""
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime(self.default_time_format, self.converter(second))
        return f"{self._stamp},{int(record.msecs):03d}"  # logging's default_msec_format, '%s,%03d'

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items() if v not in ("", None))
        if not fields:
            return line
        head, sep, rest = line.partition("\n")  # a traceback stays below the fields
        return f"{head} {fields}{sep}{rest}"


def write(logger: logging.Logger, level: int, message: str, fields: dict[str, object]) -> None:
    """`logger.log(level, message, extra=fields)` for lines written on every call (the access line), for a third of
    its cost: without the search for the caller's frame (a walk up the stack, for a file and line no format writes)
    and without makeRecord's check of each field against the record's own names (give only names that cannot
    clash). Filters and handlers see the record as `log` would make it."""
    record = logging.getLogRecordFactory()(logger.name, level, "(unknown file)", 0, message, (), None)
    record.__dict__.update(fields)
    logger.handle(record)


def configure(level: str = "INFO", fmt: str = "json") -> None:
    # Neither format writes a record's thread, process or process name: not gathering them saves a fifth of making
    # a record, which happens once per call (the access line). See the logging HOWTO, "Optimization".
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(TaskFields())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)

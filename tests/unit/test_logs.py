"""The log formats: one JSON object per line with the call's fields, key=value text, and a running task's id."""

from __future__ import annotations

import datetime as dt
import json
import logging

from storyloom import logs
from storyloom.domain.tasks import current_task

ACCESS = {"method": "/storyloom.v1.TaskService/GetTask", "code": "NOT_FOUND", "duration_ms": 1.5, "user": "u1",
          "request_id": "r1", "peer": "ipv4:127.0.0.1:5000", "bytes_in": 12, "bytes_out": 0}


def record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("storyloom.access")
    made = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "rpc", (), None, extra=extra)
    logs.TaskFields().filter(made)
    return made


def test_a_json_line_holds_the_calls_fields_and_a_utc_time():
    entry = json.loads(logs.JsonFormatter().format(record(**ACCESS)))
    assert {k: entry[k] for k in ACCESS} == ACCESS
    assert entry["message"] == "rpc" and entry["level"] == "INFO" and entry["logger"] == "storyloom.access"
    stamp = dt.datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60


def test_values_json_cannot_hold_are_written_as_text():
    entry = json.loads(logs.JsonFormatter().format(record(when=dt.date(2026, 1, 2))))
    assert entry["when"] == "2026-01-02"


def test_text_lines_carry_the_fields_as_key_value_pairs():
    line = logs.TextFormatter().format(record(**ACCESS))
    assert " storyloom.access: rpc method=/storyloom.v1.TaskService/GetTask code=NOT_FOUND duration_ms=1.5 " in line
    assert line.endswith("bytes_in=12 bytes_out=0")


def test_a_line_written_inside_a_task_names_the_task_and_its_attempt():
    token = current_task.set(("t42", 2))
    try:
        entry = json.loads(logs.JsonFormatter().format(record()))
    finally:
        current_task.reset(token)
    assert entry["task"] == "t42" and entry["attempt"] == 2
    assert "task" not in json.loads(logs.JsonFormatter().format(record()))

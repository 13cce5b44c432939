"""The log formats: one JSON object per line with the call's fields, key=value text, and a running task's id; the
call metrics."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from storyloom import logs
from storyloom.api import auth
from storyloom.domain.tasks import current_task
from storyloom.observability.metrics import Metrics

ACCESS_LOG = auth.log  # the logger the server writes its access lines to
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


@pytest.fixture
def configured():  # type: ignore[no-untyped-def]
    """`logs.configure` as the server calls it (to stderr: capsys's, in a test that asks for it); logging put back
    afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    try:
        yield lambda fmt: logs.configure("INFO", fmt)
    finally:
        root.handlers[:], level, logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved
        root.setLevel(level)


def test_a_calls_access_line_as_the_server_writes_it_holds_every_field_and_no_others(configured, capsys):
    configured("json")
    logs.write(ACCESS_LOG, logging.INFO, "rpc", dict(ACCESS))
    token = current_task.set(("t7", 3))
    try:
        logs.write(ACCESS_LOG, logging.INFO, "rpc", dict(ACCESS, code="OK"))
    finally:
        current_task.reset(token)
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first == {"time": first["time"], "level": "INFO", "logger": "storyloom.access", "message": "rpc", **ACCESS}
    assert second == {**first, "time": second["time"], "code": "OK", "task": "t7", "attempt": 3}


def test_a_configured_text_line_has_loggings_time_and_the_fields(configured, capsys):
    configured("text")
    logging.getLogger("storyloom.access").warning("slow", extra={"method": "/m", "empty": ""})
    line = capsys.readouterr().err.rstrip("\n")
    stamp, rest = line[:23], line[24:]
    dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")  # logging's asctime, local time with milliseconds
    assert rest == "WARNING storyloom.access: slow method=/m"


def test_the_text_time_is_the_one_logging_writes():
    ours, theirs = logs.TextFormatter(), logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_000.25):
        made = record()
        made.created, made.msecs = created, int((created - int(created)) * 1000) + 0.0
        assert ours.format(made) == theirs.format(made)


def test_json_lines_are_what_the_standard_encoder_writes():
    entry = {"text": 'é "quoted"\n', "ratio": 0.1, "nan": float("nan"), "none": None, "yes": True, "big": 10**20,
             "list": [1, "a"], "nested": {"k": [None]}}
    assert logs._encode(entry) == json.JSONEncoder(separators=(", ", ": ")).encode(entry)
    with pytest.raises(TypeError):
        logs._encode({"when": dt.date(2026, 1, 2)})


def test_the_call_metrics_count_each_method_and_code_apart():
    metrics = Metrics()
    for method, code, seconds in (("/s/A", "OK", 0.002), ("/s/A", "OK", 0.3), ("/s/A", "NOT_FOUND", 0.001),
                                  ("/s/B", "OK", 0.004)):
        metrics.rpc_finished(method, code, seconds, streaming=False)
    metrics.rpc_started("/s/W", streaming=True)
    metrics.rpc_started("/s/W", streaming=True)
    metrics.rpc_finished("/s/W", "CANCELLED", 1.0, streaming=True)
    value = metrics.registry.get_sample_value
    assert value("storyloom_rpcs_total", {"method": "/s/A", "code": "OK"}) == 2
    assert value("storyloom_rpcs_total", {"method": "/s/A", "code": "NOT_FOUND"}) == 1
    assert value("storyloom_rpcs_total", {"method": "/s/B", "code": "OK"}) == 1
    assert value("storyloom_rpc_duration_seconds_count", {"method": "/s/A"}) == 3
    assert value("storyloom_rpc_duration_seconds_bucket", {"method": "/s/A", "le": "0.005"}) == 2
    assert value("storyloom_rpc_duration_seconds_sum", {"method": "/s/B"}) == pytest.approx(0.004)
    assert value("storyloom_open_streams", {"method": "/s/W"}) == 1

"""tools/run_local.py (`make run`): starts the server and the gateway, stops both, reports deaths."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.request

import pytest

from tests.support.run_local import Launch, gone

pytestmark = pytest.mark.usefixtures("envoy")  # skips without an envoy binary

def test_the_launcher_serves_the_api_through_the_gateway_and_stops_both_on_ctrl_c(tmp_path):
    launch = Launch(tmp_path)
    try:
        server_pid, envoy_pid = launch.wait_running()
        key = (launch.data_dir / "dev-api-key").read_text().strip()
        request = urllib.request.Request(f"http://127.0.0.1:{launch.http_port}/v1/tasks", headers={"x-api-key": key})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert json.load(response)["tasks"] == []
        assert "curl -N" in launch.text()  # the examples are printed

        launch.process.send_signal(signal.SIGINT)
        assert launch.wait_exit() == 0, launch.text()
        assert gone(server_pid) and gone(envoy_pid)
        assert "run_local: stopped\n" in launch.text()  # not "stopped (with errors)"
    finally:
        launch.stop()


def test_the_launcher_exits_non_zero_and_stops_envoy_when_the_server_dies(tmp_path):
    launch = Launch(tmp_path)
    try:
        server_pid, envoy_pid = launch.wait_running()
        os.kill(server_pid, signal.SIGKILL)
        assert launch.wait_exit() == 1
        assert "the server exited unexpectedly" in launch.text()
        assert gone(envoy_pid)
    finally:
        launch.stop()


def test_the_launcher_fails_fast_when_the_gateway_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        launch = Launch(tmp_path, http_port=taken.getsockname()[1])
        try:
            assert launch.wait_exit(timeout=60) == 1
            assert "Envoy exited" in launch.text()
        finally:
            launch.stop()

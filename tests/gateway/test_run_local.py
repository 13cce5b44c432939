"""tools/run_local.py (`make run`): starts the server and the gateway, stops both, reports deaths."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.gateway.conftest import ROOT, envoy_binary, free_port

pytestmark = pytest.mark.skipif(envoy_binary() is None, reason="no envoy binary")

BANNER = re.compile(r"Storyloom is running \(server pid (\d+), Envoy pid (\d+)\)")


class Launch:
    def __init__(self, tmp_path: Path, http_port: int | None = None):
        self.http_port = http_port or free_port()
        self.data_dir = tmp_path / "data"
        self.output = tmp_path / "run_local.out"
        env = {**os.environ, "STORYLOOM_GRPC_PORT": "0", "STORYLOOM_HTTP_PORT": str(self.http_port)}
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "tools" / "run_local.py"), "--data-dir", str(self.data_dir)],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                process_group=0,  # a signal to it is like Ctrl-C in its own terminal
            )  # fmt: skip

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_running(self, timeout: float = 90) -> tuple[int, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := BANNER.search(self.text()):
                return int(match[1]), int(match[2])
            assert self.process.poll() is None, f"run_local exited early:\n{self.text()}"
            time.sleep(0.1)
        raise AssertionError(f"run_local did not come up:\n{self.text()}")

    def wait_exit(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"run_local did not exit:\n{self.text()}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


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

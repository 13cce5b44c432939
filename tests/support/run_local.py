"""tools/run_local.py (`make run`) as a subprocess in a process group of its own, as a terminal runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.support.gateway import free_port
from tests.support.paths import ROOT

BANNER = re.compile(r"Storyloom is running \(server pid (\d+), Envoy pid (\d+)\)")


class Launch:
    def __init__(self, tmp_path: Path, http_port: int | None = None):
        self.http_port = http_port or free_port()
        self.data_dir = tmp_path / "data"
        self.output = tmp_path / "run_local.out"
        env = {**os.environ, "STORYLOOM_GRPC_PORT": "0", "STORYLOOM_HTTP_PORT": str(self.http_port),
               # These tests are of the launcher: loading the speech models at start would only load the machine.
               "STORYLOOM_VOICE_WARM_UP": "0"}
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "tools" / "run_local.py"), "--data-dir", str(self.data_dir)],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                process_group=0,  # a signal to it is like Ctrl-C in its own terminal
            )  # fmt: skip

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    # Longer than run_local's own start-up limits (120 s for the server, 30 s for Envoy), so that on a slow
    # machine its own message says what did not start.
    def wait_running(self, timeout: float = 240) -> tuple[int, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := BANNER.search(self.text()):
                return int(match[1]), int(match[2])
            assert self.process.poll() is None, f"run_local exited early:\n{self.text()}"
            time.sleep(0.1)
        raise AssertionError(f"run_local did not come up:\n{self.text()}")

    def wait_exit(self, timeout: float = 90) -> int:
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

"""`python -m storyloom serve` as a separate process, for tests that kill it (SIGKILL) or stop it (SIGTERM)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """The server on a data dir and a free port, with the test task kinds as a plugin. `env` adds or overrides
    environment variables (STORYLOOM_*) for every start."""

    def __init__(self, data_dir: Path, log: Path, env: Mapping[str, str] | None = None, command: str = "serve"):
        """`command` "worker" runs `python -m storyloom worker` (tasks only, no port) instead of `serve`."""
        self.data_dir, self.log, self.command = data_dir, log, command
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.worker_id = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        port_file = self.data_dir / "port"
        port_file.unlink(missing_ok=True)
        # No speech models loaded at start unless a test asks (STORYLOOM_VOICE_WARM_UP=1 in `env`): they would only
        # load the machine.
        env = {**os.environ, "STORYLOOM_PLUGINS": "tests.support.task_kinds", "STORYLOOM_DEV_BOOTSTRAP": "0",
               # This tree's server, not the one installed in the environment (another checkout's, in a worktree).
               "PYTHONPATH": os.pathsep.join((str(ROOT / "server"), str(ROOT))),
               "STORYLOOM_SHUTDOWN_GRACE_SECONDS": "2", "STORYLOOM_VOICE_WARM_UP": "0",
               **self.env}
        with self.log.open("ab") as log:
            args = (["serve", "--address", "127.0.0.1:0", "--port-file", str(port_file)] if self.command == "serve"
                    else ["worker", "--ready-file", str(port_file)])
            self.proc = subprocess.Popen([sys.executable, "-m", "storyloom", *args, "--data-dir", str(self.data_dir)],
                                         env=env, stdout=log, stderr=log, cwd=ROOT)
        deadline = time.monotonic() + 120  # generous: on a loaded machine the imports alone take seconds
        while not port_file.exists() or not port_file.read_text():
            assert self.proc.poll() is None, f"server exited: {self.log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"server did not start: {self.log.read_text()[-2000:]}"
            time.sleep(0.05)
        ready = port_file.read_text()
        self.port = int(ready) if self.command == "serve" else 0
        self.worker_id = "" if self.command == "serve" else ready

    def signal(self, signum: int) -> int:
        """Sends `signum` and waits for the process to exit; returns its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=20)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

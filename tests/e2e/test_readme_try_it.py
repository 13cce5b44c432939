"""The README's "Try it" runs top to bottom as written, against `make run` (tools/run_local.py: the server and
Envoy as real processes).

The commands are read from the README's block, backslash continuations joined; each runs in bash with the
`export`s before it, from a directory that looks like a fresh checkout after `make run` (`clients`, `.venv`, and the
`data` directory run_local made). What the reader does by hand, the test does: the ports are the ones run_local got,
and each `.../ID` placeholder becomes the name of that kind an earlier command printed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180.0
COMMAND_TIMEOUT = 240.0

# A placeholder in a command, and the printed names that fill it (the latest printed wins).
PLACEHOLDERS = {
    "users/me/conversations/ID": re.compile(r"users/[0-9a-zA-Z_-]+/conversations/[0-9a-f]+"),
    "users/me/stories/ID": re.compile(r"users/[0-9a-zA-Z_-]+/stories/[0-9a-f]+"),
    "tasks/ID": re.compile(r"\btasks/[0-9a-f]+"),
    "media/ID": re.compile(r"\bmedia/[0-9a-f]+"),
}


def try_it_commands(readme: str) -> list[str]:
    section = readme.split("### Try it", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in block.splitlines():
        line = re.sub(r"\s{2,}#.*$", "", line)  # a comment after the command (two spaces before the #)
        if current:
            current += "\n" + line
        elif line.strip() and not line.lstrip().startswith("#"):
            current = line
        if current and not current.endswith("\\"):
            commands.append(current)
            current = ""
    return commands


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_command_of_try_it_runs_in_order(tmp_path: Path):
    commands = try_it_commands((ROOT / "README.md").read_text())
    assert len(commands) > 15
    grpc_port, http_port = free_port(), free_port()
    data = tmp_path / "data"
    env = {**os.environ, "STORYLOOM_GRPC_PORT": str(grpc_port), "STORYLOOM_HTTP_PORT": str(http_port),
           "STORYLOOM_WEB_PORT": "-1", "STORYLOOM_DATA_DIR": str(data), "STORYLOOM_VOICE_WARM_UP": "0",
           "STORYLOOM_TEXT_ENGINE": "offline"}
    env.pop("STORYLOOM_ADDR", None)
    launcher = subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_local.py"), "--no-access-log"], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            output.append(line)
            if "Storyloom is running" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.2):
            assert launcher.poll() is None and time.monotonic() < deadline, "".join(output[-40:])
        banner = "".join(output)
        assert "/metrics" in banner and "/stats/prometheus" in banner  # make run prints both metrics URLs

        checkout = tmp_path / "checkout"
        checkout.mkdir()
        for name in ("clients", ".venv"):
            (checkout / name).symlink_to(ROOT / name)
        (checkout / "data").symlink_to(data)
        exports: list[str] = []
        printed = ""
        for command in commands:
            for placeholder, pattern in PLACEHOLDERS.items():
                if placeholder in command:
                    names = pattern.findall(printed)
                    assert names, f"nothing printed before `{command}` gives its {placeholder}"
                    command = command.replace(placeholder, names[-1])
            command = command.replace("127.0.0.1:50051", f"127.0.0.1:{grpc_port}").replace(
                "127.0.0.1:8080", f"127.0.0.1:{http_port}")
            run = subprocess.run(["bash", "-c", "\n".join([*exports, command])], cwd=checkout, env=env,
                                 capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
            shown = run.stdout + run.stderr
            assert run.returncode == 0, f"`{command}` exited {run.returncode}:\n{shown}"
            if command.startswith("export "):
                exports.append(command)
            printed += shown
            if "watch" in command and "tasks/" in command and "story-watch" in command:
                assert "left" in shown and "100%" in shown  # the time left, until the end
            if command.startswith("curl -si"):
                assert "401" in shown.splitlines()[0] and '"reason"' in shown
            if ":export" in command:
                assert shown.startswith("# ")
        assert (checkout / "sample.png").read_bytes() == (checkout / "copy.png").read_bytes()
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
            try:
                launcher.wait(60)
            except subprocess.TimeoutExpired:
                launcher.kill()
                launcher.wait()
    if launcher.returncode not in (0, -signal.SIGTERM):
        pytest.fail(f"make run stopped with {launcher.returncode}:\n{''.join(output[-40:])}")

"""The clients as the tests run them: storyloom-cli as a subprocess, the Python client's fast retry policy, and a
TCP proxy whose connections a test can cut (a phone going into a tunnel)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from storyloom_client import RetryPolicy

CLI = Path(sys.executable).parent / "storyloom-cli"
FAST_RETRY = RetryPolicy(max_attempts=6, initial_backoff=0.05, max_backoff=0.5)


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of the server. `cut()` aborts every open connection (both ends, like a
    lost network); new connections go through as before. `refuse` makes it close that many new connections at
    once without forwarding them; `hold` makes it accept connections and never answer."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.accepted = 0
        self.cuts = 0
        self.refuse = 0
        self.hold = False
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        self.cuts += 1
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.refuse > 0:
            self.refuse -= 1
            client_writer.transport.abort()
            return
        self._open.add(client_writer)
        if self.hold:
            return  # accepted, never answered
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.add(server_writer)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str
    # stdout as it arrived: (time.monotonic(), text) per read, to tell streamed output from output printed at the end
    stdout_chunks: list[tuple[float, str]] = field(default_factory=list)


async def run_cli(address: str, key: str | None, *args: str, stdin: bytes | None = None,
                  env: dict[str, str] | None = None) -> CliResult:
    """Runs storyloom-cli against `address` with the key in STORYLOOM_API_KEY (none when `key` is None)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STORYLOOM_")}
    environment.update({"STORYLOOM_ADDR": address, "COLUMNS": "200", "PYTHONUNBUFFERED": "1",
                        "STORYLOOM_API_KEY_FILE": "/nonexistent/dev-api-key"})
    if key is not None:
        environment["STORYLOOM_API_KEY"] = key
    environment.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        str(CLI), *args, env=environment, stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    errors = asyncio.create_task(proc.stderr.read())
    chunks = []
    while chunk := await proc.stdout.read(4096):
        chunks.append((time.monotonic(), chunk.decode()))
    code = await asyncio.wait_for(proc.wait(), 60)
    return CliResult(code, "".join(text for _, text in chunks), (await errors).decode(), chunks)

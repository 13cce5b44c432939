"""A pytest plugin (tests/conftest.py loads it) for the browser tests: the web page (clients/web/dist) served
as `make run` serves it, and the tools to drive it (node, playwright-core from clients/web/node_modules, Debian's
Chromium).

A tool that is missing skips the browser tests with the reason and the command that installs it (`make test`
installs them first: `make browser-deps web`); it never fails the run. Nothing here downloads a browser.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.support.paths import ROOT

WEB_DIR = ROOT / "clients" / "web"
WEB_DIST = WEB_DIR / "dist"
ARTIFACTS = ROOT / "test-artifacts" / "web"


def _load_run_local():
    spec = importlib.util.spec_from_file_location("storyloom_run_local", ROOT / "tools" / "run_local.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


run_local = _load_run_local()


def chromium_binary() -> str | None:
    """STORYLOOM_CHROMIUM, else Debian's /usr/bin/chromium, else `chromium` on PATH."""
    for candidate in (os.environ.get("STORYLOOM_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass(frozen=True)
class BrowserTools:
    node: str
    chromium: str


@pytest.fixture(scope="session")
def browser_tools() -> BrowserTools:
    chromium = chromium_binary()
    if chromium is None:
        pytest.skip("no Chromium (/usr/bin/chromium): `make browser-deps` installs Debian's `chromium` package, "
                    "which needs root and apt; it could not be installed here")
    node = shutil.which("node")
    if node is None:
        pytest.skip("no `node` on PATH: the browser test drives Chromium with playwright-core from node")
    if not (WEB_DIR / "node_modules" / "playwright-core" / "package.json").exists():
        pytest.skip("clients/web/node_modules has no playwright-core: run `make web` (npm ci)")
    if not (WEB_DIST / "index.html").exists():
        pytest.skip("the web page is not built (clients/web/dist): run `make web`")
    return BrowserTools(node, chromium)


ServePage = Callable[..., str]


@pytest.fixture
def serve_page() -> Iterator[ServePage]:
    """`serve_page(gateway=None)`: the built page on a free port, served by run_local's static server (what
    `make run` uses), whose /config.json names `gateway` when given; returns the page's URL."""
    servers = []

    def serve(gateway: str | None = None) -> str:
        server = run_local.serve_static(WEB_DIST, 0, gateway=gateway)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()

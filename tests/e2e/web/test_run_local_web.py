"""`make run` (tools/run_local.py) serves the web page and tells it where the gateway is, prints its URL, and stops
serving it on Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import socket
import urllib.request

import pytest

from tests.support.browser import WEB_DIST
from tests.support.run_local import Launch


@pytest.fixture
def built_page() -> None:
    if not (WEB_DIST / "index.html").exists():
        pytest.skip("the web page is not built (clients/web/dist): run `make web`")


@pytest.mark.usefixtures("envoy")
def test_the_launcher_serves_the_web_page_and_prints_its_url(built_page, tmp_path, monkeypatch):
    monkeypatch.setenv("STORYLOOM_WEB_PORT", "0")  # any free port
    launch = Launch(tmp_path)
    try:
        launch.wait_running()
        match = re.search(r"web page +(http://127\.0\.0\.1:(\d+))/ ", launch.text())
        assert match, launch.text()
        page, web_port = match[1], int(match[2])
        assert f"{page}/#key=$KEY" in launch.text()
        # The page asks the server it came from where the gateway is, so that URL works whatever port the
        # gateway got (here not 8080); the scripts are told the gRPC address the same way.
        with urllib.request.urlopen(f"{page}/config.json", timeout=10) as response:
            assert response.headers["content-type"] == "application/json"
            gateway = json.load(response)["gateway"]
        assert gateway == f"http://127.0.0.1:{launch.http_port}" and launch.http_port != 8080
        grpc_port = re.search(r"gRPC +127\.0\.0\.1:(\d+) ", launch.text())[1]
        assert f"export STORYLOOM_ADDR=127.0.0.1:{grpc_port} " in launch.text()

        with urllib.request.urlopen(f"{page}/", timeout=10) as response:
            assert response.headers["content-type"] == "text/html"
            assert response.headers["cache-control"] == "no-store"
            assert '<script type="module" src="app.js"></script>' in response.read().decode()
        with urllib.request.urlopen(f"{page}/app.js", timeout=10) as response:
            assert response.headers["content-type"] in ("text/javascript", "application/javascript")

        # The gateway lets the page's origin call it with the API key header (the CORS preflight).
        preflight = urllib.request.Request(f"{gateway}/v1/tasks", method="OPTIONS", headers={
            "origin": page, "access-control-request-method": "GET", "access-control-request-headers": "x-api-key"})
        with urllib.request.urlopen(preflight, timeout=10) as response:
            assert response.headers["access-control-allow-origin"] == page
            assert "x-api-key" in response.headers["access-control-allow-headers"]

        launch.process.send_signal(signal.SIGINT)
        assert launch.wait_exit() == 0, launch.text()
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", web_port), timeout=2):
            pass
    finally:
        launch.stop()

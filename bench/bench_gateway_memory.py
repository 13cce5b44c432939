"""Benchmark: Envoy's resident memory while parallel clients upload 100 MB bodies through the gateway.

    make bench   (or: .venv/bin/python bench/bench_gateway_memory.py [--uploads 10] [--mb 100] [--gateway-dir DIR])

Half the uploads carry an API key, half do not; half go to POST /v1/media (CreateMedia), half are JSON bodies to
POST /v1/users/me/conversations. Bodies are sent chunked, without a Content-Length (a body that declares its
length is refused before it is read and costs nothing). Prints Envoy's RSS before, at the peak (VmHWM) and after,
and how each upload was answered. `--gateway-dir` renders another copy of gateway/ (an older one, to compare).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import served

ROOT = Path(__file__).resolve().parents[1]

MiB = 1024 * 1024


def load_render_config(gateway_dir: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_render_config", gateway_dir / "render_config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_envoy(config: Path) -> subprocess.Popen[bytes]:
    envoy = str(Path(sys.executable).parent / "envoy")
    return subprocess.Popen([envoy, "-c", str(config), "--disable-hot-restart", "--concurrency", "1",
                             "--log-level", "critical"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def memory_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss / 1024, peak / 1024


async def upload(port: int, path: str, headers: dict[str, str], megabytes: int) -> str:
    """Sends a chunked body of `megabytes` MB while reading the answer; returns its status line's code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", f"host: 127.0.0.1:{port}", "transfer-encoding: chunked", "connection: close"]
    writer.write(("\r\n".join(head + [f"{k}: {v}" for k, v in headers.items()]) + "\r\n\r\n").encode())
    chunk = b"\0" * (256 * 1024)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(megabytes * 4):
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    sending = asyncio.create_task(send())
    try:
        line = await asyncio.wait_for(reader.readline(), 300)
        return line.split()[1].decode() if line else "closed"
    except (ConnectionError, TimeoutError) as exc:
        return type(exc).__name__
    finally:
        sending.cancel()
        with contextlib.suppress(BaseException):
            await sending
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--gateway-dir", type=Path, default=ROOT / "gateway")
    args = parser.parse_args()
    render_config = load_render_config(args.gateway_dir.resolve())

    async with served() as server:
        key, user_id = server.key, server.user_id
        port = free_port()
        config = server.work_dir / "envoy.yaml"
        config.write_text(render_config.render(port, f"127.0.0.1:{server.port}", ROOT / "gateway" / "storyloom.pb",
                                               free_port()))
        envoy_process = start_envoy(config)
        try:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            await asyncio.wait_for(channel.channel_ready(), 20)
            await channel.close()
            await asyncio.sleep(3)  # the first health checks
            before, _ = memory_mb(envoy_process.pid)
            started = time.perf_counter()
            uploads = []
            for i in range(args.uploads):
                headers = {"content-type": "audio/wav" if i % 2 == 0 else "application/json"}
                if i % 4 < 2:
                    headers["x-api-key"] = key
                path = "/v1/media" if i % 2 == 0 else f"/v1/users/{user_id}/conversations"
                uploads.append(upload(port, path, headers, args.mb))
            answers = await asyncio.gather(*uploads)
            seconds = time.perf_counter() - started
            await asyncio.sleep(1)
            after, peak = memory_mb(envoy_process.pid)
            print(f"gateway: {args.gateway_dir}")
            print(f"{args.uploads} parallel uploads of {args.mb} MB (chunked), answered in {seconds:.1f} s: "
                  f"{dict(Counter(answers))}")
            print(f"Envoy RSS: {before:.0f} MB before, {peak:.0f} MB at the peak (+{peak - before:.0f} MB), "
                  f"{after:.0f} MB after")
        finally:
            envoy_process.terminate()
            envoy_process.wait(10)


if __name__ == "__main__":
    asyncio.run(main())

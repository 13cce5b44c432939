"""Benchmark: media blobs on local disk vs on S3 (a local SeaweedFS), through the server's blob stores: write and
read throughput at three sizes, 4 KiB range reads, and what a media upload costs with its reference count in SQL.

    make bench          (or: .venv/bin/python bench/bench_blobs.py [--rounds 3])

Local disk is the baseline: the S3 figures are shown as ratios against it from the same run. SeaweedFS runs on
this machine (tools/seaweedfs.py), so S3 here has no network in the way: production adds the network's latency.
With aioboto3 installed (pip install aioboto3; not a dependency), the same reads and writes also run through it,
which is how obstore was chosen.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storyloom.domain.media import BlobStore, MediaLibrary
from storyloom.engines.media.inspector import MediaInspector
from storyloom.store.blobs import FileBlobStore
from storyloom.store.db import Database
from storyloom.store.media import SqlMediaRepository
from storyloom.store.s3_blobs import S3BlobStore
from tools.seaweedfs import SeaweedFS, start_seaweedfs

SIZES = ((64 * 1024, 200), (1024 * 1024, 40), (8 * 1024 * 1024, 8))  # (bytes, how many)
CONCURRENCY = 4
CHUNK = 64 * 1024


def mb_per_s(total_bytes: int, seconds: float) -> float:
    return total_bytes / seconds / 1e6


async def timed(jobs: list[Callable[[], Awaitable[object]]]) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(job: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await job()

    started = time.perf_counter()
    await asyncio.gather(*(run(job) for job in jobs))
    return time.perf_counter() - started


async def drain(store: BlobStore, sha256: str, offset: int, limit: int) -> int:
    return sum([len(chunk) async for chunk in store.read(sha256, offset, limit, CHUNK)])


async def throughput(store: BlobStore, rounds: int) -> dict[str, float]:
    """Best of `rounds` (MB/s) for each size: write fresh bytes, read them back whole; ms per 4 KiB range read."""
    figures: dict[str, float] = {}
    for size, count in SIZES:
        writes, reads = [], []
        for _ in range(rounds):
            blobs = [os.urandom(size) for _ in range(count)]
            hashes = [hashlib.sha256(b).hexdigest() for b in blobs]
            writes.append(mb_per_s(size * count, await timed([lambda b=b: store.put(b) for b in blobs])))
            reads.append(mb_per_s(size * count, await timed(
                [lambda h=h, n=size: drain(store, h, 0, n) for h in hashes])))
        figures[f"write {size // 1024} KiB"] = max(writes)
        figures[f"read {size // 1024} KiB"] = max(reads)
    sha256 = await store.put(os.urandom(CHUNK * 16))
    latencies = []
    for i in range(200):
        started = time.perf_counter()
        await drain(store, sha256, (i * 4099) % (CHUNK * 15), 4096)
        latencies.append(time.perf_counter() - started)
    figures["range 4 KiB (ms, median)"] = statistics.median(latencies) * 1000
    return figures


async def media_uploads(store: BlobStore, database: Path, count: int = 200) -> float:
    """Median ms per MediaLibrary.store of 64 KiB (pin, write, row), on SQLite."""
    db = Database(f"sqlite+aiosqlite:///{database}")
    await db.migrate()
    library = MediaLibrary(SqlMediaRepository(db), store, MediaInspector())
    times = []
    try:
        for _ in range(count):
            data = os.urandom(CHUNK)
            started = time.perf_counter()
            await library.store("bench", data, "audio/L16;rate=16000")
            times.append(time.perf_counter() - started)
    finally:
        await db.close()
    return statistics.median(times) * 1000


class Aioboto3Store:
    """The same writes (a HEAD, then the PUT) and reads through aioboto3, for the choice of client (not used by the
    server)."""

    def __init__(self, client: object, bucket: str, prefix: str):
        self.client, self.bucket, self.prefix = client, bucket, prefix

    async def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        key = f"{self.prefix}/{sha256}"
        try:
            await self.client.head_object(Bucket=self.bucket, Key=key)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - botocore's ClientError 404: not there yet
            await self.client.put_object(Bucket=self.bucket, Key=key, Body=data)  # type: ignore[attr-defined]
        return sha256

    async def read(self, sha256: str, offset: int, limit: int, chunk_size: int):  # type: ignore[no-untyped-def]
        answer = await self.client.get_object(  # type: ignore[attr-defined]
            Bucket=self.bucket, Key=f"{self.prefix}/{sha256}", Range=f"bytes={offset}-{offset + limit - 1}")
        body = answer["Body"]
        try:
            async for chunk in body.iter_chunks(chunk_size):
                yield chunk
        finally:
            body.close()


async def aioboto3_figures(s3: SeaweedFS, rounds: int) -> dict[str, float] | None:
    try:
        import aioboto3  # type: ignore[import-not-found]
    except ImportError:
        return None
    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                              aws_access_key_id=s3.access_key_id, aws_secret_access_key=s3.secret_access_key) as c:
        return await throughput(Aioboto3Store(c, s3.bucket, f"bench-aioboto3-{uuid.uuid4().hex}"), rounds)


def import_ms(module: str) -> float | None:
    """How long a fresh Python takes to import `module` (None: not installed)."""
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(done.stdout) if done.returncode == 0 else None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with start_seaweedfs(directory / "seaweedfs") as s3:
            local = FileBlobStore(directory / "blobs")
            remote = S3BlobStore(s3.media_url(f"bench-{uuid.uuid4().hex}"), endpoint=s3.endpoint,
                                 region="us-east-1", access_key_id=s3.access_key_id,
                                 secret_access_key=s3.secret_access_key)
            columns = {"local disk": await throughput(local, args.rounds),
                       "S3 (obstore)": await throughput(remote, args.rounds)}
            boto = await aioboto3_figures(s3, args.rounds)
            if boto is not None:
                columns["S3 (aioboto3)"] = boto
            uploads = {"local disk": await media_uploads(local, directory / "local.db"),
                       "S3 (obstore)": await media_uploads(remote, directory / "s3.db")}
            s3.stop(grace=0)
    base = columns["local disk"]
    print(f"blob stores, {CONCURRENCY} at a time, best of {args.rounds} (MB/s unless said; ratio to local disk)")
    print(f"{'':26}" + "".join(f"{name:>24}" for name in columns))
    for row in base:
        cells = []
        for figures in columns.values():
            value = figures[row]
            cells.append(f"{value:10.2f} ({value / base[row]:5.2f}x)" if figures is not base else f"{value:10.2f}")
        print(f"{row:26}" + "".join(f"{cell:>24}" for cell in cells))
    if boto is None:
        print("(aioboto3 not installed: pip install aioboto3 to compare the clients)")
    imports = {name: import_ms(name) for name in ("obstore", "aioboto3")}
    print("import in a fresh process, ms: " + ", ".join(
        f"{name} {ms:.0f}" for name, ms in imports.items() if ms is not None))
    print("media upload of 64 KiB with its reference count, SQLite, median ms: "
          + ", ".join(f"{name} {ms:.2f}" for name, ms in uploads.items()))


if __name__ == "__main__":
    asyncio.run(main())

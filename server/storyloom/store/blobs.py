"""Content-addressed files on local disk: data/blobs/ab/cdef... named by SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path


class FileBlobStore:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    async def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, sha256, data)
        return sha256

    def _write(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():  # same bytes already stored: content addressing dedupes them
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write, fsync, then rename: a crash leaves either no file or the whole file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def read(self, sha256: str, offset: int, limit: int, chunk_size: int) -> AsyncIterator[bytes]:
        with open(self.path(sha256), "rb") as blob:  # noqa: ASYNC230 - local file, small reads
            blob.seek(offset)
            remaining = limit
            while remaining > 0:
                chunk = await asyncio.to_thread(blob.read, min(chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.path(sha256).unlink, True)

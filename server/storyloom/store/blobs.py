"""Content-addressed files on local disk: data/blobs/ab/cdef... named by SHA-256."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"


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
        # Write, fsync, then rename: a crash leaves either no file or the whole file, plus perhaps a temp file
        # that `recover` removes at the next start.
        fd, tmp = _locked_temp_file(target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
                os.replace(tmp, target)  # while still locked, so no clean-up can take it for abandoned
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

    async def recover(self) -> None:
        removed = await asyncio.to_thread(remove_abandoned_temp_files, self.root)
        if removed:
            log.info("removed partial blob files a crash left", extra={"count": removed})


def _locked_temp_file(directory: Path) -> tuple[int, str]:
    """A new temp file, locked for as long as this process has it open: a lock nobody holds marks a temp file
    whose writer died. (The lock is released when the process ends, however it ends.)"""
    while True:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:
            return fd, tmp
        # A clean-up locked and removed it between mkstemp and flock: take another.
        os.close(fd)


def remove_abandoned_temp_files(root: Path) -> int:
    """Removes the temp files of writes that never finished (their writer died), leaving those being written by
    a live process (another replica on the same disk) alone. Returns how many were removed."""
    removed = 0
    for tmp in root.glob(f"*/{TEMP_PREFIX}*"):
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except FileNotFoundError:
            continue  # renamed into place meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.path.samestat(os.fstat(fd), os.stat(tmp)):  # not renamed into place since it was opened
                tmp.unlink()
                removed += 1
        except (BlockingIOError, FileNotFoundError):
            pass  # its writer is alive, or it was renamed into place
        finally:
            os.close(fd)
    return removed

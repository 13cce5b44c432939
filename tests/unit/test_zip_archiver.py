"""The streaming ZIP writer (engines/packaging/zipstream.py): readable, in order, the same bytes every time."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

from storyloom.domain.ports.packaging import ArchiveEntry
from storyloom.engines.packaging.zipstream import ZipArchiver


def _entries() -> list[ArchiveEntry]:
    def chunks(*parts: bytes):
        async def produce() -> AsyncIterator[bytes]:
            for part in parts:
                yield part
        return produce

    return [ArchiveEntry("manifest.json", chunks(b'{"a": 1}'), compress=True),
            ArchiveEntry("media/x.png", chunks(b"\x89PNG" + bytes(range(256)) * 300, b"tail")),
            ArchiveEntry("empty.bin", chunks())]


async def _archive() -> tuple[bytes, int]:
    parts = [part async for part in ZipArchiver().stream(_entries())]
    return b"".join(parts), len(parts)


async def test_the_archive_streams_in_parts_and_reads_back_in_order():
    data, parts = await _archive()
    assert parts > 3  # handed out as it was written, not in one piece at the end
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["manifest.json", "media/x.png", "empty.bin"]
        assert archive.testzip() is None
        assert archive.read("media/x.png") == b"\x89PNG" + bytes(range(256)) * 300 + b"tail"
        assert archive.getinfo("manifest.json").compress_type == zipfile.ZIP_DEFLATED
        assert archive.getinfo("media/x.png").compress_type == zipfile.ZIP_STORED


async def test_the_same_entries_give_the_same_bytes():
    assert (await _archive())[0] == (await _archive())[0]

"""The Archiver port on the stdlib's zipfile: a ZIP written to a buffer that is drained as each chunk is added.

zipfile writes to a stream it cannot seek with data descriptors after each entry (sizes and CRC follow the bytes),
so nothing is buffered beyond one chunk. Entries get a fixed date, so the same entries give the same archive.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

from storyloom.domain.ports.packaging import ArchiveEntry

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


class _Sink(io.RawIOBase):
    """A write-only, unseekable file whose bytes are taken out as they come."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]  # RawIOBase types it over Buffer
        self._buffer += data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


class ZipArchiver:
    async def stream(self, entries: list[ArchiveEntry]) -> AsyncIterator[bytes]:
        sink = _Sink()
        with zipfile.ZipFile(sink, "w") as archive:
            for entry in entries:
                info = zipfile.ZipInfo(entry.path, date_time=FIXED_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
                info.external_attr = 0o644 << 16
                with archive.open(info, "w") as member:  # media are at most 16 MiB: no ZIP64
                    async for chunk in entry.chunks():
                        member.write(chunk)
                        if out := sink.take():
                            yield out
                if out := sink.take():
                    yield out
        if out := sink.take():
            yield out

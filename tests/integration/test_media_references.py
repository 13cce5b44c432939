"""Media and their blobs: identical bytes share one blob, which goes only when nothing refers to it, counted in SQL.

Every test runs on SQLite and PostgreSQL, with blobs on local disk and on a real S3 server (SeaweedFS). The races
between an upload and a delete of the same bytes are forced in both orders with a blob store that pauses."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from storyloom.domain.media import BlobStore, MediaLibrary
from storyloom.engines.media.inspector import MediaInspector
from storyloom.store.blobs import FileBlobStore
from storyloom.store.db import Database
from storyloom.store.media import SqlMediaRepository
from storyloom.store.models import BlobRefRow
from tests.support.blobs import s3_store

PCM = "audio/L16;rate=16000"  # raw samples: any even number of bytes is valid media
DEADLINE = 30.0  # seconds for what should happen at once, on a loaded machine


class PausingBlobStore:
    """A blob store that can stop after a write (before the media row is stored) or before a removal, until the
    test lets it go on."""

    def __init__(self, inner: BlobStore):
        self.inner = inner
        self.pause_put: asyncio.Event | None = None
        self.pause_delete: asyncio.Event | None = None
        self.in_put, self.in_delete = asyncio.Event(), asyncio.Event()
        self.fail_put = False

    async def put(self, data: bytes) -> str:
        if self.fail_put:
            raise OSError("disk full")
        sha256 = await self.inner.put(data)
        self.in_put.set()
        if self.pause_put is not None:
            await self.pause_put.wait()
        return sha256

    def read(self, sha256: str, offset: int, limit: int, chunk_size: int) -> AsyncIterator[bytes]:
        return self.inner.read(sha256, offset, limit, chunk_size)

    async def delete(self, sha256: str) -> None:
        self.in_delete.set()
        if self.pause_delete is not None:
            await self.pause_delete.wait()
        await self.inner.delete(sha256)

    async def recover(self) -> None:
        await self.inner.recover()


@pytest.fixture(params=["file", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> PausingBlobStore:
    if request.param == "file":
        return PausingBlobStore(FileBlobStore(tmp_path / "blobs"))
    return PausingBlobStore(s3_store(request.getfixturevalue("seaweedfs"), f"refs-{uuid.uuid4().hex}"))


@pytest.fixture
def library(db: Database, blobs: PausingBlobStore) -> MediaLibrary:
    return MediaLibrary(SqlMediaRepository(db), blobs, MediaInspector())


def pcm(seed: int, size: int = 20_000) -> bytes:
    return random.Random(seed).randbytes(size)


async def contents(library: MediaLibrary, user_id: str, media_id: str) -> bytes:
    _, chunks = await library.read(user_id, media_id)
    return b"".join([chunk async for chunk in chunks])


async def exists(blobs: PausingBlobStore, sha256: str) -> bool:
    try:
        [chunk async for chunk in blobs.read(sha256, 0, 1, 1)]
    except FileNotFoundError:
        return False
    return True


async def ref_count(db: Database, sha256: str) -> int | None:
    async with db.begin() as session:
        return await session.scalar(select(BlobRefRow.ref_count).where(BlobRefRow.sha256 == sha256))


async def test_identical_bytes_share_one_blob_that_outlives_all_but_the_last_delete(library, blobs, db):
    data = pcm(1)
    first = await library.store("ada", data, PCM)
    second = await library.store("bob", data, PCM)
    assert first.sha256 == second.sha256 == hashlib.sha256(data).hexdigest() and first.id != second.id
    assert await ref_count(db, first.sha256) == 2

    await library.delete("ada", [first.id])
    assert await contents(library, "bob", second.id) == data
    assert await ref_count(db, first.sha256) == 1

    await library.delete("bob", [second.id])
    assert not await exists(blobs, first.sha256)
    assert await ref_count(db, first.sha256) is None


async def test_deleting_media_gives_back_its_renditions_references_and_removes_their_blobs(library, blobs, db):
    item = await library.store("ada", pcm(10), PCM)
    rendition = await library.store("ada", pcm(11), PCM, parent_id=item.id, purpose="preview")

    await library.delete("ada", [item.id])

    assert await library.get_many("ada", [item.id, rendition.id]) == {}
    for sha256 in (item.sha256, rendition.sha256):
        assert await ref_count(db, sha256) is None
        assert not await exists(blobs, sha256)


async def test_deleting_the_same_media_twice_at_once_gives_back_one_reference(library, db):
    data = pcm(2)
    doomed = await library.store("ada", data, PCM)
    kept = await library.store("ada", data, PCM)

    await asyncio.gather(library.delete("ada", [doomed.id]), library.delete("ada", [doomed.id]))

    assert await ref_count(db, data_sha(data)) == 1
    assert await contents(library, "ada", kept.id) == data


async def test_a_retried_upload_holds_one_reference(library, blobs, db):
    data = pcm(3)
    first = await library.store("ada", data, PCM, request_id="r1")
    again = await library.store("ada", data, PCM, request_id="r1")
    assert again.id == first.id and await ref_count(db, first.sha256) == 1

    await library.delete("ada", [first.id])
    assert not await exists(blobs, first.sha256)


async def test_a_failed_write_leaves_no_reference_behind(library, blobs, db):
    blobs.fail_put = True
    with pytest.raises(OSError, match="disk full"):
        await library.store("ada", pcm(4), PCM)
    assert await ref_count(db, data_sha(pcm(4))) is None


async def test_a_delete_between_an_uploads_write_and_its_row_keeps_the_blob(library, blobs):
    """The upload finds the bytes stored and writes nothing; the last other media is deleted; then the upload
    stores its row: the bytes must still be there (the race the reference count closes)."""
    data = pcm(5)
    old = await library.store("ada", data, PCM)
    blobs.pause_put = asyncio.Event()
    blobs.in_put.clear()
    upload = asyncio.create_task(library.store("bob", data, PCM))
    # Written (nothing to write: the bytes were there), its row not yet stored.
    await asyncio.wait_for(blobs.in_put.wait(), DEADLINE)

    await library.delete("ada", [old.id])
    assert await exists(blobs, old.sha256)  # the pin kept it
    blobs.pause_put.set()
    new = await upload

    assert await contents(library, "bob", new.id) == data


async def test_an_upload_during_a_removal_waits_for_it_and_writes_the_bytes_again(library, blobs):
    """Delete holds the count at zero and is removing the bytes; an identical upload starts meanwhile."""
    data = pcm(6)
    old = await library.store("ada", data, PCM)
    blobs.pause_delete = asyncio.Event()
    deleting = asyncio.create_task(library.delete("ada", [old.id]))
    await asyncio.wait_for(blobs.in_delete.wait(), DEADLINE)  # the count held at zero, the bytes not yet removed

    upload = asyncio.create_task(library.store("bob", data, PCM))
    # Were the upload not held back by the count, it would find the bytes still there, skip its write, and be
    # done before the removal goes on; held back, it is still waiting when this returns.
    done, _ = await asyncio.wait({upload}, timeout=1.0)
    assert not done
    blobs.pause_delete.set()
    await deleting
    new = await upload

    assert await contents(library, "bob", new.id) == data


async def test_uploads_racing_deletes_of_the_same_bytes_never_lose_a_blob(library, db):
    data = pcm(7, size=4_000)
    current = await library.store("ada", data, PCM)
    for _ in range(15):
        _, current = await asyncio.gather(library.delete("ada", [current.id]), library.store("ada", data, PCM))
        assert await contents(library, "ada", current.id) == data
    assert await ref_count(db, current.sha256) == 1


async def test_start_removes_blobs_a_crash_left_unreferenced(library, blobs, db):
    repo = SqlMediaRepository(db)
    deleted = await library.store("ada", pcm(8), PCM)
    assert await repo.delete("ada", [deleted.id]) == [deleted.sha256]  # and the process died before removing it
    interrupted = pcm(9)
    await repo.pin_blob(data_sha(interrupted), len(interrupted))  # an upload that died after its pin...
    await blobs.put(interrupted)  # ...and its write
    async with db.begin() as session, session.begin():  # long ago
        row = await session.get(BlobRefRow, data_sha(interrupted))
        assert row is not None
        row.update_time -= dt.timedelta(hours=2)
    kept = await library.store("ada", pcm(10), PCM)

    await library.start()

    assert not await exists(blobs, deleted.sha256) and await ref_count(db, deleted.sha256) is None
    assert not await exists(blobs, data_sha(interrupted)) and await ref_count(db, data_sha(interrupted)) is None
    assert await contents(library, "ada", kept.id) == pcm(10)


async def test_start_leaves_a_recent_pin_alone(library, blobs, db):
    """A pin of an upload still running (on another replica) is not taken for a crash's leftover."""
    data = pcm(11)
    await SqlMediaRepository(db).pin_blob(data_sha(data), len(data))
    await blobs.put(data)

    await library.start()

    assert await exists(blobs, data_sha(data)) and await ref_count(db, data_sha(data)) == 1


def data_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

"""The blob store contract, on local disk and on a real S3 server (SeaweedFS) alike: content-addressed writes that
dedupe, range reads, deletes; what a crash leaves is cleaned up at start; a store that cannot be used says so."""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import uuid
from collections.abc import Callable
from pathlib import Path

import obstore
import pytest
from obstore.store import S3Store

from storyloom.domain.media import BlobStore, BlobStoreUnavailable
from storyloom.store.blobs import TEMP_PREFIX, FileBlobStore
from storyloom.store.s3_blobs import S3BlobStore
from tests.support.blobs import s3_store
from tools.seaweedfs import SeaweedFS


class Backend:
    """A blob store under test and a way to list what it really holds (file names or object keys)."""

    def __init__(self, store: BlobStore, stored: Callable[[], list[str]]):
        self.store, self.stored = store, stored


def s3_keys(s3: SeaweedFS, prefix: str) -> list[str]:
    store = S3Store(s3.bucket, prefix=prefix, endpoint=s3.endpoint, region="us-east-1",
                    access_key_id=s3.access_key_id, secret_access_key=s3.secret_access_key,
                    client_options={"allow_http": True})
    return sorted(meta["path"] for batch in obstore.list(store) for meta in batch)


@pytest.fixture(params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        root = tmp_path / "blobs"
        return Backend(FileBlobStore(root), lambda: sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()))
    s3: SeaweedFS = request.getfixturevalue("seaweedfs")
    prefix = f"contract-{uuid.uuid4().hex}"
    return Backend(s3_store(s3, prefix), lambda: s3_keys(s3, prefix))


async def read_all(store: BlobStore, sha256: str, offset: int, limit: int, chunk_size: int = 64 * 1024) -> bytes:
    chunks = [chunk async for chunk in store.read(sha256, offset, limit, chunk_size)]
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    return b"".join(chunks)


async def test_bytes_are_stored_under_their_sha256_and_read_back_whole(backend):
    data = random.Random(1).randbytes(300_000)

    sha256 = await backend.store.put(data)

    assert sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(backend.store, sha256, 0, len(data)) == data
    assert backend.stored() == [f"{sha256[:2]}/{sha256[2:]}"]


async def test_the_same_bytes_twice_are_stored_once(backend):
    data, other = b"once upon a time" * 1000, b"and then" * 1000

    first, second, third = await backend.store.put(data), await backend.store.put(data), await backend.store.put(other)

    assert first == second != third
    assert len(backend.stored()) == 2


@pytest.mark.parametrize(("offset", "limit"), [(0, 1), (10, 100), (65_530, 20), (199_995, 5), (0, 200_000)])
async def test_a_range_read_returns_exactly_the_bytes_asked_for_in_small_chunks(backend, offset, limit):
    data = random.Random(2).randbytes(200_000)
    sha256 = await backend.store.put(data)

    assert await read_all(backend.store, sha256, offset, limit, chunk_size=4096) == data[offset:offset + limit]


async def test_a_read_of_nothing_at_the_end_yields_nothing(backend):
    data = b"abc" * 100
    sha256 = await backend.store.put(data)

    assert await read_all(backend.store, sha256, len(data), 0) == b""


async def test_a_deleted_blob_is_gone_and_deleting_it_again_is_not_an_error(backend):
    keep, doomed = await backend.store.put(b"keep" * 100), await backend.store.put(b"doomed" * 100)

    await backend.store.delete(doomed)
    await backend.store.delete(doomed)

    assert backend.stored() == [f"{keep[:2]}/{keep[2:]}"]
    with pytest.raises(FileNotFoundError):
        await read_all(backend.store, doomed, 0, 600)


async def test_recovery_removes_abandoned_temp_files_and_leaves_a_live_writers_alone(tmp_path):
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    kept = await store.put(b"a finished blob")
    (root / "ab").mkdir()
    abandoned = [root / "ab" / f"{TEMP_PREFIX}dead1", root / kept[:2] / f"{TEMP_PREFIX}dead2"]
    for path in abandoned:
        path.write_bytes(b"half of a blob")  # what a process killed mid-write leaves
    live = root / "ab" / f"{TEMP_PREFIX}live"
    live.write_bytes(b"being written")
    writer = os.open(live, os.O_RDONLY)
    fcntl.flock(writer, fcntl.LOCK_EX)  # as a writer in another process holds it
    try:
        await store.recover()
        assert live.exists()
    finally:
        os.close(writer)
    assert not any(path.exists() for path in abandoned)
    assert await read_all(store, kept, 0, 100) == b"a finished blob"

    await store.recover()  # its writer gone, the last one goes too
    assert not live.exists()


async def test_a_write_after_recovery_began_is_not_disturbed(tmp_path):
    store = FileBlobStore(tmp_path / "blobs")
    data = random.Random(3).randbytes(50_000)
    await store.recover()

    sha256 = await store.put(data)
    await store.recover()

    assert await read_all(store, sha256, 0, len(data)) == data
    assert not list((tmp_path / "blobs").rglob(f"{TEMP_PREFIX}*"))


async def test_an_s3_store_that_can_be_used_recovers_quietly(seaweedfs):
    await s3_store(seaweedfs, f"recover-{uuid.uuid4().hex}").recover()


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"secret_access_key": "not-the-secret"}, "SignatureDoesNotMatch"),
    ({"bucket": "no-such-bucket"}, "NoSuchBucket"),
])
async def test_an_s3_store_that_cannot_be_used_says_why_at_start(seaweedfs, overrides, reason):
    bucket = overrides.pop("bucket", seaweedfs.bucket)
    store = S3BlobStore(f"s3://{bucket}/media", endpoint=seaweedfs.endpoint, region="us-east-1",
                        access_key_id=seaweedfs.access_key_id,
                        secret_access_key=overrides.get("secret_access_key", seaweedfs.secret_access_key))

    with pytest.raises(BlobStoreUnavailable) as unavailable:
        await store.recover()
    assert reason in str(unavailable.value) and f"s3://{bucket}/media" in str(unavailable.value)


def test_a_media_url_that_is_not_s3_is_refused():
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        S3BlobStore("s3:///no-bucket")

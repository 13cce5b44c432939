"""Content-addressed objects on S3-compatible storage (AWS S3, SeaweedFS, MinIO...): s3://bucket/prefix/ab/cdef...

Through obstore (Rust's object_store): native async, typed, and faster at reading than aioboto3 here (bench/).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from storyloom.domain.media import BlobStoreUnavailable

if TYPE_CHECKING:
    from obstore.store import S3Config


class S3BlobStore:
    def __init__(self, url: str, *, endpoint: str = "", region: str = "", access_key_id: str = "",
                 secret_access_key: str = ""):
        """`url` is s3://bucket/prefix. Empty settings are left to the AWS_* environment, as AWS tools do."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"a media URL on S3 looks like s3://bucket/prefix, not {url!r}")
        self.url = url
        config: S3Config = {}
        if endpoint:
            config["endpoint"] = endpoint
        if region:
            config["region"] = region
        if access_key_id:
            config["access_key_id"] = access_key_id
        if secret_access_key:
            config["secret_access_key"] = secret_access_key
        self._store = S3Store(
            parts.netloc, prefix=parts.path.strip("/") or None, config=config,
            client_options={"allow_http": endpoint.startswith("http://"), "connect_timeout": "5s", "timeout": "60s"},
            # A few quick retries: a request that keeps failing fails the upload or download, which the client
            # may retry, rather than holding it for minutes (obstore's default is 10 retries over 3 minutes).
            retry_config={"max_retries": 3, "retry_timeout": dt.timedelta(seconds=15)},
        )

    @staticmethod
    def key(sha256: str) -> str:
        return f"{sha256[:2]}/{sha256[2:]}"

    async def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if not await self._exists(sha256):  # same bytes already stored: content addressing dedupes them
            # One PUT (no multipart upload): S3 makes the object visible whole or not at all.
            await obstore.put_async(self._store, self.key(sha256), data, use_multipart=False)
        return sha256

    async def _exists(self, sha256: str) -> bool:
        try:
            await obstore.head_async(self._store, self.key(sha256))
        except FileNotFoundError:  # obstore's NotFoundError is one
            return False
        return True

    async def read(self, sha256: str, offset: int, limit: int, chunk_size: int) -> AsyncIterator[bytes]:
        if limit <= 0:
            return
        result = await obstore.get_async(self._store, self.key(sha256), options={"range": (offset, offset + limit)})
        async for piece in result.stream(min_chunk_size=chunk_size):
            data = memoryview(piece)
            # The stream hands over at least chunk_size at a time, often more: cut to the size asked for.
            for start in range(0, len(data), chunk_size):
                yield bytes(data[start:start + chunk_size])

    async def delete(self, sha256: str) -> None:
        await obstore.delete_async(self._store, self.key(sha256))  # S3 deletes are idempotent

    async def recover(self) -> None:
        # Nothing partial to remove: a single PUT is atomic. Listing the prefix shows at start whether the bucket
        # exists and the credentials are accepted.
        try:
            await obstore.list_with_delimiter_async(self._store, "00/")
        except BaseError as exc:
            raise BlobStoreUnavailable(f"the media store {self.url} cannot be used: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """The S3 error code if the answer has one (NoSuchBucket, SignatureDoesNotMatch...), else the first line."""
    text = str(exc)
    start = text.find("<Code>")
    if start >= 0:
        return text[start + len("<Code>"):text.find("</Code>", start)]
    return text.splitlines()[0] if text else type(exc).__name__

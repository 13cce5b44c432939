"""A blob store on the session's SeaweedFS (the `seaweedfs` fixture), under a key prefix of the test's own."""

from __future__ import annotations

from storyloom.store.s3_blobs import S3BlobStore
from tools.seaweedfs import SeaweedFS


def s3_store(s3: SeaweedFS, prefix: str, **overrides: str) -> S3BlobStore:
    settings = dict(endpoint=s3.endpoint, region="us-east-1", access_key_id=s3.access_key_id,
                    secret_access_key=s3.secret_access_key)
    settings.update(overrides)
    return S3BlobStore(s3.media_url(prefix), **settings)

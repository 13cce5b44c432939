"""Media in the real store (SQL rows, blobs on local disk), shared by every worker of a test: for tests of what a
task's attempts make and what of it they leave behind."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from sqlalchemy import select

from storyloom.domain.media import MediaLibrary
from storyloom.store.blobs import TEMP_PREFIX, FileBlobStore
from storyloom.store.db import Database
from storyloom.store.media import SqlMediaRepository
from storyloom.store.models import MediaRow
from tests.support.fakes import TrustingInspector


@dataclasses.dataclass
class SharedMedia:
    db: Database
    blobs: FileBlobStore
    library: MediaLibrary

    async def ids(self, user_id: str) -> set[str]:
        """The ids of the user's media rows (renditions included)."""
        async with self.db.begin() as session:
            return set(await session.scalars(select(MediaRow.id).where(MediaRow.user_id == user_id)))

    def holds(self, data: bytes) -> bool:
        """Whether the blob of these bytes is stored."""
        return self.blobs.path(hashlib.sha256(data).hexdigest()).exists()

    def blob_count(self) -> int:
        return sum(1 for p in self.blobs.root.rglob("*") if p.is_file() and not p.name.startswith(TEMP_PREFIX))


def shared_media(db: Database, root: Path) -> SharedMedia:
    blobs = FileBlobStore(root)
    return SharedMedia(db, blobs, MediaLibrary(SqlMediaRepository(db), blobs, TrustingInspector()))

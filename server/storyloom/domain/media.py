"""Pictures and audio: content-addressed blobs plus what is known about them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from storyloom.domain.errors import FieldViolation, InvalidArgument, NotFound
from storyloom.domain.ports import packaging
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.notifier import CHANGED, LocalNotifier, Notifier
from storyloom.domain.task_types import TaskClaim, TaskFenced

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 16 * 1024 * 1024
# What the server makes itself (a story's video) may be larger than an upload.
MAX_RENDERED_BYTES = 1024 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
# An upload whose pin is this old was interrupted (a 16 MiB write takes well under a second).
STALE_PIN = dt.timedelta(hours=1)

IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp"}
AUDIO_TYPES = {"audio/wav", "audio/ogg", "audio/webm", "audio/mpeg", "audio/l16"}
# Documents to illustrate (IllustrateText reads them; stored as they came).
DOCUMENT_TYPES = set(packaging.DOCUMENT_TYPES)
# A picture's renditions by purpose, and the longer side of each; the picture itself is `full`.
PICTURE_RENDITIONS = {"thumbnail": 256, "medium": 512}
PREVIEW_SECONDS = 30.0
# Types only the server makes (rendered videos and their captions): never accepted as uploads.
RENDERED_TYPES = {"video/mp4", "text/vtt"}
# Media a sweep of unattached media deletes at most (the next sweep takes the rest).
SWEEP_BATCH = 500


def made_by_task(claim: TaskClaim | None) -> str:
    """The mark of the media a task's attempt stores before attaching them (`MediaLibrary.store`): its task's id;
    none for work done outside a task."""
    return claim.task_id if claim is not None else ""


@dataclasses.dataclass(frozen=True)
class MediaItem:
    id: str
    user_id: str
    sha256: str
    content_type: str
    size_bytes: int
    create_time: dt.datetime
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    sample_rate_hertz: int | None = None
    channel_count: int | None = None
    parent_id: str | None = None
    purpose: str = ""
    renditions: tuple[MediaItem, ...] = ()

    @property
    def name(self) -> str:
        return f"media/{self.id}"


class MediaRepository(Protocol):
    """Media rows, and how many references each blob has: a blob is removed only once nothing refers to it.

    A blob's references are the media rows that name it plus the uploads under way (pins). An upload pins the
    blob before it writes the bytes, so a delete of the last row meanwhile leaves the blob alone; a delete removes
    the bytes while it holds the blob's count, so an upload that pins then waits, and writes the bytes again after.
    """

    async def add(self, item: MediaItem, request_id: str, made_by_task: str = "") -> tuple[MediaItem, bool]:
        """Stores the item, which takes over its upload's pin; on a (user, request_id) clash returns the existing
        one and False. With `made_by_task`, the item is marked as that task's until a write of the task attaches it
        (the story or video repository's, in its own transaction)."""

    async def get(self, media_id: str) -> MediaItem | None:
        """The item with its renditions."""

    async def get_many(self, media_ids: list[str]) -> dict[str, MediaItem]:
        """The items that exist, with their renditions, by id."""

    async def delete(self, user_id: str, media_ids: list[str]) -> list[str]:
        """Deletes the user's items and their renditions, each giving back its reference; returns the blobs
        (sha256) nothing refers to any more."""

    async def pin_blob(self, sha256: str, size_bytes: int) -> None:
        """Counts one more reference to the blob, before its bytes are written."""

    async def release_pin(self, sha256: str, media_id: str) -> bool:
        """Gives back the pin of the upload of `media_id`, unless that item was stored (it holds the reference
        then). True when nothing refers to the blob any more."""

    async def remove_blob_if_unreferenced(self, sha256: str, remove: Callable[[str], Awaitable[None]]) -> bool:
        """If nothing refers to the blob, calls `remove(sha256)` while holding its count (no upload can pin it
        meanwhile) and forgets the blob. True when removed."""

    async def unattached(self, limit: int) -> list[tuple[str, str]]:
        """At most `limit` items (user id, media id), oldest first, still marked as made by a task that has ended
        or is gone: nothing will attach them any more."""

    async def unreferenced_blobs(self, pins_older_than: dt.timedelta) -> list[str]:
        """Blobs nothing refers to, after counting again the references of blobs untouched for `pins_older_than`
        (pins an interrupted upload left). A crash between a delete and its removal leaves such blobs."""


class BlobStore(Protocol):
    """Bytes stored under their SHA-256: on local disk, or on S3-compatible object storage."""

    async def put(self, data: bytes) -> str:
        """Stores the bytes durably under their SHA-256 (hex) and returns it; bytes already there are kept."""

    def read(self, sha256: str, offset: int, limit: int, chunk_size: int) -> AsyncIterator[bytes]:
        """The blob's bytes from `offset`, at most `limit` of them, in chunks of at most `chunk_size`."""

    async def delete(self, sha256: str) -> None:
        """Removes the blob; a missing one is not an error."""

    async def recover(self) -> None:
        """Readies the store at start: removes what writes interrupted by a crash left, and checks that the
        store can be reached (raising BlobStoreUnavailable if not)."""


class BlobStoreUnavailable(Exception):
    """The blob store cannot be used (no such bucket, refused credentials, unreachable)."""


@dataclasses.dataclass(frozen=True)
class Inspection:
    content_type: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    sample_rate_hertz: int | None = None
    channel_count: int | None = None


class MediaInspector(Protocol):
    """Reads uploaded bytes whole with the library that decodes their type, within limits (pixels, duration,
    sample rate, channels), before they are stored."""

    def inspect(self, data: bytes, content_type: str, field: str = "content") -> Inspection:
        """What the bytes are; raises InvalidArgument (naming `field`) unless they fully decode as `content_type`."""


# Scales a picture to at most `max_side` pixels on its longer side, as PNG.
Thumbnailer = Callable[[bytes, int], bytes]


class MediaLibrary:
    def __init__(self, repository: MediaRepository, blobs: BlobStore, inspector: MediaInspector,
                 thumbnailer: Thumbnailer | None = None, clock: Clock = SYSTEM_CLOCK,
                 converter: packaging.MediaConverter | None = None, notifier: Notifier | None = None):
        self._repo = repository
        # An item changes only by being deleted or by gaining a rendition: both are announced (CHANGED).
        self._notifier: Notifier = notifier or LocalNotifier()
        self._inspector = inspector
        self._converter = converter
        self._clock = clock
        self._blobs = blobs
        self._thumbnailer = thumbnailer

    async def store(
        self, user_id: str, data: bytes, content_type: str, *, request_id: str = "",
        parent_id: str | None = None, purpose: str = "", thumbnail_side: int = 0, known: Inspection | None = None,
        made_by_task: str = "",
    ) -> MediaItem:
        """Validates and stores bytes; the blob is durable before the metadata row refers to it.

        With `thumbnail_side`, a picture also gets a `thumbnail` rendition at most that many
        pixels on its longer side. `known` gives what the caller made, instead of inspecting the bytes.
        `made_by_task`: the task storing it, which attaches it later (`attaching`); until then it is that task's,
        and deleted by `sweep_unattached` if the task ends first (killed or cancelled in between). A rendition
        needs no mark: it goes with its item.
        """
        if not data:
            raise InvalidArgument(FieldViolation("content.data", "must not be empty"))
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidArgument(FieldViolation("content.data", f"must be at most {MAX_UPLOAD_BYTES} bytes"),
                                  reason="MEDIA_TOO_LARGE")
        found: Inspection = (known if known is not None
                             else await asyncio.to_thread(self._inspector.inspect, data, content_type))
        sha256 = hashlib.sha256(data).hexdigest()
        item = MediaItem(
            id=uuid.uuid4().hex, user_id=user_id, sha256=sha256, content_type=found.content_type,
            size_bytes=len(data), create_time=self._clock.now(), width=found.width, height=found.height,
            duration_ms=found.duration_ms, sample_rate_hertz=found.sample_rate_hertz,
            channel_count=found.channel_count, parent_id=parent_id, purpose=purpose,
        )
        # Pinned before the bytes are written, so that deleting other media with the same bytes meanwhile
        # cannot remove them between the write and the row.
        await self._repo.pin_blob(sha256, len(data))
        try:
            await self._blobs.put(data)
            stored, created = await self._repo.add(item, request_id, made_by_task)
        except BaseException:
            await self._release(sha256, item.id)
            raise
        if not created:  # a retry: the first request's item holds its own reference
            await self._release(sha256, item.id)
        elif parent_id is not None:  # a new rendition of the parent
            await self._notifier.publish(CHANGED, f"media/{parent_id}")
        if created and thumbnail_side and found.width and self._thumbnailer is not None:
            small = await asyncio.to_thread(self._thumbnailer, data, thumbnail_side)
            rendition = await self.store(user_id, small, "image/png", parent_id=stored.id, purpose="thumbnail")
            stored = dataclasses.replace(stored, renditions=(rendition,))
        return stored

    async def store_rendered(
        self, user_id: str, data: bytes, content_type: str, *, width: int | None = None, height: int | None = None,
        duration_ms: int | None = None, parent_id: str | None = None, purpose: str = "", made_by_task: str = "",
    ) -> MediaItem:
        """Stores media the server made itself (a video, its captions), described by its maker: no upload limit
        below MAX_RENDERED_BYTES and no inspection of the bytes. `made_by_task` as for `store`."""
        if content_type not in RENDERED_TYPES:
            raise ValueError(f"not a rendered media type: {content_type!r}")
        if not data or len(data) > MAX_RENDERED_BYTES:
            raise ValueError(f"rendered media must have 1 to {MAX_RENDERED_BYTES} bytes, not {len(data)}")
        sha256 = hashlib.sha256(data).hexdigest()
        item = MediaItem(
            id=uuid.uuid4().hex, user_id=user_id, sha256=sha256, content_type=content_type, size_bytes=len(data),
            create_time=self._clock.now(), width=width, height=height, duration_ms=duration_ms, parent_id=parent_id,
            purpose=purpose,
        )
        await self._repo.pin_blob(sha256, len(data))
        try:
            await self._blobs.put(data)
            stored, _ = await self._repo.add(item, "", made_by_task)
        except BaseException:
            await self._release(sha256, item.id)
            raise
        return stored

    async def delete(self, user_id: str, media_ids: list[str]) -> None:
        """Deletes the user's media (and their renditions), and the blobs nothing refers to any more."""
        unreferenced = await self._repo.delete(user_id, media_ids)
        for media_id in media_ids:
            await self._notifier.publish(CHANGED, f"media/{media_id}")
        for sha256 in unreferenced:
            await self._repo.remove_blob_if_unreferenced(sha256, self._blobs.delete)

    @contextlib.asynccontextmanager
    async def attaching(self, user_id: str, media_ids: Sequence[str | None]) -> AsyncIterator[list[str]]:
        """Around the write that attaches media just made to what will refer to them (a task's write of its story
        or video), which is given the ids yielded (the media, less the Nones) to unmark them as their task's in its
        own transaction. If that write is refused (TaskFenced: the task moved on) or finds what it writes gone
        (LookupError, NotFound: deleted meanwhile), nothing will ever refer to the media: they are deleted, with
        their renditions, and the error goes on. A deletion that fails is logged, never raised in its place (the
        media stay marked: `sweep_unattached` takes them once their task has ended). A task killed or cancelled
        before its write leaves them marked too."""
        attached = [i for i in media_ids if i]
        try:
            yield attached
        except (TaskFenced, LookupError, NotFound):
            doomed = attached
            try:
                await asyncio.shield(self.delete(user_id, doomed))
            except Exception:  # the write's error is the one to report; the blob goes at the next start
                log.warning("media left unattached were not deleted", extra={"media": doomed}, exc_info=True)
            raise

    async def sweep_unattached(self) -> int:
        """Deletes (with their renditions and blobs) media a task stored and never attached, once that task has
        ended or is gone: it was killed or cancelled between the two, or its write failed. A task that still runs
        (its attempt resumed after a crash too) keeps them. Returns how many went. Run with the tasks' periodic
        clean-up (`TaskRunner.on_clean_up`)."""
        found = await self._repo.unattached(SWEEP_BATCH)
        by_user: dict[str, list[str]] = {}
        for user_id, media_id in found:
            by_user.setdefault(user_id, []).append(media_id)
        for user_id, media_ids in by_user.items():
            await self.delete(user_id, media_ids)
        if found:
            log.info("deleted media their tasks left unattached", extra={"count": len(found)})
        return len(found)

    async def start(self) -> None:
        """Readies the blob store and removes the blobs that nothing refers to any more (a crash between a
        delete and the removal of its blob, or in the middle of an upload, leaves them)."""
        await self._blobs.recover()
        for sha256 in await self._repo.unreferenced_blobs(pins_older_than=STALE_PIN):
            await self._repo.remove_blob_if_unreferenced(sha256, self._blobs.delete)

    async def _release(self, sha256: str, media_id: str) -> None:
        if await self._repo.release_pin(sha256, media_id):
            await self._repo.remove_blob_if_unreferenced(sha256, self._blobs.delete)

    async def get(self, user_id: str, media_id: str) -> MediaItem:
        item = await self._repo.get(media_id)
        if item is None or item.user_id != user_id:
            raise NotFound(f"media/{media_id}")
        return item

    async def get_many(self, user_id: str, media_ids: list[str]) -> dict[str, MediaItem]:
        """The user's items among `media_ids`, by id; others' and missing ones are left out."""
        found = await self._repo.get_many(media_ids)
        return {i: item for i, item in found.items() if item.user_id == user_id}

    async def read(self, user_id: str, media_id: str, offset: int = 0,
                   limit: int = 0) -> tuple[MediaItem, AsyncIterator[bytes]]:
        """The item and an iterator over its bytes from `offset`, at most `limit` (0: all) bytes."""
        item = await self.get(user_id, media_id)
        if offset > item.size_bytes:
            raise InvalidArgument(FieldViolation("read_offset", f"must not be past the end ({item.size_bytes} bytes)"))
        remaining = item.size_bytes - offset if limit == 0 else min(limit, item.size_bytes - offset)
        return item, self._blobs.read(item.sha256, offset, remaining, CHUNK_BYTES)

    async def read_all(self, item: MediaItem) -> bytes:
        """All of an item's bytes (the caller has checked that it may read it)."""
        return b"".join([chunk async for chunk in self._blobs.read(item.sha256, 0, item.size_bytes, CHUNK_BYTES)])

    def chunks(self, item: MediaItem) -> AsyncIterator[bytes]:
        return self._blobs.read(item.sha256, 0, item.size_bytes, CHUNK_BYTES)

    async def complete_renditions(self, item: MediaItem) -> MediaItem:
        """The item with every rendition an offline app wants, making the missing ones once (they are kept): a
        picture's `thumbnail` and `medium`, a WAV narration's 30-second Ogg/Opus `preview`."""
        if self._converter is None:
            return item
        have = {r.purpose for r in item.renditions}
        made: list[MediaItem] = []
        if item.width is not None:
            missing = [(p, side) for p, side in PICTURE_RENDITIONS.items() if p not in have]
            if missing:
                data = await self.read_all(item)
                for purpose, side in missing:
                    small = await asyncio.to_thread(self._converter.scaled_png, data, side)
                    made.append(await self.store(item.user_id, small, "image/png", parent_id=item.id,
                                                 purpose=purpose))
        elif item.content_type == "audio/wav" and "preview" not in have:
            wav = await self.read_all(item)
            ogg, duration_ms = await asyncio.to_thread(self._converter.opus_preview, wav, PREVIEW_SECONDS)
            made.append(await self.store(
                item.user_id, ogg, "audio/ogg", parent_id=item.id, purpose="preview",
                known=Inspection("audio/ogg", duration_ms=duration_ms, sample_rate_hertz=48000, channel_count=1)))
        if not made:
            return item
        return dataclasses.replace(item, renditions=tuple(sorted((*item.renditions, *made), key=lambda r: r.purpose)))

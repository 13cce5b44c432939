"""Bundles: all of a story an offline app needs in one ZIP archive, described by its manifest.

The archive holds `manifest.json` first, then `story.md` (the Markdown export with its pictures as relative
paths), then every picture with its renditions and every narration with its preview under `media/`. The manifest
lists each file's path, content type, size and SHA-256, so a client verifies what it unpacked; the scene order and
texts come with it. The same story gives the same manifest and archive: its SHA-256 is the bundle's ETag.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from storyloom.domain.errors import FailedPrecondition
from storyloom.domain.media import MediaItem, MediaLibrary
from storyloom.domain.ports.packaging import ArchiveEntry, Archiver
from storyloom.domain.stories import Stories, Story, export_text

FORMAT = "storyloom.bundle/1"
MANIFEST = "manifest.json"
MARKDOWN = "story.md"
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "audio/wav": "wav",
               "audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/webm": "webm"}


@dataclasses.dataclass(frozen=True)
class Bundle:
    etag: str  # SHA-256 of the manifest, hex
    manifest: dict[str, Any]
    chunks: AsyncIterator[bytes]


def media_path(item: MediaItem) -> str:
    extension = _EXTENSIONS.get(item.content_type.partition(";")[0], "bin")
    suffix = f"-{item.purpose}" if item.purpose else ""
    return f"media/{item.parent_id or item.id}{suffix}.{extension}"


class Bundles:
    def __init__(self, stories: Stories, media: MediaLibrary, archiver: Archiver):
        self._stories = stories
        self._media = media
        self._archiver = archiver

    async def describe(self, user_id: str, story_id: str) -> tuple[str, dict[str, Any], list[MediaItem], bytes]:
        """The bundle's ETag, manifest, media in archive order and Markdown; makes missing renditions first."""
        story = await self._stories.get(user_id, story_id)
        if story.state == "GENERATING":
            raise FailedPrecondition(f"{story.name} is still being written", reason="STORY_NOT_READY",
                                     metadata={"story": story.name})
        found = await self._stories.media(user_id, story)
        items = {media_id: await self._media.complete_renditions(item) for media_id, item in found.items()}
        _, markdown = export_text(story, "MARKDOWN", lambda media_id: media_path(items[media_id])
                                  if media_id in items else f"/v1/media/{media_id}:download")
        manifest, files = _manifest(story, items, markdown)
        encoded = _encode(manifest)
        return hashlib.sha256(encoded).hexdigest(), manifest, files, markdown

    async def open(self, user_id: str, story_id: str) -> Bundle:
        etag, manifest, files, markdown = await self.describe(user_id, story_id)
        encoded = _encode(manifest)

        def constant(data: bytes) -> Any:
            async def chunks() -> AsyncIterator[bytes]:
                yield data
            return chunks

        entries = [ArchiveEntry(MANIFEST, constant(encoded), compress=True),
                   ArchiveEntry(MARKDOWN, constant(markdown), compress=True)]
        entries += [ArchiveEntry(media_path(item), functools.partial(self._media.chunks, item)) for item in files]
        return Bundle(etag, manifest, self._archiver.stream(entries))


def _encode(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()


def _file(item: MediaItem, purpose: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": media_path(item), "media": item.name, "purpose": purpose,
                             "content_type": item.content_type, "size_bytes": item.size_bytes, "sha256": item.sha256}
    if item.width is not None:
        entry["width"], entry["height"] = item.width, item.height
    if item.duration_ms is not None:
        entry["duration_ms"] = item.duration_ms
    return entry


def _manifest(story: Story, items: dict[str, MediaItem],
              markdown: bytes) -> tuple[dict[str, Any], list[MediaItem]]:
    files = [{"path": MARKDOWN, "purpose": "markdown", "content_type": "text/markdown; charset=utf-8",
              "size_bytes": len(markdown), "sha256": hashlib.sha256(markdown).hexdigest()}]
    archived: list[MediaItem] = []
    scenes = []

    def add(item: MediaItem, purpose: str) -> str:
        entry = _file(item, purpose)
        if entry["path"] not in {f["path"] for f in files}:
            files.append(entry)
            archived.append(item)
        return str(entry["path"])

    def renditions(item: MediaItem, full: str) -> dict[str, str]:
        paths = {full: add(item, full)}
        for rendition in item.renditions:
            paths.setdefault(rendition.purpose, add(rendition, rendition.purpose))  # the first of each purpose
        return paths

    for scene in story.scenes:
        entry: dict[str, Any] = {"index": scene.index, "title": scene.title, "text": scene.text, "mood": scene.mood}
        if scene.picture_id in items:
            entry["picture"] = renditions(items[scene.picture_id], "full")
        if scene.narration_id in items:
            entry["narration"] = renditions(items[scene.narration_id], "full")
        scenes.append(entry)
    manifest = {"format": FORMAT, "story": {"name": story.name, "title": story.title, "premise": story.premise,
                                            "state": story.state},
                "markdown": MARKDOWN, "scenes": scenes, "files": files}
    return manifest, archived

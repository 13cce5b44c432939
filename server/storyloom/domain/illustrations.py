"""The illustrator: any text, or an uploaded document, cut into scenes at its natural breaks and illustrated.

A document is read to text here (DocumentReader port); the rest is a story written from that text: its
`story.create` task splits it keeping every word, paints each scene in the chosen style and, on request,
narrates it. Nothing is fetched from a URL a caller names (SSRF): documents are uploaded with CreateMedia.
"""

from __future__ import annotations

import asyncio

from storyloom.domain.errors import FieldViolation, InvalidArgument
from storyloom.domain.media import DOCUMENT_TYPES, MediaLibrary
from storyloom.domain.ports.packaging import DocumentReader, DocumentUnreadable
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import MAX_SCENES, MAX_SOURCE_TEXT, Stories, StoryOptions
from storyloom.domain.tasks import Task

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
MAX_STYLE = 100


class Illustrations:
    def __init__(self, stories: Stories, media: MediaLibrary, reader: DocumentReader):
        self._stories = stories
        self._media = media
        self._reader = reader

    async def illustrate(self, user_id: str, *, text: str = "", document_id: str = "", style: str = "",
                         narrate: bool = False, max_scenes: int = 0, request_id: str = "") -> Task:
        if not 0 <= max_scenes <= MAX_SCENES:
            raise InvalidArgument(FieldViolation("max_scenes", f"must be from 1 to {MAX_SCENES}, or 0 for all"))
        if len(style) > MAX_STYLE:
            raise InvalidArgument(FieldViolation("illustration_style", f"must be at most {MAX_STYLE} characters"))
        if document_id:
            text = await self.read_document(user_id, document_id)
        elif not text.strip():
            raise InvalidArgument(FieldViolation("text", "give a text or a document"), reason="STORY_SOURCE_MISSING")
        options = StoryOptions(scene_count=max_scenes or MAX_SCENES, skip_narration=not narrate)
        requirements = StoryRequirements(illustration_style=style.strip()) if style.strip() else None
        return await self._stories.create(user_id, requirements=requirements, text=text, options=options,
                                          request_id=request_id)

    async def read_document(self, user_id: str, document_id: str) -> str:
        """The text of an uploaded document the user owns; INVALID_ARGUMENT on the `document` field if it is not
        a document, is too large, or does not parse."""
        item = await self._media.get(user_id, document_id)
        base = item.content_type.partition(";")[0].strip().lower()
        if base not in DOCUMENT_TYPES:
            raise InvalidArgument(FieldViolation("document", f"{base} is not a document type; accepted: "
                                                 + ", ".join(sorted(DOCUMENT_TYPES))),
                                  reason="DOCUMENT_TYPE_UNSUPPORTED")
        if item.size_bytes > MAX_DOCUMENT_BYTES:
            raise InvalidArgument(FieldViolation("document", f"must be at most {MAX_DOCUMENT_BYTES} bytes"),
                                  reason="DOCUMENT_TOO_LARGE")
        data = await self._media.read_all(item)
        try:
            text = await asyncio.to_thread(self._reader.read_text, data, base)
        except DocumentUnreadable as exc:
            raise InvalidArgument(FieldViolation("document", str(exc)), reason="DOCUMENT_UNREADABLE") from None
        if len(text) > MAX_SOURCE_TEXT:
            raise InvalidArgument(FieldViolation("document", f"its text must be at most {MAX_SOURCE_TEXT} characters"),
                                  reason="DOCUMENT_TOO_LARGE")
        return text

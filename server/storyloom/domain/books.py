"""Picture books: a story exported as EPUB 3 (pictures, text, narration as read-aloud) or as a printable PDF."""

from __future__ import annotations

import asyncio
from typing import Literal

from storyloom.domain.errors import FailedPrecondition
from storyloom.domain.media import MediaLibrary
from storyloom.domain.ports.packaging import Book, BookAudio, BookMaker, BookPage, BookPicture, MediaConverter
from storyloom.domain.stories import Stories

BookFormat = Literal["EPUB", "PDF"]
JPEG_QUALITY = 88  # print quality; a 768x512 picture is ~100 KB instead of a PNG's ~1 MB
CONTENT_TYPES: dict[BookFormat, str] = {"EPUB": "application/epub+zip", "PDF": "application/pdf"}


class Books:
    def __init__(self, stories: Stories, media: MediaLibrary, maker: BookMaker, converter: MediaConverter):
        self._stories = stories
        self._media = media
        self._maker = maker
        self._converter = converter

    async def export(self, user_id: str, story_id: str, fmt: BookFormat) -> tuple[str, bytes]:
        story = await self._stories.get(user_id, story_id)
        if story.state == "GENERATING":
            raise FailedPrecondition(f"{story.name} is still being written", reason="STORY_NOT_READY",
                                     metadata={"story": story.name})
        items = await self._stories.media(user_id, story)
        pages = []
        for scene in story.scenes:
            picture = narration = None
            if (item := items.get(scene.picture_id or "")) is not None and item.width:
                jpeg = await asyncio.to_thread(self._converter.jpeg, await self._media.read_all(item), JPEG_QUALITY)
                picture = BookPicture(jpeg, "image/jpeg", item.width, item.height or item.width)
            if fmt == "EPUB" and (item := items.get(scene.narration_id or "")) is not None and (
                    item.content_type == "audio/wav"):
                # EPUB readers play MP3 and AAC (its core media types), not WAV.
                audio = await asyncio.to_thread(self._converter.narration_for_book, await self._media.read_all(item))
                narration = BookAudio(audio, "audio/mp4", item.duration_ms or 0)
            pages.append(BookPage(scene.title, _book_text(scene.text), picture, narration))
        book = Book(identifier=f"urn:storyloom:{story.name}", title=story.title or "Untitled story",
                    language=story.requirements.language_code or "en", subtitle=story.premise.strip(),
                    pages=tuple(pages))
        make = self._maker.epub if fmt == "EPUB" else self._maker.pdf
        return CONTENT_TYPES[fmt], await asyncio.to_thread(make, book)


def _book_text(text: str) -> str:
    """A scene's text for a page under its title: a Markdown heading that opens it (a document's chapter heading,
    which the title already shows) is left out, and other headings lose their `#`."""
    paragraphs = [p.strip() for p in text.strip().split("\n\n") if p.strip()]
    if paragraphs and paragraphs[0].startswith("#") and "\n" not in paragraphs[0]:
        paragraphs = paragraphs[1:]
    return "\n\n".join(p.lstrip("#").strip() if p.startswith("#") else p for p in paragraphs)

"""Packaging ports: reading uploaded documents, archives for offline apps, picture books, media renditions.

`engines/documents` reads documents (pypdf, python-docx), `engines/packaging` writes ZIP archives, `engines/books`
writes EPUB 3 (ebooklib) and PDF (fpdf2), `engines/images` and `engines/speech` make renditions. The domain passes
bytes and plain values; it never sees those libraries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Protocol

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENT_TYPES = ("text/plain", "text/markdown", "application/pdf", DOCX)


class DocumentUnreadable(Exception):
    """The bytes are not a readable document of their type (corrupt, encrypted, not text)."""


class DocumentReader(Protocol):
    def read_text(self, data: bytes, content_type: str) -> str:
        """The document's text, with its natural breaks kept: a blank line between paragraphs, a Markdown-style
        `# heading` line for each heading; a PDF page ends a paragraph. CPU work: call it off the event loop.
        Raises DocumentUnreadable."""


@dataclasses.dataclass(frozen=True)
class ArchiveEntry:
    path: str
    chunks: Callable[[], AsyncIterator[bytes]]  # opened when the entry is written
    compress: bool = False  # pictures and audio are compressed already


class Archiver(Protocol):
    def stream(self, entries: list[ArchiveEntry]) -> AsyncIterator[bytes]:
        """A ZIP archive of the entries in order, produced as it is read (no file, no whole archive in memory);
        the same entries give the same bytes."""


@dataclasses.dataclass(frozen=True)
class BookPicture:
    data: bytes
    content_type: str
    width: int
    height: int


@dataclasses.dataclass(frozen=True)
class BookAudio:
    data: bytes
    content_type: str
    duration_ms: int


@dataclasses.dataclass(frozen=True)
class BookPage:
    title: str
    text: str
    picture: BookPicture | None = None
    narration: BookAudio | None = None


@dataclasses.dataclass(frozen=True)
class Book:
    identifier: str  # stable: the story's name
    title: str
    language: str  # BCP 47, e.g. "en"
    subtitle: str = ""
    pages: tuple[BookPage, ...] = ()


class BookMaker(Protocol):
    def epub(self, book: Book) -> bytes:
        """An EPUB 3 book: one chapter per page with its picture; narration as media overlays. CPU work."""

    def pdf(self, book: Book) -> bytes:
        """A printable PDF picture book: a title page, then one page per page, picture above large type."""


class MediaConverter(Protocol):
    def scaled_png(self, picture: bytes, max_side: int) -> bytes:
        """The picture at most `max_side` pixels on its longer side, as PNG."""

    def opus_preview(self, wav: bytes, seconds: float) -> tuple[bytes, int]:
        """The first `seconds` of a WAV file as Ogg/Opus, and its duration in milliseconds."""

    def jpeg(self, picture: bytes, quality: int) -> bytes:
        """The picture as a JPEG (books: a fraction of a PNG's size, so a whole book fits in one message)."""

    def narration_for_book(self, wav: bytes) -> bytes:
        """A WAV narration as MP3 (`audio/mpeg`), an audio type every EPUB 3 reader plays."""

"""The DocumentReader port: plain text and Markdown (stdlib), PDF (pypdf), DOCX (python-docx).

Every reader keeps the document's natural breaks in the text it returns, in one shape the scene splitter reads:
paragraphs separated by a blank line (a PDF page ends one too), headings as `# heading` lines.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile

from storyloom.domain.ports.packaging import DOCX, DocumentUnreadable

log = logging.getLogger(__name__)

# A PDF whose pages hold no text at all (scans) has nothing to illustrate; more pages than this is not a story.
MAX_PDF_PAGES = 300


class DocumentTextReader:
    def read_text(self, data: bytes, content_type: str) -> str:
        base = content_type.partition(";")[0].strip().lower()
        if base in ("text/plain", "text/markdown"):
            text = _decode(data)
        elif base == "application/pdf":
            text = _pdf(data)
        elif base == DOCX:
            text = _docx(data)
        else:
            raise DocumentUnreadable(f"{base} is not a document type")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            raise DocumentUnreadable("the document has no text")
        return text


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentUnreadable("the text is not UTF-8") from None
    if "\x00" in text:
        raise DocumentUnreadable("the text holds NUL characters: not a text file")
    return text


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DocumentUnreadable("the PDF is encrypted")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise DocumentUnreadable(f"the PDF has more than {MAX_PDF_PAGES} pages")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentUnreadable:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        log.info("unreadable PDF", extra={"error": repr(exc)})
        raise DocumentUnreadable("the bytes are not a readable PDF") from None
    # pypdf ends each line with a newline; a line that ends a sentence, or a blank one, ends a paragraph.
    return "\n\n".join(_pdf_paragraphs(page) for page in pages)


def _pdf_paragraphs(page: str) -> str:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in page.split("\n"):
        stripped = line.strip()
        if not stripped:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(stripped)
        if re.search(r"[.!?\"”’]$", stripped) and len(stripped) < 60:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def _docx(data: bytes) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        log.info("unreadable DOCX", extra={"error": repr(exc)})
        raise DocumentUnreadable("the bytes are not a readable DOCX document") from None
    parts: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        parts.append(f"# {text}" if style.lower().startswith(("heading", "title")) else text)
    return "\n\n".join(parts)

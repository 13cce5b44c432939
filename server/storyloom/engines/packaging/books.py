"""The BookMaker port: EPUB 3 with ebooklib (media overlays for narration), a printable PDF with fpdf2.

The PDF uses the core Helvetica font, so text is set in Latin-1: typographic quotes and dashes are mapped to
their plain forms, and a character outside Latin-1 prints as `?` (no font file is shipped or searched for).
"""

from __future__ import annotations

import html
import io

from storyloom.domain.ports.packaging import Book, BookPage

_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                        "\u2026": "...", "\u00a0": " ", "\u2022": "-"})
_EXTENSION = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def _clock(ms: int) -> str:
    seconds, millis = divmod(max(0, ms), 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def _chapter(book: Book, page: BookPage, number: int, picture: str | None) -> str:
    esc = html.escape
    parts = [f'<section id="scene-{number}" epub:type="chapter">', f'<h1 id="s{number}-title">{esc(page.title)}</h1>']
    if picture:
        parts.append(f'<figure><img src="{picture}" alt="{esc(page.title)}"/></figure>')
    for i, paragraph in enumerate(_paragraphs(page.text)):
        parts.append(f'<p id="s{number}-p{i}">{esc(paragraph)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _smil(number: int, audio: str, paragraphs: list[str], duration_ms: int) -> str:
    """One `par` per paragraph, the narration's time shared by their lengths (the narration reads the whole
    scene text in one file, with no timings per sentence)."""
    total = sum(len(p) for p in paragraphs) or 1
    pars, start = [], 0
    for i, paragraph in enumerate(paragraphs):
        end = duration_ms if i == len(paragraphs) - 1 else start + round(duration_ms * len(paragraph) / total)
        pars.append(f'<par id="s{number}-par{i}"><text src="scene-{number}.xhtml#s{number}-p{i}"/>'
                    f'<audio src="{audio}" clipBegin="{_clock(start)}" clipEnd="{_clock(end)}"/></par>')
        start = end
    body = "\n".join(pars)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<smil xmlns="http://www.w3.org/ns/SMIL" xmlns:epub="http://www.idpf.org/2007/ops" version="3.0">\n'
            f'<body><seq id="s{number}-seq" epub:textref="scene-{number}.xhtml#scene-{number}" epub:type="chapter">\n'
            f"{body}\n</seq></body>\n</smil>\n")


class PictureBooks:
    def epub(self, book: Book) -> bytes:
        from ebooklib import epub

        out = epub.EpubBook()
        out.set_identifier(book.identifier)
        out.set_title(book.title)
        out.set_language(book.language)
        out.add_author("Storyloom")
        if book.subtitle:
            out.add_metadata("DC", "description", book.subtitle)
        chapters = []
        total_ms = 0
        for number, page in enumerate(book.pages, start=1):
            picture = None
            if page.picture is not None:
                picture = f"images/scene-{number}.{_EXTENSION.get(page.picture.content_type, 'png')}"
                out.add_item(epub.EpubImage(uid=f"picture-{number}", file_name=picture,
                                            media_type=page.picture.content_type, content=page.picture.data))
            chapter = epub.EpubHtml(uid=f"scene-{number}", title=page.title, file_name=f"scene-{number}.xhtml",
                                    lang=book.language)
            chapter.content = _chapter(book, page, number, picture)
            paragraphs = _paragraphs(page.text)
            if page.narration is not None and paragraphs and page.narration.duration_ms > 0:
                audio = f"audio/scene-{number}.m4a"
                out.add_item(epub.EpubItem(uid=f"narration-{number}", file_name=audio,
                                           media_type=page.narration.content_type, content=page.narration.data))
                smil = epub.EpubSMIL(uid=f"overlay-{number}", file_name=f"scene-{number}.smil",
                                     content=_smil(number, audio, paragraphs, page.narration.duration_ms).encode())
                out.add_item(smil)
                chapter.media_overlay = f"overlay-{number}"
                out.add_metadata(None, "meta", _clock(page.narration.duration_ms),
                                 {"property": "media:duration", "refines": f"#overlay-{number}"})
                total_ms += page.narration.duration_ms
            out.add_item(chapter)
            chapters.append(chapter)
        if total_ms:
            out.add_metadata(None, "meta", _clock(total_ms), {"property": "media:duration"})
            out.add_metadata(None, "meta", "-epub-media-overlay-active", {"property": "media:active-class"})
        out.toc = chapters
        out.add_item(epub.EpubNcx())
        out.add_item(epub.EpubNav())
        out.spine = ["nav", *chapters]
        buffer = io.BytesIO()
        epub.write_epub(buffer, out)
        return buffer.getvalue()

    def pdf(self, book: Book) -> bytes:
        from fpdf import FPDF

        def plain(text: str) -> str:
            return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")

        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.set_title(plain(book.title))
        pdf.set_creator("Storyloom")
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 36)
        pdf.set_y(90)
        pdf.multi_cell(0, 16, plain(book.title), align="C")
        if book.subtitle:
            pdf.ln(8)
            pdf.set_font("Helvetica", "I", 18)
            pdf.multi_cell(0, 9, plain(book.subtitle), align="C")
        width = pdf.w - pdf.l_margin - pdf.r_margin
        for page in book.pages:
            pdf.add_page()
            pdf.set_font("Helvetica", "B", 24)
            pdf.multi_cell(0, 12, plain(page.title), align="C")
            pdf.ln(4)
            if page.picture is not None:
                height = min(width * page.picture.height / page.picture.width, 120)
                image_width = height * page.picture.width / page.picture.height
                pdf.image(io.BytesIO(page.picture.data), x=pdf.l_margin + (width - image_width) / 2,
                          y=pdf.get_y(), w=image_width, h=height)
                pdf.set_y(pdf.get_y() + height + 6)
            pdf.set_font("Helvetica", "", 18)
            for paragraph in _paragraphs(page.text):
                pdf.multi_cell(0, 9, plain(paragraph))
                pdf.ln(3)
        return bytes(pdf.output())

"""Reading uploaded documents to text with their breaks kept (engines/packaging/documents.py)."""

from __future__ import annotations

import io

import pytest

from storyloom.domain.ports.packaging import DOCX, DocumentUnreadable
from storyloom.engines.packaging.documents import DocumentTextReader

READER = DocumentTextReader()


def test_a_docx_keeps_its_headings_and_paragraphs():
    import docx

    document = docx.Document()
    document.add_heading("The Kite", level=1)
    document.add_paragraph("Tom found a kite.")
    document.add_paragraph("It flew away.")
    out = io.BytesIO()
    document.save(out)
    assert READER.read_text(out.getvalue(), DOCX) == "# The Kite\n\nTom found a kite.\n\nIt flew away."


def test_a_pdf_reads_page_by_page_with_paragraph_breaks():
    from fpdf import FPDF

    pdf = FPDF()
    for text in ("Tom found a kite.", "It flew over the pond."):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 6, text)
    text = READER.read_text(bytes(pdf.output()), "application/pdf")
    assert text.split("\n\n") == ["Tom found a kite.", "It flew over the pond."]


def test_markdown_and_text_come_back_as_written_without_a_bom():
    assert READER.read_text("\ufeff# Hi\r\n\r\nThere.".encode(), "text/markdown; charset=utf-8") == "# Hi\n\nThere."


@pytest.mark.parametrize(("data", "content_type"), [
    (b"%PDF-1.4 broken", "application/pdf"),
    (b"not a zip", DOCX),
    (b"\xff\xfe\xfd", "text/plain"),
    (b"a\x00b", "text/plain"),
    (b"   \n\n ", "text/markdown"),
    (b"GIF89a", "image/gif"),
])
def test_what_does_not_parse_is_unreadable(data, content_type):
    with pytest.raises(DocumentUnreadable):
        READER.read_text(data, content_type)

"""Checking picture books with the real tools: Debian's epubcheck (EPUB 3) and poppler's pdftoppm (PDF pages)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from PIL import Image

EPUBCHECK_JAR = Path("/usr/share/java/epubcheck.jar")


def epubcheck_command() -> list[str] | None:
    """How to run epubcheck: Debian's jar with java (its /usr/bin/epubcheck is the jar itself, which runs only
    where binfmt_misc knows jars, not in most containers). None without it (`make book-tools` installs it)."""
    if EPUBCHECK_JAR.exists() and shutil.which("java"):
        return ["java", "-jar", str(EPUBCHECK_JAR)]
    return None


def book_tool_missing(tool: str) -> None:
    """A book tool is not installed: a failure where `make book-tools` could install it (apt-get as root), a skip
    that says why where it cannot."""
    import os

    import pytest

    if shutil.which("apt-get") and os.geteuid() == 0:
        pytest.fail(f"{tool} is missing: run `make book-tools` (it installs Debian's epubcheck and poppler-utils)")
    pytest.skip(f"{tool} is missing and apt-get as root is not available to install it (`make book-tools`)")


def pdf_page_count(data: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


def render_pdf_pages(data: bytes, directory: Path, dpi: int = 30) -> list[Image.Image] | None:
    """The PDF's pages rendered by pdftoppm, in order; None without pdftoppm (`make book-tools`)."""
    if shutil.which("pdftoppm") is None:
        return None
    source = directory / "book.pdf"
    source.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(source), str(directory / "page")], check=True,
                   timeout=120)
    pages = sorted(directory.glob("page-*.png"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
    return [Image.open(p).convert("RGB") for p in pages]

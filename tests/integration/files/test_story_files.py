"""A story's files on the real server through the Python client: the bundle an offline app downloads (verified
against its manifest), the illustrator from PDF, DOCX and Markdown uploads, and the picture-book exports."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile

import pytest

from storyloom_client import ChecksumMismatch, Status, StoryloomClient, StoryloomError, v1, verify_bundle
from tests.support.books import book_tool_missing, epubcheck_command, pdf_page_count, render_pdf_pages

STORY_TEXT = """# The Lantern

Pia the hedgehog found a small lantern under the old oak tree. It glowed a soft green whenever she sang.

She carried it home through the long grass, humming all the way, and the fireflies followed her in a line.

# The River

At the river the bridge was gone. Pia sang her loudest song and the lantern shone so bright that the
beavers woke up and came to see.

The beavers laughed and built a new bridge of sticks before the moon was high.

# Home

Back at home Pia hung the lantern by her bed. Every night it glowed a little, and every night she sang to it.

Her friends came to listen, and the whole hedge felt warm and safe until morning.
"""


@pytest.fixture
async def client(storyloom_server, caller):
    async with StoryloomClient(storyloom_server.address, caller.key) as connected:
        yield connected


async def _finished_story(client: StoryloomClient, task: v1.Task) -> v1.Story:
    event = await client.wait_task(task.name)
    assert event.state is v1.TaskState.SUCCEEDED, event
    return await client.stories.get_story(v1.GetStoryRequest(name=task.target))


async def test_a_narrated_story_bundles_with_verified_renditions_and_exports_as_epub_and_pdf(client, tmp_path):
    task = await client.create_story(text=STORY_TEXT, scene_count=3)
    story = await _finished_story(client, task)
    assert len(story.scenes) == 3

    bundle = await client.download_bundle(story.name, tmp_path / "story.zip")

    manifest = bundle.manifest
    assert manifest["story"]["name"] == story.name and manifest["story"]["title"] == story.title
    assert [s["index"] for s in manifest["scenes"]] == [0, 1, 2]
    assert [s["text"] for s in manifest["scenes"]] == [s.text for s in story.scenes]
    by_path = {f.path: f for f in bundle.files}
    for scene, stored in zip(manifest["scenes"], story.scenes, strict=True):
        assert set(scene["picture"]) == {"full", "medium", "thumbnail"}
        assert by_path[scene["picture"]["full"]].sha256 == stored.picture.sha256
        sides = {p: max(f["width"], f["height"]) for f in manifest["files"] for p in ("medium", "thumbnail")
                 if f["path"] == scene["picture"][p]}
        assert sides == {"medium": 512, "thumbnail": 256}
        assert set(scene["narration"]) == {"full", "preview"}
        assert by_path[scene["narration"]["full"]].sha256 == stored.narration.sha256
        preview = next(f for f in manifest["files"] if f["path"] == scene["narration"]["preview"])
        assert preview["content_type"] == "audio/ogg" and 0 < preview["duration_ms"] <= 30_000

    with zipfile.ZipFile(bundle.path) as archive:
        assert archive.namelist()[:2] == ["manifest.json", "story.md"]
        assert archive.read(scene["narration"]["preview"])[:4] == b"OggS"
        markdown = archive.read("story.md").decode()
        links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
        assert len(links) == 3 and all(link in archive.namelist() for link in links)  # relative, inside the bundle

    # The same story gives the same manifest; a tampered file is caught.
    again = await client.download_bundle(story.name, tmp_path / "again.zip")
    assert again.manifest == manifest
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle.path) as source, zipfile.ZipFile(tampered, "w") as copy:
        for info in source.infolist():
            data = source.read(info)
            copy.writestr(info, data[:-1] + bytes([data[-1] ^ 1]) if info.filename == links[0] else data)
    with pytest.raises(ChecksumMismatch):
        verify_bundle(tampered)

    epub = await client.export_story(story.name, v1.ExportFormat.EPUB)
    assert epub.content_type == "application/epub+zip"
    with zipfile.ZipFile(io.BytesIO(epub.data)) as book:
        assert book.namelist()[0] == "mimetype" and book.read("mimetype") == b"application/epub+zip"
        assert sum(name.endswith(".smil") for name in book.namelist()) == 3  # narration as media overlays
    path = tmp_path / "story.epub"
    path.write_bytes(epub.data)
    command = epubcheck_command()
    if command is not None:
        checked = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=300)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "0 errors / 0 warnings" in checked.stdout

    pdf = await client.export_story(story.name, v1.ExportFormat.PDF)
    assert pdf.content_type == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert pdf_page_count(pdf.data) == 4  # a title page and one page per scene
    pages = render_pdf_pages(pdf.data, tmp_path)
    if pages is not None:
        assert len(pages) == 4
        assert all(p.size[0] < p.size[1] for p in pages)  # portrait
        assert len(pages[1].getcolors(1 << 20) or ()) > 50  # the scene's picture is on its page, not a blank
    if command is None or pages is None:  # everything else passed: say what was not checked
        book_tool_missing("epubcheck" if command is None else "pdftoppm")


def _pdf_document(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for section in text.split("\n# "):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        for paragraph in section.strip().lstrip("# ").split("\n\n"):
            pdf.multi_cell(0, 6, " ".join(paragraph.split()))
            pdf.ln(4)
    return bytes(pdf.output())


def _docx_document(text: str) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in text.strip().split("\n\n"):
        if paragraph.startswith("# "):
            document.add_heading(paragraph[2:], level=1)
        else:
            document.add_paragraph(" ".join(paragraph.split()))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".md"])
async def test_an_uploaded_document_is_illustrated_into_a_bundle_whose_checksums_match(client, tmp_path, suffix):
    source = tmp_path / f"lantern{suffix}"
    make = {".pdf": _pdf_document, ".docx": _docx_document, ".md": lambda text: text.encode()}[suffix]
    source.write_bytes(make(STORY_TEXT))

    task = await client.illustrate_file(source, illustration_style="watercolor", max_scenes=3)
    story = await _finished_story(client, task)

    assert len(story.scenes) == 3 and story.requirements.illustration_style == "watercolor"
    words = " ".join(s.text for s in story.scenes).split()
    assert "Pia" in words and "beavers" in words and "hedge" in words
    assert all(s.picture.sha256 and s.narration is None for s in story.scenes)  # narration only on request
    bundle = await client.download_bundle(story.name, tmp_path / "lantern.zip")  # verified, or it raises
    assert len([f for f in bundle.files if f.purpose == "full"]) == 3
    assert json.loads(zipfile.ZipFile(bundle.path).read("manifest.json"))["files"][0]["path"] == "story.md"


@pytest.mark.parametrize(("data", "content_type", "reason"), [
    (b"%PDF-1.7\nnot really a pdf", "application/pdf", "DOCUMENT_UNREADABLE"),
    (b"PK\x03\x04 not a docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "DOCUMENT_UNREADABLE"),
    (b"\xff\xfe\x00bad", "text/plain", "DOCUMENT_UNREADABLE"),
    (("word " * 25_000).encode(), "text/markdown", "DOCUMENT_TOO_LARGE"),
])
async def test_a_document_that_does_not_parse_or_is_too_large_is_refused_naming_the_field(
        client, data, content_type, reason):
    document = await client.upload_media(data, content_type)
    with pytest.raises(StoryloomError) as refused:
        await client.stories.illustrate_text(v1.IllustrateTextRequest(parent="users/me", document=document.name))
    assert refused.value.code is Status.INVALID_ARGUMENT and refused.value.reason == reason
    assert [v.field for v in refused.value.field_violations] == ["document"]

"""The illustrator's, bundles' and books' rules (domain/illustrations.py, bundles.py, books.py) on in-memory fakes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest

from storyloom.domain.books import _book_text
from storyloom.domain.bundles import Bundles
from storyloom.domain.errors import FailedPrecondition, InvalidArgument
from storyloom.domain.illustrations import MAX_DOCUMENT_BYTES, Illustrations
from storyloom.domain.media import MediaItem
from storyloom.domain.ports.packaging import DocumentUnreadable
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.stories import Scene, Story, StoryOptions
from storyloom.engines.packaging.zipstream import ZipArchiver

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _story(state: str = "READY") -> Story:
    return Story(id="s1", user_id="u1", state=state, requirements=StoryRequirements(), options=StoryOptions(),
                 create_time=NOW, update_time=NOW, title="The Kite",
                 scenes=(Scene(0, "The Kite", "# The Kite\n\nTom found a kite.", "bright", "a kite"),))


class FakeStories:
    def __init__(self, story: Story | None = None) -> None:
        self.story = story or _story()
        self.created: dict[str, Any] = {}

    async def get(self, user_id: str, story_id: str) -> Story:
        return self.story

    async def media(self, user_id: str, story: Story) -> dict[str, MediaItem]:
        return {}

    async def create(self, user_id: str, **kwargs: Any) -> str:
        self.created = kwargs
        return "task"


class FakeMedia:
    def __init__(self, content_type: str = "application/pdf", size: int = 100) -> None:
        self.item = MediaItem(id="d1", user_id="u1", sha256="0" * 64, content_type=content_type, size_bytes=size,
                              create_time=NOW)
        self.reads = 0

    async def get(self, user_id: str, media_id: str) -> MediaItem:
        return self.item

    async def read_all(self, item: MediaItem) -> bytes:
        self.reads += 1
        return b"%PDF-"


class FakeReader:
    def __init__(self, text: str = "Tom found a kite.", error: bool = False) -> None:
        self.text, self.error = text, error

    def read_text(self, data: bytes, content_type: str) -> str:
        if self.error:
            raise DocumentUnreadable("the bytes are not a readable PDF")
        return self.text


def _illustrations(media: FakeMedia | None = None, reader: FakeReader | None = None,
                   stories: FakeStories | None = None) -> Illustrations:
    return Illustrations(stories or FakeStories(), media or FakeMedia(), reader or FakeReader())  # type: ignore[arg-type]


@pytest.mark.parametrize(("media", "reader", "reason", "reads"), [
    (FakeMedia("image/png"), FakeReader(), "DOCUMENT_TYPE_UNSUPPORTED", 0),
    (FakeMedia(size=MAX_DOCUMENT_BYTES + 1), FakeReader(), "DOCUMENT_TOO_LARGE", 0),  # refused before it is read
    (FakeMedia(), FakeReader(error=True), "DOCUMENT_UNREADABLE", 1),
    (FakeMedia(), FakeReader("x" * 100_001), "DOCUMENT_TOO_LARGE", 1),
])
async def test_a_document_that_cannot_be_illustrated_is_refused_on_the_document_field(media, reader, reason, reads):
    with pytest.raises(InvalidArgument) as refused:
        await _illustrations(media, reader).illustrate("u1", document_id="d1")
    assert refused.value.reason == reason and [v.field for v in refused.value.violations] == ["document"]
    assert media.reads == reads


async def test_a_document_becomes_a_story_from_its_text_in_the_style_asked_for():
    stories = FakeStories()
    await _illustrations(stories=stories).illustrate("u1", document_id="d1", style=" crayon ", request_id="r")
    assert stories.created["text"] == "Tom found a kite."
    assert stories.created["requirements"] == StoryRequirements(illustration_style="crayon")
    assert stories.created["options"] == StoryOptions(scene_count=12, skip_narration=True)
    await _illustrations(stories=stories).illustrate("u1", text="A text.", narrate=True, max_scenes=2)
    assert stories.created["options"] == StoryOptions(scene_count=2, skip_narration=False)
    assert stories.created["requirements"] is None


@pytest.mark.parametrize(("fields", "field"), [({"max_scenes": 13}, "max_scenes"), ({"style": "x" * 101},
                                               "illustration_style"), ({"text": "  "}, "text")])
async def test_bad_illustrate_requests_name_their_field(fields, field):
    with pytest.raises(InvalidArgument) as refused:
        await _illustrations().illustrate("u1", **{"text": "A text.", **fields})
    assert [v.field for v in refused.value.violations] == [field]


async def test_a_story_being_written_has_no_bundle_yet():
    bundles = Bundles(FakeStories(_story("GENERATING")), FakeMedia(), ZipArchiver())  # type: ignore[arg-type]
    with pytest.raises(FailedPrecondition) as refused:
        await bundles.open("u1", "s1")
    assert refused.value.reason == "STORY_NOT_READY"


async def test_a_bundle_etag_is_the_sha256_of_its_manifest_and_lists_the_markdown():
    bundles = Bundles(FakeStories(), FakeMedia(), ZipArchiver())  # type: ignore[arg-type]
    etag, manifest, files, markdown = await bundles.describe("u1", "s1")
    encoded = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
    assert etag == hashlib.sha256(encoded).hexdigest() and files == []
    assert manifest["files"] == [{"path": "story.md", "purpose": "markdown",
                                  "content_type": "text/markdown; charset=utf-8", "size_bytes": len(markdown),
                                  "sha256": hashlib.sha256(markdown).hexdigest()}]
    assert manifest["scenes"] == [{"index": 0, "title": "The Kite", "text": "# The Kite\n\nTom found a kite.",
                                   "mood": "bright"}]
    assert (await bundles.describe("u1", "s1"))[0] == etag


def test_a_book_page_leaves_out_the_heading_its_title_shows():
    text = "# The Kite\n\nTom found a kite.\n\n# Later\n\nIt flew."
    assert _book_text(text) == "Tom found a kite.\n\nLater\n\nIt flew."

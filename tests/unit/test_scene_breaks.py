"""Where a text written elsewhere is cut into scenes: at its headings when one is near (engines/text/story_common)."""

from __future__ import annotations

from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.scenes import split


def _paragraph(word: str) -> str:
    return " ".join([word] * 38) + " end."


def test_scenes_begin_at_the_chapter_headings_even_when_chapters_differ_in_length():
    text = "\n\n".join(["# One", _paragraph("alpha"), _paragraph("alpha"), _paragraph("alpha"),
                        "# Two", _paragraph("beta"), "# Three", _paragraph("gamma"), _paragraph("gamma")])
    scenes = split(StoryRequirements(), text, 3)
    assert [s.title for s in scenes] == ["One", "Two", "Three"]
    assert [set(s.text.split()) - {"#", "One", "Two", "Three", "end."} for s in scenes] == [
        {"alpha"}, {"beta"}, {"gamma"}]


def test_without_headings_scenes_keep_about_the_same_length():
    text = "\n\n".join(_paragraph(w) for w in ("a", "b", "c", "d", "e", "f"))
    assert [len(s.text.split()) for s in split(StoryRequirements(), text, 3)] == [78, 78, 78]

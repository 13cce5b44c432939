"""Moved to `storyloom.domain.ports.story`; these names stay here only until the branches that rewrite the text and
image engines have merged (temporary: remove this module then, importing from the domain instead)."""

from storyloom.domain.ports.story import (
    Illustrator,
    Narration,
    Narrator,
    OutlineScene,
    Picture,
    Premise,
    SceneText,
    StoryWriter,
)

__all__ = ["Illustrator", "Narration", "Narrator", "OutlineScene", "Picture", "Premise", "SceneText", "StoryWriter"]

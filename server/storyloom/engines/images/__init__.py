"""Illustrators: a procedural Pillow painter by default, Gemini image generation in production."""

from storyloom.engines.images.pictures import fit_png, thumbnail
from storyloom.engines.images.procedural import ProceduralIllustrator, render_scene
from storyloom.engines.images.scene_plan import plan_scene

__all__ = ["ProceduralIllustrator", "fit_png", "plan_scene", "render_scene", "thumbnail"]

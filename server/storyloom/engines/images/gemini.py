"""The production illustrator: Gemini image generation through google-genai.

One `generate_content` call per picture on an image model (`gemini-3.1-flash-image` by default) with
`response_modalities=["IMAGE"]`, the aspect ratio closest to the requested size, child-safe safety settings and a
prompt built from the scene's illustration prompt and mood, the characters it shows and the requirements'
illustration style and audience. The first inline image of the reply is decoded, scaled and centre-cropped to exactly
the requested size and returned as PNG.

Calls go through a `GeminiConnection` (engines/gemini_client.py), like the text engine's: the same API version
check, retry policy (backoff with jitter, a 429's RetryInfo delay honoured) and error classification, with longer
deadlines. A reply without an image is EngineUnavailable with reason IMAGE_MISSING (not retried: the model chose to
answer in words, usually a refusal); an image Pillow cannot read is IMAGE_INVALID.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Mapping
from typing import Any

from google.genai import types

from storyloom.domain.ports.story import Picture, SceneText
from storyloom.domain.ports.text import EngineUnavailable
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.gemini_client import (
    SAFETY_SETTINGS,
    GeminiConnection,
    GeminiTimeouts,
    api_version_from_env,
    finish_reason,
)
from storyloom.engines.gemini_versions import check_request
from storyloom.engines.images.pictures import check_size, fit_png
from storyloom.engines.images.scene_plan import characters_in

# Google's current image model (generally available since May 2026; gemini-2.5-flash-image is being retired).
DEFAULT_IMAGE_MODEL = "gemini-3.1-flash-image"
MODEL_SETTING = "STORYLOOM_GEMINI_IMAGE_MODEL"
# Generating a picture takes seconds to tens of seconds; an attempt may take a minute, the whole call 2.5 minutes.
IMAGE_TIMEOUTS = GeminiTimeouts(first_chunk=60.0, idle=60.0, total=150.0)
# The aspect ratios the image models accept.
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
DEFAULT_STYLE = "a warm, friendly children's picture-book illustration with soft colours and gentle light"
AUDIENCES = {"PRESCHOOL": "children aged 3 to 5", "EARLY_READERS": "children aged 5 to 8",
             "MIDDLE_GRADE": "children aged 8 to 12", "TEENS": "teenagers", "ADULTS": "a family audience"}


def closest_aspect_ratio(width: int, height: int) -> str:
    """The supported aspect ratio nearest to width:height (compared on a log scale, so 2:1 is as far as 1:2)."""
    wanted = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - wanted)

    return min(ASPECT_RATIOS, key=distance)


def image_prompt(scene: SceneText, requirements: StoryRequirements) -> str:
    """The text sent to the image model for one scene."""
    subject = scene.illustration_prompt.strip() or scene.title.strip() or scene.text.strip()[:300]
    lines = ["Illustrate one scene of a children's picture book.", f"Scene: {subject}"]
    if scene.mood.strip():
        lines.append(f"Mood: {scene.mood.strip()}")
    if requirements.setting.strip():
        lines.append(f"The story takes place in: {requirements.setting.strip()}")
    characters = characters_in(scene, requirements)
    if characters:
        lines.append("Characters in this picture (draw them the same way in every picture of the story): " + "; ".join(
            f"{c.name}: {c.description}" if c.description else c.name for c in characters))
    lines.append(f"Style: {requirements.illustration_style.strip() or DEFAULT_STYLE}")
    audience = AUDIENCES.get(requirements.audience_age_group, "young children")
    lines.append(f"The picture is for {audience}: friendly, gentle and safe, with nothing frightening, violent or "
                 "upsetting; kind faces; no real people or brands.")
    lines.append("Do not put any text, letters, captions, signs or speech bubbles in the picture.")
    return "\n".join(lines)


def request_config(aspect_ratio: str) -> types.GenerateContentConfig:
    """One picture, in the aspect ratio asked for, under the child-safe safety settings."""
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=aspect_ratio),
        safety_settings=list(SAFETY_SETTINGS),
        candidate_count=1,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        automatic_continuation=False,
    )


def check_api_version(api_version: str) -> None:
    """Raises UnsupportedByApiVersion if `api_version` lacks a field of the picture request (responseModalities and
    imageConfig are v1beta's)."""
    check_request(api_version, [types.Content(role="user", parts=[types.Part(text="-")])], request_config("1:1"),
                  purpose="illustrator's picture")


class GeminiIllustrator:
    """An Illustrator on Gemini image generation. It owns its connection and closes it."""

    name = "gemini"

    def __init__(self, connection: GeminiConnection, *, model: str = DEFAULT_IMAGE_MODEL,
                 timeouts: GeminiTimeouts = IMAGE_TIMEOUTS):
        check_api_version(connection.api_version)
        self._connection = connection
        self.model = model
        self.timeouts = timeouts

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **options: Any) -> GeminiIllustrator:
        """From GEMINI_API_KEY, STORYLOOM_GEMINI_IMAGE_MODEL, STORYLOOM_GEMINI_BASE_URL and
        STORYLOOM_GEMINI_API_VERSION."""
        check_api_version(api_version_from_env(environ))  # before the connection exists, so nothing is left open
        return cls(GeminiConnection.from_env(environ),
                   model=environ.get(MODEL_SETTING, "").strip() or DEFAULT_IMAGE_MODEL, **options)

    async def check_model(self) -> bool | None:
        """Whether the image model exists (None: it could not be asked); a warning names the models that do when it
        does not."""
        return await self._connection.check_model(self.model, setting=MODEL_SETTING)

    async def aclose(self) -> None:
        await self._connection.aclose()

    async def illustrate(self, scene: SceneText, requirements: StoryRequirements, *, width: int,
                         height: int) -> Picture:
        """A picture for the scene, exactly width x height, as PNG.

        Raises EngineRefused if Gemini blocks the prompt or the picture, EngineRateLimited when the quota stays
        exhausted, EngineUnavailable otherwise (reason IMAGE_MISSING for a reply without a picture, IMAGE_INVALID
        for a picture that cannot be read, ENGINE_TIMEOUT for deadlines).
        """
        check_size(width, height)
        config = request_config(closest_aspect_ratio(width, height))
        contents = [types.Content(role="user", parts=[types.Part(text=image_prompt(scene, requirements))])]
        response = await self._connection.generate(self.model, contents, config, timeouts=self.timeouts,
                                                   purpose="illustration")
        image = _first_image(response)
        if image is None:
            finish = finish_reason(response) or "UNSPECIFIED"
            raise EngineUnavailable(f"Gemini returned no picture (finish reason {finish})", reason="IMAGE_MISSING",
                                    metadata={"model": self.model, "finishReason": finish})
        data, mime_type = image
        try:
            return await asyncio.to_thread(fit_png, data, width, height)
        except ValueError as exc:
            raise EngineUnavailable(f"Gemini returned a picture that cannot be read ({mime_type})",
                                    reason="IMAGE_INVALID", metadata={"model": self.model, "mimeType": mime_type}
                                    ) from exc


def _first_image(response: types.GenerateContentResponse) -> tuple[bytes, str] | None:
    """The bytes and MIME type of the first inline image of the first candidate (thoughts skipped)."""
    candidate = response.candidates[0] if response.candidates else None
    if candidate is None or candidate.content is None:
        return None
    for part in candidate.content.parts or ():
        blob = part.inline_data
        if blob is not None and blob.data and not part.thought and (blob.mime_type or "").startswith("image/"):
            return blob.data, blob.mime_type or ""
    return None

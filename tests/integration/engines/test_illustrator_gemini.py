"""GeminiIllustrator through the real google-genai SDK, against the strict wire-level fake of the Gemini REST API."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from storyloom.domain.ports.story import SceneText
from storyloom.domain.ports.text import EngineRateLimited, EngineRefused, EngineUnavailable
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.gemini_client import GeminiRetryPolicy, GeminiTimeouts
from storyloom.engines.images.gemini import GeminiIllustrator, closest_aspect_ratio, image_prompt
from tests.support.gemini_fake import (
    GeminiFake,
    Hang,
    Reply,
    blocked_prompt,
    image_reply,
    no_image_reply,
    rate_limited,
    unavailable,
)

pytest_plugins = ("tests.support.gemini_fixtures",)

SCENE = SceneText(title="The river is gone", text="Pip and Lily found only stones where the river had been.",
                  mood="mysterious", illustration_prompt="Pip the fox and Lily look at a dry riverbed of grey stones")
REQUIREMENTS = StoryRequirements(
    setting="a forest by a river", illustration_style="soft watercolor", audience_age_group="PRESCHOOL",
    characters=(Character("Pip", "a little orange fox"), Character("Lily", "a girl with a yellow raincoat"),
                Character("Rex", "a purple dragon")))


def encoded(size: tuple[int, int], color: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


async def test_the_request_asks_an_image_model_for_one_picture_of_the_scene(
        gemini: GeminiFake, gemini_illustrator: GeminiIllustrator) -> None:
    gemini.script(image_reply(encoded((1248, 832), (200, 120, 60))))

    await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)

    [request] = gemini.requests
    assert request.rpc == "generateContent" and request.model == "gemini-3.1-flash-image"
    assert request.version == "v1beta"
    assert request.headers["x-goog-api-key"] == "test-key"
    config = request.generation_config
    assert config["responseModalities"] == ["IMAGE"]
    assert config["imageConfig"] == {"aspectRatio": "3:2"}
    assert config["candidateCount"] == 1
    assert {s["threshold"] for s in request.body["safetySettings"]} == {"BLOCK_LOW_AND_ABOVE"}
    [content] = request.body["contents"]
    assert content["role"] == "user"
    prompt = content["parts"][0]["text"]
    assert "Pip the fox and Lily look at a dry riverbed of grey stones" in prompt
    assert "Mood: mysterious" in prompt
    assert "Style: soft watercolor" in prompt
    assert "Pip: a little orange fox" in prompt and "Lily: a girl with a yellow raincoat" in prompt
    assert "Rex" not in prompt  # not in this scene
    assert "children aged 3 to 5" in prompt
    assert "Do not put any text" in prompt


async def test_the_picture_comes_back_as_png_at_the_requested_size(gemini: GeminiFake,
                                                                   gemini_illustrator: GeminiIllustrator) -> None:
    # The model answers a 3:2 request with a JPEG of its own size, after a text part.
    gemini.script(image_reply(encoded((1248, 832), (40, 160, 90), "JPEG"), mime_type="image/jpeg",
                              text="Here is your picture."))

    picture = await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)

    assert picture.png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(picture.png))
    image.load()
    assert image.format == "PNG" and image.size == (768, 512) == (picture.width, picture.height)
    r, g, b = image.convert("RGB").getpixel((384, 256))
    assert abs(r - 40) < 8 and abs(g - 160) < 8 and abs(b - 90) < 8


async def test_a_picture_of_another_shape_is_cropped_not_stretched(gemini: GeminiFake,
                                                                   gemini_illustrator: GeminiIllustrator) -> None:
    square = Image.new("RGB", (1024, 1024), (250, 250, 250))
    square.paste((220, 30, 30), (0, 0, 1024, 200))  # a red band at the top, cropped away for a wide picture
    buffer = io.BytesIO()
    square.save(buffer, "PNG")
    gemini.script(image_reply(buffer.getvalue()))

    picture = await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=640, height=360)

    image = Image.open(io.BytesIO(picture.png)).convert("RGB")
    assert image.size == (640, 360)
    assert image.getpixel((320, 5))[1] > 200  # the top edge is white: the red band was cropped off
    assert gemini.requests[0].generation_config["imageConfig"] == {"aspectRatio": "16:9"}


async def test_a_rate_limit_is_retried_after_the_delay_the_server_asks(gemini: GeminiFake,
                                                                       gemini_illustrator: GeminiIllustrator) -> None:
    gemini.script(rate_limited(retry_delay="0.2s"), image_reply(encoded((1024, 1024), (10, 20, 200))))

    picture = await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=512, height=512)

    assert (picture.width, picture.height) == (512, 512)
    assert len(gemini.requests) == 2
    assert gemini.requests[1].received_at - gemini.requests[0].received_at >= 0.2
    assert gemini.requests[1].body == gemini.requests[0].body


async def test_a_reply_without_a_picture_is_image_missing(gemini: GeminiFake,
                                                          gemini_illustrator: GeminiIllustrator) -> None:
    gemini.script(no_image_reply("I can only describe this scene in words."))

    with pytest.raises(EngineUnavailable) as raised:
        await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)

    assert raised.value.reason == "IMAGE_MISSING"
    assert raised.value.metadata == {"model": "gemini-3.1-flash-image", "finishReason": "STOP"}
    assert len(gemini.requests) == 1  # not retried


async def test_an_unreadable_picture_is_image_invalid(gemini: GeminiFake,
                                                      gemini_illustrator: GeminiIllustrator) -> None:
    gemini.script(image_reply(b"\x89PNG but not really", mime_type="image/png"))

    with pytest.raises(EngineUnavailable) as raised:
        await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)

    assert raised.value.reason == "IMAGE_INVALID"


async def test_a_picture_stopped_for_safety_is_refused(gemini: GeminiFake,
                                                       gemini_illustrator: GeminiIllustrator) -> None:
    # A picture stopped for safety, then a prompt blocked outright (the blocked event, as a unary reply).
    gemini.script(no_image_reply(None, finish_reason="IMAGE_SAFETY"), Reply(blocked_prompt().chunks[0]))

    with pytest.raises(EngineRefused) as stopped:
        await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)
    assert stopped.value.metadata["finishReason"] == "IMAGE_SAFETY"

    with pytest.raises(EngineRefused) as blocked:
        await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)
    assert blocked.value.reason == "CONTENT_BLOCKED"


async def test_lasting_failures_end_with_the_right_error(gemini: GeminiFake,
                                                         gemini_illustrator: GeminiIllustrator) -> None:
    gemini.script(unavailable(), unavailable(), unavailable())
    with pytest.raises(EngineUnavailable) as down:
        await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)
    assert down.value.reason == "ENGINE_UNAVAILABLE" and len(gemini.requests) == 3

    gemini.script(rate_limited(retry_delay="30s"))  # longer than the policy's max backoff: given up at once
    with pytest.raises(EngineRateLimited) as limited:
        await gemini_illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)
    assert limited.value.retry_after_seconds == 30 and len(gemini.requests) == 4


async def test_a_hung_request_times_out(gemini: GeminiFake,
                                        make_gemini_illustrator: Callable[..., GeminiIllustrator]) -> None:
    illustrator = make_gemini_illustrator(timeouts=GeminiTimeouts(first_chunk=0.3, idle=0.3, total=0.5),
                                          retry=GeminiRetryPolicy(attempts=1))
    gemini.script(Hang())

    with pytest.raises(EngineUnavailable) as raised:
        await illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)

    assert raised.value.reason == "ENGINE_TIMEOUT"


async def test_from_env_reads_the_key_and_model() -> None:
    illustrator = GeminiIllustrator.from_env({"GEMINI_API_KEY": "k", "STORYLOOM_GEMINI_IMAGE_MODEL": "other-image"})
    assert illustrator.model == "other-image"
    await illustrator.aclose()
    with pytest.raises(ValueError):
        GeminiIllustrator.from_env({})


def test_aspect_ratios_and_prompts() -> None:
    assert closest_aspect_ratio(768, 512) == "3:2"
    assert closest_aspect_ratio(512, 512) == "1:1"
    assert closest_aspect_ratio(1080, 1920) == "9:16"
    assert closest_aspect_ratio(3000, 1000) == "21:9"
    bare = image_prompt(SceneText("The end", "They went home.", "", ""), StoryRequirements())
    assert "Scene: The end" in bare and "picture-book illustration" in bare and "young children" in bare

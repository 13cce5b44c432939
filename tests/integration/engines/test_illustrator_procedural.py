"""ProceduralIllustrator: real Pillow pictures, checked as PNG files and by their colours."""

from __future__ import annotations

import asyncio
import colorsys
import io
import statistics

import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat

from storyloom.domain.ports.story import Picture, SceneText
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.images import ProceduralIllustrator, plan_scene, thumbnail
from storyloom.engines.images.figures import figure_for

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FRIENDS = StoryRequirements(characters=(Character("Pip", "a little orange fox"), Character("Lily", "a girl"),
                                        Character("Rex", "a purple dragon")))


def scene(prompt: str, *, mood: str = "", text: str = "", title: str = "A scene") -> SceneText:
    return SceneText(title=title, text=text or prompt, mood=mood, illustration_prompt=prompt)


def opened(picture: Picture) -> Image.Image:
    assert picture.png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(picture.png))
    assert image.format == "PNG"
    image.load()  # decodes every pixel: a truncated or corrupt file fails here
    assert image.size == (picture.width, picture.height)
    return image.convert("RGB")


def dominant(image: Image.Image) -> tuple[int, int, int]:
    """The most common colour after reducing the picture to 8 colours."""
    quantized = image.quantize(8)
    count, index = max(quantized.getcolors())
    palette = quantized.getpalette()
    return tuple(palette[index * 3:index * 3 + 3])  # type: ignore[return-value]


NO_REQUIREMENTS = StoryRequirements()


def paint(prompt: str, requirements: StoryRequirements = NO_REQUIREMENTS, *, mood: str = "",
          width: int = 384, height: int = 256) -> Image.Image:
    picture = ProceduralIllustrator().illustrate_now(scene(prompt, mood=mood), requirements, width=width,
                                                      height=height)
    return opened(picture)


async def test_a_scene_becomes_a_valid_png_of_the_requested_size() -> None:
    illustrator = ProceduralIllustrator()

    picture = await illustrator.illustrate(scene("Pip and Lily walk through the forest", mood="joyful"), FRIENDS,
                                           width=768, height=512)

    image = opened(picture)
    assert (picture.width, picture.height) == (768, 512)
    assert image.mode == "RGB"
    assert len(image.getcolors(768 * 512)) > 500  # a painting, not a flat fill
    await illustrator.aclose()


@pytest.mark.parametrize("size", [(1, 1), (33, 17), (256, 256), (300, 900), (1024, 576)])
def test_any_size_is_painted_exactly(size: tuple[int, int]) -> None:
    image = paint("a castle with a dragon", FRIENDS, width=size[0], height=size[1])

    assert image.size == size


@pytest.mark.parametrize("size", [(0, 10), (10, -1), (5000, 10)])
async def test_impossible_sizes_are_refused(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        await ProceduralIllustrator().illustrate(scene("a meadow"), FRIENDS, width=size[0], height=size[1])


def test_the_same_scene_always_gives_the_same_picture() -> None:
    first = ProceduralIllustrator().illustrate_now(scene("Rex at the castle", mood="cozy"), FRIENDS, width=320,
                                                   height=200)
    second = ProceduralIllustrator().illustrate_now(scene("Rex at the castle", mood="cozy"), FRIENDS, width=320,
                                                    height=200)
    other = ProceduralIllustrator().illustrate_now(scene("Rex at the castle", mood="cozy", text="Rex waved."),
                                                   FRIENDS, width=320, height=200)

    assert first.png == second.png
    assert other.png != first.png  # another scene text, another arrangement


def test_settings_have_their_own_dominant_colours() -> None:
    forest = dominant(paint("a deep green forest with tall trees"))
    ocean = dominant(paint("the open ocean seen from a sandy beach"))
    underwater = dominant(paint("under the sea among coral and fish"))
    space = dominant(paint("planets and a comet in outer space"))

    assert forest[1] > forest[0] and forest[1] > forest[2]  # green
    assert ocean[2] > ocean[0] and ocean[2] > ocean[1] - 20  # blue
    assert underwater[2] > underwater[0] + 60  # deep blue
    assert sum(space) < 250  # the dark of space
    assert len({forest, ocean, underwater, space}) == 4


def test_the_setting_is_found_in_the_prompt_then_the_story_setting_then_the_text() -> None:
    assert plan_scene(scene("two friends on a sandy dune"), StoryRequirements()).setting == "desert"
    assert plan_scene(scene("two friends talking"), StoryRequirements(setting="a snowy village in winter")
                      ).setting == "snow"
    assert plan_scene(scene("two friends talking", text="They sailed the ship across the ocean."),
                      StoryRequirements()).setting == "ocean"
    assert plan_scene(scene("two friends talking"), StoryRequirements()).setting == "meadow"  # the default
    assert plan_scene(scene("a rocket flies past a planet"), StoryRequirements()).time_of_day == "night"
    assert plan_scene(scene("the castle at sunset"), StoryRequirements()).time_of_day == "sunset"
    assert plan_scene(scene("the town under the moon"), StoryRequirements()).time_of_day == "night"


def test_moods_change_the_light() -> None:
    def stats(mood: str) -> tuple[float, float]:
        image = paint("a meadow with flowers", mood=mood)
        brightness = ImageStat.Stat(image.convert("L")).mean[0]
        saturation = statistics.mean(colorsys.rgb_to_hsv(*(v / 255 for v in pixel))[1]
                                     for pixel in image.resize((48, 32)).get_flattened_data())
        return brightness, saturation

    joyful, mysterious, calm, tense = stats("joyful"), stats("mysterious"), stats("calm"), stats("tense")
    assert mysterious[0] < joyful[0] - 15  # dim
    assert mysterious[1] < joyful[1]
    assert calm[1] < joyful[1] - 0.1  # pastel
    assert tense[0] < joyful[0]
    assert plan_scene(scene("a meadow"), StoryRequirements(tone="MYSTERIOUS")).mood == "mysterious"  # from the tone


def test_illustration_styles_filter_the_picture() -> None:
    def edges(image: Image.Image) -> float:
        return ImageStat.Stat(image.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0]

    plain = paint("Pip in the forest", FRIENDS, width=480, height=320)
    watercolor = paint("Pip in the forest", StoryRequirements(characters=FRIENDS.characters,
                                                              illustration_style="soft watercolor"),
                       width=480, height=320)
    pixel = paint("Pip in the forest", StoryRequirements(characters=FRIENDS.characters, illustration_style="pixel art"),
                  width=480, height=320)
    cutout = paint("Pip in the forest", StoryRequirements(characters=FRIENDS.characters,
                                                          illustration_style="paper cut-out"),
                   width=480, height=320)

    def flat_sky_grain(image: Image.Image) -> float:
        """Fine texture: how far each pixel is from the median of its neighbours (paper grain, not shapes)."""
        gray = image.convert("L")
        return ImageStat.Stat(ImageChops.difference(gray, gray.filter(ImageFilter.MedianFilter(3)))).mean[0]

    # Watercolour is washes on paper, not a blur: the paper's grain shows even in a flat sky, pigment pools at the
    # edges of each wash, and the colours are thinned (lighter, less saturated).
    assert flat_sky_grain(watercolor) > flat_sky_grain(plain) * 2
    assert ImageStat.Stat(watercolor.convert("HSV")).mean[1] < ImageStat.Stat(plain.convert("HSV")).mean[1]
    crayon = paint("Pip in the forest", StoryRequirements(characters=FRIENDS.characters,
                                                          illustration_style="crayon drawing"), width=480, height=320)
    assert edges(crayon) > edges(plain) * 1.5  # waxy strokes and outlines
    assert edges(watercolor) != edges(plain)
    pixels = pixel.load()
    same_as_left = sum(pixels[x, y] == pixels[x - 1, y] for x in range(1, 480) for y in range(0, 320, 7))
    assert same_as_left > 0.75 * 479 * len(range(0, 320, 7))  # blocks of one colour
    assert cutout.tobytes() != plain.tobytes()
    assert plan_scene(scene("x"), StoryRequirements(illustration_style="paper cut-out collage")).style == "cutout"


def test_the_named_characters_stand_in_the_foreground() -> None:
    alone = paint("a quiet meadow", StoryRequirements())
    with_pip = paint("Pip in a quiet meadow", StoryRequirements(characters=(Character("Pip", "an orange fox"),)))

    def orange_share(image: Image.Image) -> float:
        pixels = list(image.crop((0, image.height // 2, image.width, image.height)).get_flattened_data())
        return sum(r > 200 and 90 < g < 170 and b < 100 for r, g, b in pixels) / len(pixels)

    assert orange_share(with_pip) > orange_share(alone) + 0.02


def test_figures_follow_the_descriptions_and_stay_the_same_across_scenes() -> None:
    plan = plan_scene(scene("Pip and Rex play by the river", text="Pip laughed. Rex roared softly."), FRIENDS)
    assert [figure.name for figure in plan.figures] == ["Pip", "Rex"]  # Lily is not in this scene
    assert [figure.kind for figure in plan.figures] == ["fox", "dragon"]
    assert plan.figures[1].color == (150, 96, 200)  # "a purple dragon"
    assert figure_for("Lily", "a girl who loves frogs").kind == "child"
    assert figure_for("Bear", "a little girl").kind == "child"  # what it is wins over what it is called
    assert figure_for("Mr Whiskers").kind == "child" and figure_for("Kitty").kind == "cat"
    assert figure_for("Ada", "a brave princess").accessory == "crown"
    assert figure_for("Lily", "a girl") == figure_for("Lily", "a girl")
    # Nobody named: the creatures the prompt mentions.
    loose = plan_scene(scene("an owl and two bunnies under a tree"), StoryRequirements())
    assert [figure.kind for figure in loose.figures] == ["owl", "bunny"]


async def test_concurrent_illustrations_all_complete() -> None:
    illustrator = ProceduralIllustrator(max_concurrency=2)
    prompts = ["a forest", "the ocean", "a castle", "space", "a desert", "a snowy hill"]

    pictures = await asyncio.gather(*(illustrator.illustrate(scene(p), FRIENDS, width=200, height=120)
                                      for p in prompts))

    assert len({picture.png for picture in pictures}) == len(prompts)


def test_a_thumbnail_keeps_the_aspect_ratio() -> None:
    picture = ProceduralIllustrator().illustrate_now(scene("a meadow"), FRIENDS, width=768, height=512)

    small = thumbnail(picture.png)
    assert (small.width, small.height) == (256, 171)
    assert opened(small).size == (256, 171)
    tall = thumbnail(ProceduralIllustrator().illustrate_now(scene("a tower"), FRIENDS, width=300, height=900).png,
                     max_side=90)
    assert (tall.width, tall.height) == (30, 90)
    tiny = thumbnail(ProceduralIllustrator().illustrate_now(scene("a pond"), FRIENDS, width=40, height=30).png)
    assert (tiny.width, tiny.height) == (40, 30)  # never enlarged
    with pytest.raises(ValueError):
        thumbnail(b"not a picture")

"""What both story writers share: the defaults for unknown requirements, and text splitting.

`effective` (domain.requirements.with_defaults) fills every unknown enum-like requirement with its
safe default and caps the content rating at what the audience allows. `split_units` and `group_units` cut a
story written elsewhere into scenes by paragraphs (and sentences, when there are too few paragraphs) without
changing a word: a scene is always an exact slice of the original text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from storyloom.domain.requirements import with_defaults

# The moods a scene can have (the illustrator picks palettes by these).
MOODS = ("cozy", "bright", "curious", "tense", "hopeful", "joyful", "calm", "mysterious")

MIN_SCENES = 1
MAX_SCENES = 12
# A scene cut out of a story written elsewhere has at least about this many words.
MIN_SPLIT_WORDS = 10

# The defaults live with the requirements; `effective` is their name in the writers.
effective = with_defaults


def check_scene_count(scene_count: int) -> None:
    if not MIN_SCENES <= scene_count <= MAX_SCENES:
        raise ValueError(f"scene_count must be {MIN_SCENES} to {MAX_SCENES}, not {scene_count}")


# --- plain text -----------------------------------------------------------------------------------

_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}\s+|[-*+]\s+|>\s?)|\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`+",
                     re.MULTILINE)


def plain_text(text: str) -> str:
    """Markdown marks taken out (headings, emphasis, bullets, code ticks), paragraphs kept, spaces tidied."""
    text = _MARKUP.sub("", text.replace("\r\n", "\n"))
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def words(text: str) -> list[str]:
    return text.split()


# Where a sentence ends: . ! ? or an ellipsis, then maybe closing quotes or brackets, then space before the
# next sentence's first character.
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The (start, end) offsets of the sentences of text[start:end], without surrounding whitespace."""
    end = len(text) if end is None else end
    spans = []
    position = start
    for match in _SENTENCE_END.finditer(text, start, end):
        cut = match.start() + len(match.group().rstrip())
        spans.append((position, cut))
        position = match.end()
    spans.append((position, end))
    return [(a, b) for a, b in (_strip_span(text, a, b) for a, b in spans) if a < b]


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """The paragraphs of `text` as (start, end) offsets: split at blank lines, or at line breaks when the
    text has no blank line at all."""
    separator = re.compile(r"\n[ \t]*\n\s*") if re.search(r"\n[ \t]*\n", text) else re.compile(r"\n\s*")
    spans = []
    position = 0
    for match in separator.finditer(text):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, len(text)))
    return [(a, b) for a, b in (_strip_span(text, a, b) for a, b in spans) if a < b]


def paragraphs(text: str) -> list[str]:
    return [text[a:b] for a, b in paragraph_spans(text)]


# --- splitting a story written elsewhere -------------------------------------------------------------


def split_target(text: str, scene_count: int) -> int:
    """How many scenes a text of this size is cut into: `scene_count`, fewer for a very short text."""
    return max(1, min(scene_count, len(words(text)) // MIN_SPLIT_WORDS))


def split_units(text: str, target: int) -> list[tuple[int, int]]:
    """The pieces a scene boundary may fall between: the paragraphs, and when there are fewer than `target`,
    the longest paragraphs cut at the sentence boundary nearest their middle until there are enough."""
    units = paragraph_spans(text)
    while len(units) < target:
        best = None
        for index, (start, end) in enumerate(units):
            spans = sentence_spans(text, start, end)
            if len(spans) >= 2 and (best is None or end - start > best[2]):
                best = (index, spans, end - start)
        if best is None:
            break
        index, spans, _ = best
        counts = [len(words(text[a:b])) for a, b in spans]
        total, running, cut = sum(counts), 0, 1
        for position in range(1, len(spans)):
            running += counts[position - 1]
            if abs(running - total / 2) < abs(sum(counts[:cut]) - total / 2):
                cut = position
        start, end = units[index]
        units[index:index + 1] = [(start, spans[cut - 1][1]), (spans[cut][0], end)]
    return units


def group_units(text: str, units: Sequence[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """`units` cut into `count` runs of about the same number of words; each run as one (start, end) span.

    A Markdown heading (`# Chapter`) is a natural break: a cut moves to one up to half a run's words away."""
    count = max(1, min(count, len(units)))
    sizes = [len(words(text[a:b])) for a, b in units]
    total = sum(sizes) or 1
    pull = [total / count / 2 if text[a:b].lstrip().startswith("#") else 0.0 for a, b in units]
    prefix = [0]
    for size in sizes:
        prefix.append(prefix[-1] + size)
    starts = [0]
    for part in range(1, count):
        goal = total * part / count
        low = starts[-1] + 1
        high = len(units) - (count - part)
        best = min(range(low, high + 1), key=lambda i: (abs(prefix[i] - goal) - pull[i], i))
        starts.append(best)
    starts.append(len(units))
    return [(units[starts[i]][0], units[starts[i + 1] - 1][1]) for i in range(count)]


def split_spans(text: str, scene_count: int) -> list[tuple[int, int]]:
    """Where the offline writer cuts `text` into at most `scene_count` scenes."""
    target = split_target(text, scene_count)
    return group_units(text, split_units(text, target), target)

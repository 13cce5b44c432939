"""What a story should be: gathered by a conversation, or filled in by a caller.

Enum-like fields hold the proto enum's value name without its prefix ("WHIMSICAL", "PG_13");
an empty string or list means "unknown", which the story pipeline fills with safe defaults.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from storyloom.domain.errors import FieldViolation, InvalidArgument

TONES = ("WHIMSICAL", "FUNNY", "ADVENTUROUS", "CALM", "HEARTWARMING", "MYSTERIOUS", "SUSPENSEFUL", "EDUCATIONAL",
         "SERIOUS")
LENGTHS = ("SHORT", "MEDIUM", "LONG")
PERSONAS = ("CHILDRENS_BOOK_AUTHOR", "FAIRY_TALE_TELLER", "BEDTIME_STORYTELLER", "FANTASY_AUTHOR",
            "SCIENCE_FICTION_AUTHOR", "MYSTERY_WRITER", "ADVENTURE_WRITER", "HUMORIST", "POET",
            "HISTORICAL_FICTION_AUTHOR", "EDUCATOR")
WRITING_STYLES = ("SIMPLE", "CASUAL", "FORMAL", "DESCRIPTIVE", "POETIC", "HUMOROUS")
POINTS_OF_VIEW = ("FIRST_PERSON", "SECOND_PERSON", "THIRD_PERSON_LIMITED", "THIRD_PERSON_OMNISCIENT")
AGE_GROUPS = ("PRESCHOOL", "EARLY_READERS", "MIDDLE_GRADE", "TEENS", "ADULTS")
CONTENT_RATINGS = ("G", "PG", "PG_13")
ENDINGS = ("HAPPY", "BITTERSWEET", "OPEN", "TWIST", "MORAL")

# The enum-like StoryRequirements fields and the values each allows.
ENUM_VALUES: Mapping[str, tuple[str, ...]] = {
    "tone": TONES, "length": LENGTHS, "persona": PERSONAS, "writing_style": WRITING_STYLES,
    "narrative_point_of_view": POINTS_OF_VIEW, "audience_age_group": AGE_GROUPS,
    "content_rating": CONTENT_RATINGS, "ending_preference": ENDINGS,
}

# The highest rating each audience allows (ratings are ordered as in CONTENT_RATINGS).
MAX_RATING = {"PRESCHOOL": "G", "EARLY_READERS": "PG", "MIDDLE_GRADE": "PG", "TEENS": "PG_13", "ADULTS": "PG_13"}

# What an unknown enum-like requirement becomes when a story is written: the gentle choice.
DEFAULTS = {
    "tone": "WHIMSICAL",
    "audience_age_group": "EARLY_READERS",
    "content_rating": "G",
    "ending_preference": "HAPPY",
    "narrative_point_of_view": "THIRD_PERSON_LIMITED",
    "persona": "CHILDRENS_BOOK_AUTHOR",
    "length": "MEDIUM",
}


@dataclasses.dataclass(frozen=True)
class Character:
    name: str
    description: str = ""
    pronouns: str = ""  # "she", "he", "they" (or "she/her"...); "" when not said


@dataclasses.dataclass(frozen=True)
class StoryRequirements:
    title: str = ""
    genre: str = ""
    characters: tuple[Character, ...] = ()
    setting: str = ""
    tone: str = ""
    length: str = ""
    special_requests: str = ""
    plot_elements: str = ""
    persona: str = ""
    persona_description: str = ""
    writing_style: str = ""
    narrative_point_of_view: str = ""
    audience_age_group: str = ""
    content_rating: str = ""
    ending_preference: str = ""
    language_code: str = ""
    illustration_style: str = ""
    extracted_prompt: str = ""
    scene_count: int = 0  # scenes asked for; 0: from the length
    moral: str = ""       # the lesson the story should teach, in a word or a few ("courage", "sharing")

    # What the assistant asks about, in the order it asks; a story can be written once the
    # first three are known (the rest have safe defaults).
    ESSENTIAL = ("characters", "setting", "tone")
    ASKED = ("characters", "setting", "tone", "audience_age_group", "length", "ending_preference")

    def missing(self) -> list[str]:
        return [name for name in self.ASKED if not getattr(self, name)]

    @property
    def complete(self) -> bool:
        return all(getattr(self, name) for name in self.ESSENTIAL)

    def merged(self, newer: StoryRequirements) -> StoryRequirements:
        """These requirements with every field `newer` knows taken from `newer`."""
        changes = {f.name: getattr(newer, f.name) for f in dataclasses.fields(self) if getattr(newer, f.name)}
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """A plain-text restatement, for prompts and for the extracted prompt."""
        parts = []
        if self.title:
            parts.append(f"Title: {self.title}")
        if self.characters:
            parts.append("Characters (the first is the hero): " + "; ".join(
                c.name + (f" ({c.description})" if c.description else "") + (f", pronouns {c.pronouns}" if c.pronouns
                                                                            else "") for c in self.characters))
        for label, value in (("Genre", self.genre), ("Setting", self.setting), ("Tone", self.tone),
                             ("Length", self.length), ("Audience", self.audience_age_group),
                             ("Content rating", self.content_rating), ("Ending", self.ending_preference),
                             ("Plot elements", self.plot_elements), ("Writing style", self.writing_style),
                             ("Point of view", self.narrative_point_of_view), ("Persona", self.persona),
                             ("Persona description", self.persona_description),
                             ("Illustration style", self.illustration_style), ("Language", self.language_code),
                             ("Moral", self.moral), ("Special requests", self.special_requests)):
            if value:
                parts.append(f"{label}: {value.replace('_', ' ').lower() if value.isupper() else value}")
        if self.scene_count:
            parts.append(f"Scenes: {self.scene_count}")
        return "\n".join(parts)


def capped_rating(requirements: StoryRequirements) -> str:
    """The content rating to write at: the one asked for (G when unknown), never above the audience's maximum."""
    audience = requirements.audience_age_group or DEFAULTS["audience_age_group"]
    asked = requirements.content_rating if requirements.content_rating in CONTENT_RATINGS else "G"
    ceiling = MAX_RATING.get(audience, "G")
    return min(asked, ceiling, key=CONTENT_RATINGS.index)


def with_defaults(requirements: StoryRequirements) -> StoryRequirements:
    """The requirements with every unknown enum-like field set to its safe default and the rating capped."""
    filled: dict[str, Any] = {name: getattr(requirements, name) or default for name, default in DEFAULTS.items()}
    filled["content_rating"] = capped_rating(requirements)
    return dataclasses.replace(requirements, **filled)


def enum_spelling(value: str) -> str:
    """The canonical spelling of an enum-like value: `pg-13` and `Pg 13` are `PG_13`."""
    return re.sub(r"[\s-]+", "_", value.strip()).upper()


def checked(requirements: StoryRequirements, field: str = "requirements") -> StoryRequirements:
    """The requirements with every enum-like value in its canonical spelling (as the REST gateway parses enums,
    case-insensitively); a value that names no member is refused with a field violation."""
    violations: list[FieldViolation] = []
    spelled: dict[str, Any] = {}
    for name, allowed in ENUM_VALUES.items():
        value = getattr(requirements, name)
        if value and enum_spelling(value) not in allowed:
            violations.append(FieldViolation(f"{field}.{name}", f"{value!r} is not one of {', '.join(allowed)}"))
        elif value:
            spelled[name] = enum_spelling(value)
    if violations:
        raise InvalidArgument(violations)
    return dataclasses.replace(requirements, **spelled)

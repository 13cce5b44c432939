"""StoryRequirements: proto <-> domain, with the checks every caller-supplied requirement gets."""

from __future__ import annotations

import re
from typing import Any

from storyloom.domain import requirements as domain
from storyloom.domain.errors import FieldViolation, InvalidArgument
from storyloom.domain.stories import MAX_SCENES
from storyloom.v1 import requirements_pb2

# Field name -> (proto enum, value prefix) for the enum-valued fields.
ENUMS = {
    "tone": (requirements_pb2.StoryTone, "STORY_TONE_"),
    "length": (requirements_pb2.StoryLength, "STORY_LENGTH_"),
    "persona": (requirements_pb2.Persona, "PERSONA_"),
    "writing_style": (requirements_pb2.WritingStyle, "WRITING_STYLE_"),
    "narrative_point_of_view": (requirements_pb2.NarrativePointOfView, "NARRATIVE_POINT_OF_VIEW_"),
    "audience_age_group": (requirements_pb2.AudienceAgeGroup, "AUDIENCE_AGE_GROUP_"),
    "content_rating": (requirements_pb2.ContentRating, "CONTENT_RATING_"),
    "ending_preference": (requirements_pb2.EndingPreference, "ENDING_PREFERENCE_"),
}
TEXT_LIMITS = {"title": 200, "genre": 100, "setting": 1000, "special_requests": 2000, "plot_elements": 2000,
               "persona_description": 200, "language_code": 35, "illustration_style": 100, "moral": 200}
MAX_CHARACTERS = 12
MAX_PRONOUNS = 30
# `she`, `he`, `they` or `it`, maybe with the other forms: `she/her`, `they/them/theirs`.
_PRONOUNS = re.compile(r"(?:she|he|they|it)(?:/[a-z]+)*")


def to_proto(value: domain.StoryRequirements) -> requirements_pb2.StoryRequirements:
    message = requirements_pb2.StoryRequirements(
        characters=[requirements_pb2.Character(name=c.name, description=c.description, pronouns=c.pronouns)
                    for c in value.characters],
        extracted_prompt=value.extracted_prompt, scene_count=value.scene_count,
        **{name: getattr(value, name) for name in TEXT_LIMITS},
    )
    for name, (enum, prefix) in ENUMS.items():
        # Rows stored before values were checked may hold `funny`: read as FUNNY; a value naming no member
        # reads as unknown rather than failing the whole read.
        member = enum.DESCRIPTOR.values_by_name.get(prefix + domain.enum_spelling(getattr(value, name)))
        if getattr(value, name) and member is not None:
            setattr(message, name, member.number)
    return message


def from_proto(message: requirements_pb2.StoryRequirements, field: str = "requirements") -> domain.StoryRequirements:
    """Checks and converts caller-supplied requirements; every problem becomes a field violation."""
    violations: list[FieldViolation] = []
    values: dict[str, Any] = {}  # field name -> value, as StoryRequirements takes it
    for name, limit in TEXT_LIMITS.items():
        text = getattr(message, name)
        if len(text) > limit:
            violations.append(FieldViolation(f"{field}.{name}", f"must be at most {limit} characters"))
        values[name] = text.strip()
    for name, (enum, prefix) in ENUMS.items():
        number = getattr(message, name)
        if number == 0:
            values[name] = ""
        elif number not in enum.values():
            violations.append(FieldViolation(f"{field}.{name}", f"{number} is not a known {enum.DESCRIPTOR.name}"))
        else:
            values[name] = enum.Name(number).removeprefix(prefix)
    if len(message.characters) > MAX_CHARACTERS:
        violations.append(FieldViolation(f"{field}.characters", f"must have at most {MAX_CHARACTERS} entries"))
    characters = []
    for i, character in enumerate(message.characters):
        if not character.name.strip():
            violations.append(FieldViolation(f"{field}.characters[{i}].name", "is required"))
        elif len(character.name) > 100:
            violations.append(FieldViolation(f"{field}.characters[{i}].name", "must be at most 100 characters"))
        if len(character.description) > 500:
            violations.append(FieldViolation(f"{field}.characters[{i}].description", "must be at most 500 characters"))
        pronouns = "/".join(part.strip() for part in character.pronouns.lower().split("/")) if (
            character.pronouns.strip()) else ""
        if len(character.pronouns) > MAX_PRONOUNS or (pronouns and not _PRONOUNS.fullmatch(pronouns)):
            violations.append(FieldViolation(f"{field}.characters[{i}].pronouns",
                                             f"must be she, he, they or it (with their forms, as she/her), at most "
                                             f"{MAX_PRONOUNS} characters"))
        characters.append(domain.Character(character.name.strip(), character.description.strip(), pronouns))
    values["characters"] = tuple(characters)
    if not 0 <= message.scene_count <= MAX_SCENES:
        violations.append(FieldViolation(f"{field}.scene_count", f"must be from 1 to {MAX_SCENES}, or 0 for the "
                                                                 "length's default"))
    values["scene_count"] = message.scene_count
    age, rating = values.get("audience_age_group") or "", values.get("content_rating") or ""
    if rating and age:
        ceiling = domain.MAX_RATING[str(age)]
        if domain.CONTENT_RATINGS.index(str(rating)) > domain.CONTENT_RATINGS.index(ceiling):
            violations.append(FieldViolation(f"{field}.content_rating",
                                             f"{rating} is above what {str(age).lower()} allows ({ceiling})"))
    if violations:
        raise InvalidArgument(violations)
    return domain.StoryRequirements(**values)

"""What a scene's picture must show, stored with the scene so that it can be checked and painted again.

A writer that knows its cast (the offline storyteller) fills it exactly; for text written elsewhere it is derived
from the scene's words. Painters draw from it; the quality benchmark checks it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class FigureSpec:
    name: str
    role: str = "companion"  # hero, companion, guest
    species: str = ""        # human, dinosaur, owl... ("" when unknown)
    colour: str = ""         # a colour word: green, purple... ("" when not said)
    gender: str = ""         # female, male, "" (not said)
    age: int = 0             # years; 0 when unknown
    toy: bool = False        # a stuffed toy, drawn soft and small
    accessory: str = ""      # crown, wizard_hat, helmet, pirate_hat, scarf, hat, glasses...


@dataclasses.dataclass(frozen=True)
class PictureSpec:
    characters: tuple[FigureSpec, ...] = ()
    objects: tuple[str, ...] = ()  # key things the scene's text names: "lighthouse", "lamp", "star map"
    setting: str = ""              # the painter's family: bedroom, forest, beach, space...
    place: str = ""                # the setting in the story's words
    time_of_day: str = "day"       # day, sunset, night
    mood: str = ""
    action: str = ""               # what happens, in a few words

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PictureSpec:
        known = {f.name for f in dataclasses.fields(FigureSpec)}
        figures = tuple(FigureSpec(**{k: v for k, v in c.items() if k in known}) for c in data.get("characters", ()))
        return cls(characters=figures, objects=tuple(data.get("objects", ())), setting=str(data.get("setting", "")),
                   place=str(data.get("place", "")), time_of_day=str(data.get("time_of_day", "day")),
                   mood=str(data.get("mood", "")), action=str(data.get("action", "")))

"""The text engines' word lists and phrase banks, kept as data files in `data/` and loaded once: the offline
storyteller's chat and story banks, and the words every engine reads scenes with (places, setting families, things
a painter can draw, characters' species, colours and genders).

JSON has no tuples or sets: lists are read back as tuples (the banks are never changed), and `{"__set__": [...]}`
as a frozenset (the word lists that are looked up).
"""

from __future__ import annotations

import functools
import json
import types
from importlib import resources
from typing import Any


def _thaw(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_thaw(v) for v in value)
    if isinstance(value, dict):
        if set(value) == {"__set__"}:
            return frozenset(value["__set__"])
        return {k: _thaw(v) for k, v in value.items()}
    return value


@functools.cache
def load(name: str) -> Any:
    """The data file `data/{name}.json`, as a namespace of its top-level keys (or the object itself when it is a
    list)."""
    raw = json.loads(resources.files(__package__).joinpath("data").joinpath(f"{name}.json").read_text("utf-8"))
    if isinstance(raw, dict):
        return types.SimpleNamespace(**{k: _thaw(v) for k, v in raw.items()})
    return _thaw(raw)

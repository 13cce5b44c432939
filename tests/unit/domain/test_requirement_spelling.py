"""Enum-like requirement values: any case, dashes or spaces for underscores; nothing outside the members."""

from __future__ import annotations

import pytest

from storyloom.domain.errors import InvalidArgument
from storyloom.domain.requirements import StoryRequirements, checked


def test_values_are_put_in_their_canonical_spelling() -> None:
    spelled = checked(StoryRequirements(tone="Funny", content_rating="pg-13", audience_age_group="early readers"))
    assert (spelled.tone, spelled.content_rating, spelled.audience_age_group) == ("FUNNY", "PG_13", "EARLY_READERS")


def test_every_unknown_value_is_a_violation_of_its_own_field() -> None:
    with pytest.raises(InvalidArgument) as refused:
        checked(StoryRequirements(tone="grumpy", length="huge", setting="a castle"))
    assert [v.field for v in refused.value.violations] == ["requirements.tone", "requirements.length"]


def test_unknown_values_stay_unknown() -> None:
    assert checked(StoryRequirements(setting="a castle")) == StoryRequirements(setting="a castle")

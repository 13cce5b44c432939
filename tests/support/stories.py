"""Story requirements the tests share."""

from __future__ import annotations

from storyloom.v1 import requirements_pb2 as req

LUNA = req.StoryRequirements(
    title="Luna and the Lost Star", characters=[req.Character(name="Luna", description="a brave little fox")],
    setting="an enchanted forest", tone=req.STORY_TONE_HEARTWARMING,
    audience_age_group=req.AUDIENCE_AGE_GROUP_EARLY_READERS, ending_preference=req.ENDING_PREFERENCE_HAPPY)

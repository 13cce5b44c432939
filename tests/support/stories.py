"""Story requirements and readings of story events the tests share."""

from __future__ import annotations

import json
from typing import Any

from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2, task_pb2

LUNA = req.StoryRequirements(
    title="Luna and the Lost Star", characters=[req.Character(name="Luna", description="a brave little fox")],
    setting="an enchanted forest", tone=req.STORY_TONE_HEARTWARMING,
    audience_age_group=req.AUDIENCE_AGE_GROUP_EARLY_READERS, ending_preference=req.ENDING_PREFERENCE_HAPPY)


def scene_of(event: task_pb2.TaskEvent) -> story_pb2.Scene:
    """The finished scene a SCENE_READY event carries."""
    scene = story_pb2.Scene()
    assert event.part.Unpack(scene), event
    return scene


def without_bundle_renditions(scene: story_pb2.Scene) -> story_pb2.Scene:
    """A copy of the scene without the renditions made for bundles after the scene is announced (the picture's
    `medium`, the narration's `preview`): what a SCENE_READY event carries for sure."""
    copy = story_pb2.Scene()
    copy.CopyFrom(scene)
    kept = [r for r in copy.picture.renditions if r.purpose == "thumbnail"]
    del copy.picture.renditions[:]
    copy.picture.renditions.extend(kept)
    del copy.narration.renditions[:]
    return copy


def without_bundle_renditions_json(scene: dict[str, Any]) -> dict[str, Any]:
    """`without_bundle_renditions` for a scene in JSON, as the gateway gives it."""
    copy = json.loads(json.dumps(scene))
    if "picture" in copy:
        copy["picture"]["renditions"] = [r for r in copy["picture"].get("renditions", [])
                                         if r["purpose"] == "thumbnail"]
    if "narration" in copy:
        copy["narration"].pop("renditions", None)
    return copy

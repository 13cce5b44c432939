"""A story whose requirements spell an enum value in lower case (`tone="funny"`, as a domain caller or the REST
gateway's case-insensitive enum parsing may) reads back as that member; a value naming no member is refused."""

from __future__ import annotations

import grpc
import pytest

from storyloom.domain.errors import InvalidArgument
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.v1 import requirements_pb2, story_pb2, story_pb2_grpc

LOWER_CASE = StoryRequirements(characters=(Character("Luna", "a fox"),), setting="a forest", tone="funny",
                               content_rating="pg")


async def test_a_story_created_with_a_lower_case_tone_reads_back_as_that_tone(storyloom_server, caller):
    task = await storyloom_server.app.stories.create(caller.user_id, requirements=LOWER_CASE)
    stub = story_pb2_grpc.StoryServiceStub(storyloom_server.channel)
    story = await stub.GetStory(story_pb2.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert story.requirements.tone == requirements_pb2.STORY_TONE_FUNNY
    assert story.requirements.content_rating == requirements_pb2.CONTENT_RATING_PG


async def test_a_tone_that_names_no_member_is_refused_with_its_field(storyloom_server, caller):
    grumpy = StoryRequirements(characters=(Character("Luna"),), tone="grumpy")
    with pytest.raises(InvalidArgument) as refused:
        await storyloom_server.app.stories.create(caller.user_id, requirements=grumpy)
    assert [v.field for v in refused.value.violations] == ["requirements.tone"]
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT.name

"""StoryService on a real server with the offline engines: whole stories as tasks, step RPCs,
idempotency, cancellation, reading and exporting."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import wave

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from storyloom.store.progress import SqlStageTimingRepository
from storyloom.v1 import media_pb2, media_pb2_grpc, story_pb2_grpc, task_pb2, task_pb2_grpc
from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2 as pb
from tests.support.errors import error_info
from tests.support.stories import LUNA, scene_of, without_bundle_renditions


@pytest.fixture
def stub(storyloom_server) -> story_pb2_grpc.StoryServiceStub:
    return story_pb2_grpc.StoryServiceStub(storyloom_server.channel)


@pytest.fixture
def tasks(storyloom_server) -> task_pb2_grpc.TaskServiceStub:
    return task_pb2_grpc.TaskServiceStub(storyloom_server.channel)


async def create(stub, caller, **fields) -> task_pb2.Task:
    fields.setdefault("requirements", LUNA)
    return await stub.CreateStory(pb.CreateStoryRequest(parent="users/me", **fields), metadata=caller.metadata)


async def watch(tasks, caller, name: str, after: int = 0) -> list[task_pb2.TaskEvent]:
    return [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(name=name, after_sequence=after),
                                             metadata=caller.metadata)]


async def download(storyloom_server, caller, name: str) -> tuple[str, bytes]:
    media = media_pb2_grpc.MediaServiceStub(storyloom_server.channel)
    chunks = [c async for c in media.GetMedia(media_pb2.GetMediaRequest(name=name), metadata=caller.metadata)]
    return chunks[0].content_type, b"".join(c.data for c in chunks)


async def test_a_story_is_written_illustrated_and_narrated_with_monotonic_progress(storyloom_server, stub, tasks,
                                                                                   caller):
    task = await create(stub, caller, scene_count=2)
    assert task.kind == "story.create" and task.target.startswith("users/")
    events = await watch(tasks, caller, task.name)

    percents = [e.percent for e in events]
    assert percents == sorted(percents) and percents[-1] == 100
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    stages = [e.stage for e in events if e.stage]
    first_seen = [s for i, s in enumerate(stages) if s not in stages[:i]]
    assert first_seen[:3] == ["premise", "outline", "scenes"] and first_seen[-2:] == ["scene_ready", "done"]
    assert sorted(first_seen[3:-2]) == ["illustrations", "narration"]  # a scene's picture and narration at once
    assert any(e.HasField("estimated_completion_time") for e in events if e.state == task_pb2.TASK_STATE_RUNNING)
    result = pb.Story()
    assert events[-1].result.Unpack(result) and result.name == task.target

    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert story == result
    assert story.state == pb.STORY_STATE_READY and story.title == "Luna and the Lost Star"
    assert len(story.scenes) == story.planned_scene_count == 2 and story.premise
    assert "Luna" in story.scenes[0].text
    for scene in story.scenes:
        assert scene.picture_state == pb.ASSET_STATE_READY and scene.narration_state == pb.ASSET_STATE_READY
        content_type, png = await download(storyloom_server, caller, scene.picture.name)
        assert content_type == "image/png" and png.startswith(b"\x89PNG")
        assert hashlib.sha256(png).hexdigest() == scene.picture.sha256 and len(png) == scene.picture.size_bytes
        renditions = {r.purpose: r for r in scene.picture.renditions}
        assert set(renditions) == {"thumbnail", "medium"}
        assert max(renditions["thumbnail"].image.width, renditions["thumbnail"].image.height) <= 256
        assert max(renditions["medium"].image.width, renditions["medium"].image.height) == 512
        assert [r.purpose for r in scene.narration.renditions] == ["preview"]
        content_type, wav = await download(storyloom_server, caller, scene.narration.name)
        assert content_type == "audio/wav" and hashlib.sha256(wav).hexdigest() == scene.narration.sha256
        with wave.open(io.BytesIO(wav)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        assert seconds > 2 and abs(scene.narration.audio.duration.ToTimedelta().total_seconds() - seconds) < 0.01


async def test_the_same_request_id_twice_gives_one_task_and_an_identical_request_reuses_the_story(stub, caller, tasks):
    request_id = str(uuid.uuid4())
    text_only = dict(scene_count=1, skip_narration=True, skip_illustrations=True)
    first = await create(stub, caller, **text_only, request_id=request_id)
    again = await create(stub, caller, **text_only, request_id=request_id)
    assert again.name == first.name
    reused = await create(stub, caller, scene_count=1, skip_narration=True, skip_illustrations=True)
    assert reused.name == first.name  # identical request within the window
    await watch(tasks, caller, first.name)
    story = await stub.GetStory(pb.GetStoryRequest(name=first.target), metadata=caller.metadata)
    assert [(s.picture_state, s.narration_state) for s in story.scenes] == [
        (pb.ASSET_STATE_SKIPPED, pb.ASSET_STATE_SKIPPED)]
    fresh = await create(stub, caller, scene_count=1, skip_narration=True, skip_illustrations=True, regenerate=True)
    assert fresh.name != first.name and fresh.target != first.target
    listed = await stub.ListStories(pb.ListStoriesRequest(parent="users/me"), metadata=caller.metadata)
    assert [s.name for s in listed.stories] == [fresh.target, first.target]


async def test_cancelling_a_story_keeps_the_scenes_already_finished(stub, tasks, caller):
    task = await create(stub, caller, scene_count=6, requirements=req.StoryRequirements(setting="the moon"))
    ready = []
    async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata):
        if event.type == task_pb2.TASK_EVENT_TYPE_SCENE_READY:
            ready.append(scene_of(event).index)
            break
    cancelled = await tasks.CancelTask(task_pb2.CancelTaskRequest(name=task.name), metadata=caller.metadata)
    assert cancelled.state == task_pb2.TASK_STATE_CANCELLED
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert story.state == pb.STORY_STATE_CANCELLED
    finished = {s.index for s in story.scenes
                if (s.picture_state, s.narration_state) == (pb.ASSET_STATE_READY, pb.ASSET_STATE_READY)}
    assert set(ready) <= finished and len(finished) < 6
    assert all(s.text for s in story.scenes)


async def test_each_scene_arrives_with_its_media_in_a_scene_ready_event_before_the_task_ends(storyloom_server, stub,
                                                                                           tasks, caller):
    task = await create(stub, caller, scene_count=3)
    events = await watch(tasks, caller, task.name)
    # The wait for the first scene is a measured stage, kept with the others for the next process.
    timings = await SqlStageTimingRepository(storyloom_server.app.db).load("story.create")
    assert timings["first_scene_ready"].samples == 1 and timings["first_scene_ready"].seconds_per_unit > 0
    ready = [e for e in events if e.type == task_pb2.TASK_EVENT_TYPE_SCENE_READY]
    assert all(e.state == task_pb2.TASK_STATE_RUNNING and e.stage == "scene_ready" for e in ready)
    assert ready[-1].sequence < events[-1].sequence and events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    delivered = {scene_of(e).index: scene_of(e) for e in ready}
    assert sorted(delivered) == [0, 1, 2] and len(ready) == 3
    # Scene 1 first: its narration is asked for first, and it is the first one out; at most two scenes narrate at
    # once, and a scene is delivered as it finishes: the first is out before the third starts narrating.
    reading = {int(m[1]) - 1: e.sequence for e in events if (m := re.match(r"Reading scene (\d+) aloud\.", e.message))}
    assert scene_of(ready[0]).index == 0 and min(reading, key=lambda i: reading[i]) == 0
    assert ready[0].sequence < reading[2]
    narrating = [(reading[scene_of(e).index], e.sequence) for e in ready]  # from narrating to ready, per scene
    assert all(sum(start <= event.sequence < end for start, end in narrating) <= 2 for event in events)
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    for scene in story.scenes:
        sent = delivered[scene.index]
        # The text, the picture (with its thumbnail) and the narration, each with its size and sha256; the
        # renditions for bundles (the picture's medium, the narration's preview) are made after the scene is out.
        assert [r.purpose for r in sent.picture.renditions] == ["thumbnail"]
        assert without_bundle_renditions(sent) == without_bundle_renditions(scene)
        assert sent.text and sent.picture.sha256 and sent.picture.size_bytes > 0
        assert sent.narration.sha256 and sent.narration.size_bytes > 0


async def test_get_story_shows_finished_scenes_while_the_rest_are_made(stub, tasks, caller):
    task = await create(stub, caller, scene_count=4, requirements=req.StoryRequirements(setting="a lighthouse"))
    async for event in tasks.WatchTask(task_pb2.WatchTaskRequest(name=task.name), metadata=caller.metadata):
        if event.type == task_pb2.TASK_EVENT_TYPE_SCENE_READY:
            first = scene_of(event)
            break
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    shown = next(s for s in story.scenes if s.index == first.index)
    assert without_bundle_renditions(shown) == without_bundle_renditions(first)  # made after it is out
    assert story.state == pb.STORY_STATE_GENERATING
    await tasks.CancelTask(task_pb2.CancelTaskRequest(name=task.name), metadata=caller.metadata)


async def test_a_story_from_a_conversation_uses_the_extracted_requirements(storyloom_server, stub, tasks, caller):
    from storyloom.v1 import conversation_pb2, conversation_pb2_grpc

    chat = conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)
    conversation = await chat.CreateConversation(conversation_pb2.CreateConversationRequest(parent="users/me"),
                                                 metadata=caller.metadata)
    for text in ("A story about a kind dragon named Pip", "It happens on a snowy mountain", "Make it funny"):
        _ = [e async for e in chat.SendMessage(conversation_pb2.SendMessageRequest(
            conversation=conversation.name, text=text), metadata=caller.metadata)]
    task = await stub.CreateStory(pb.CreateStoryRequest(parent="users/me", conversation=conversation.name,
                                                        scene_count=2, skip_narration=True, skip_illustrations=True),
                                  metadata=caller.metadata)
    events = await watch(tasks, caller, task.name)
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED and "requirements" in [e.stage for e in events]
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert [c.name for c in story.requirements.characters] == ["Pip"]
    assert story.requirements.tone == req.STORY_TONE_FUNNY and story.conversation == conversation.name
    assert "Pip" in story.scenes[0].text


async def test_a_story_from_a_given_text_keeps_its_words(stub, tasks, caller):
    text = ("Once there was a small boat. It sailed at dawn.\n\nThe sea was calm and wide. A gull sang above.\n\n"
            "At dusk the boat came home, tired and happy.")
    task = await create(stub, caller, requirements=None, text=text, scene_count=3, skip_narration=True)
    events = await watch(tasks, caller, task.name)
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert " ".join(" ".join(s.text.split()) for s in story.scenes) == " ".join(text.split())
    assert all(s.picture_state == pb.ASSET_STATE_READY for s in story.scenes)


async def test_step_by_step_premise_outline_opening_and_continuation(stub, caller):
    premise = await stub.GeneratePremise(pb.GeneratePremiseRequest(parent="users/me", requirements=LUNA),
                                         metadata=caller.metadata)
    assert premise.premise and premise.title
    outline = await stub.GenerateOutline(pb.GenerateOutlineRequest(parent="users/me", requirements=LUNA,
                                                                   premise=premise.premise), metadata=caller.metadata)
    assert len(outline.scenes) == 5  # MEDIUM by default
    opening = await stub.GenerateOpening(pb.GenerateOpeningRequest(
        parent="users/me", requirements=LUNA, premise=premise.premise, outline=outline.scenes),
        metadata=caller.metadata)
    assert "Luna" in opening.text
    story, finished, steps = opening.text, False, 0
    while not finished and steps < 10:
        more = await stub.ContinueStory(pb.ContinueStoryRequest(
            parent="users/me", requirements=LUNA, premise=premise.premise, outline=outline.scenes,
            story_so_far=story), metadata=caller.metadata)
        assert more.text and more.text not in story
        story, finished, steps = story + "\n\n" + more.text, more.finished, steps + 1
    assert finished


@pytest.mark.parametrize(("request_fields", "field"), [
    ({"requirements": req.StoryRequirements()}, "requirements"),
    ({"requirements": req.StoryRequirements(tone=42)}, "requirements.tone"),
    ({"requirements": req.StoryRequirements(title="x" * 201)}, "requirements.title"),
    ({"requirements": req.StoryRequirements(characters=[req.Character(description="nameless")])},
     "requirements.characters[0].name"),
    ({"requirements": req.StoryRequirements(audience_age_group=req.AUDIENCE_AGE_GROUP_PRESCHOOL,
                                            content_rating=req.CONTENT_RATING_PG_13)}, "requirements.content_rating"),
    ({"requirements": req.StoryRequirements(setting="the sea", scene_count=13)}, "requirements.scene_count"),
    ({"requirements": req.StoryRequirements(setting="the sea", scene_count=-1)}, "requirements.scene_count"),
    ({"requirements": req.StoryRequirements(setting="the sea", moral="x" * 201)}, "requirements.moral"),
    ({"requirements": req.StoryRequirements(characters=[req.Character(name="Sam", pronouns="xe/xem")])},
     "requirements.characters[0].pronouns"),
    ({"requirements": req.StoryRequirements(characters=[req.Character(name="Sam", pronouns="she/" + "her" * 10)])},
     "requirements.characters[0].pronouns"),
    ({"requirements": LUNA, "scene_count": 50}, "scene_count"),
    ({"requirements": LUNA, "scene_count": -1}, "scene_count"),
    ({"text": "x" * 100_001}, "text"),
    ({}, "requirements"),
])
async def test_invalid_story_requests_are_refused_with_field_violations(stub, caller, request_fields, field):
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.CreateStory(pb.CreateStoryRequest(parent="users/me", **request_fields), metadata=caller.metadata)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = error_details_pb2.BadRequest()
    status = rpc_status.from_call(bad.value)
    assert any(d.Unpack(violations) for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR))
    assert field in [v.field for v in violations.field_violations]


async def test_export_as_markdown_and_plain_text(stub, tasks, caller):
    task = await create(stub, caller, scene_count=2, skip_narration=True)
    await watch(tasks, caller, task.name)
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    markdown = await stub.ExportStory(pb.ExportStoryRequest(name=task.target), metadata=caller.metadata)
    assert markdown.content_type.startswith("text/markdown")
    text = markdown.data.decode()
    assert text.startswith(f"# {story.title}") and f"## {story.scenes[1].title}" in text
    assert f"({story.scenes[0].picture.download_path})" in text
    plain = await stub.ExportStory(pb.ExportStoryRequest(name=task.target, format=pb.EXPORT_FORMAT_PLAIN_TEXT),
                                   metadata=caller.metadata)
    assert plain.content_type.startswith("text/plain") and "#" not in plain.data.decode()
    assert story.scenes[1].text.strip() in plain.data.decode()


async def test_deleting_a_story_removes_it_and_its_media(storyloom_server, stub, tasks, caller):
    task = await create(stub, caller, scene_count=1, skip_narration=True, regenerate=True)
    await watch(tasks, caller, task.name)
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    picture = story.scenes[0].picture.name
    await stub.DeleteStory(pb.DeleteStoryRequest(name=task.target), metadata=caller.metadata)
    for call in (stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata),
                 download(storyloom_server, caller, picture)):
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await call
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_another_users_story_is_not_found(storyloom_server, stub, tasks, caller):
    task = await create(stub, caller, scene_count=1, skip_narration=True, skip_illustrations=True)
    stranger = await storyloom_server.new_caller("stranger")
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=stranger.metadata)
    assert error_info(hidden.value).reason == "RESOURCE_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as hidden_task:
        await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=stranger.metadata)
    assert hidden_task.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_conversation_that_asks_for_three_scenes_and_a_hero_gets_them_with_picture_specs_stored(
        storyloom_server, stub, tasks, caller):
    from storyloom.v1 import conversation_pb2, conversation_pb2_grpc

    chat = conversation_pb2_grpc.ConversationServiceStub(storyloom_server.channel)
    conversation = await chat.CreateConversation(conversation_pb2.CreateConversationRequest(parent="users/me"),
                                                 metadata=caller.metadata)
    for text in ("A bedtime story for my daughter Mia, 4. Her stuffed bunny Button keeps her company.",
                 "3 scenes please, with a lesson about courage."):
        _ = [e async for e in chat.SendMessage(conversation_pb2.SendMessageRequest(
            conversation=conversation.name, text=text), metadata=caller.metadata)]
    task = await stub.CreateStory(pb.CreateStoryRequest(parent="users/me", conversation=conversation.name,
                                                        skip_narration=True, skip_illustrations=True),
                                  metadata=caller.metadata)
    events = await watch(tasks, caller, task.name)
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)
    assert len(story.scenes) == 3  # from the conversation, not the default of five
    assert story.requirements.scene_count == 3 and story.requirements.moral == "courage"
    assert [(c.name, c.pronouns) for c in story.requirements.characters] == [("Mia", "she"), ("Button", "")]
    assert all("Mia" in s.text for s in story.scenes)

    # The picture spec went through the store and comes back to the caller.
    spec = story.scenes[0].picture_spec
    assert spec.setting == "bedroom"
    assert [(f.name, f.role, f.species, f.gender, f.age, f.toy) for f in spec.characters] == [
        ("Mia", FIGURE.ROLE_HERO, "human", FIGURE.GENDER_FEMALE, 4, False),
        ("Button", FIGURE.ROLE_COMPANION, "bunny", FIGURE.GENDER_UNSPECIFIED, 0, True)]
    extracted = (await chat.ExtractRequirements(conversation_pb2.ExtractRequirementsRequest(
        conversation=conversation.name), metadata=caller.metadata)).requirements
    assert (extracted.scene_count, extracted.moral, extracted.characters[0].pronouns) == (3, "courage", "she")


FIGURE = pb.PictureSpec.Figure
LIGHTHOUSE = req.StoryRequirements(
    characters=[req.Character(name="Sam", description="a small purple dragon", pronouns="She / Her"),
                req.Character(name="Pip", description="an owl", pronouns="he")],
    setting="a lighthouse by the sea", special_requests="the lighthouse lamp keeps going out", moral="patience",
    scene_count=4, audience_age_group=req.AUDIENCE_AGE_GROUP_EARLY_READERS)


async def test_a_caller_sets_moral_pronouns_and_scene_count_and_reads_each_scenes_picture_spec(stub, tasks, caller):
    task = await create(stub, caller, requirements=LIGHTHOUSE, skip_narration=True, skip_illustrations=True)
    events = await watch(tasks, caller, task.name)
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    story = await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)

    assert len(story.scenes) == story.planned_scene_count == 4  # the requirements' count, not MEDIUM's five
    assert story.requirements.moral == "patience" and story.requirements.scene_count == 4
    assert [c.pronouns for c in story.requirements.characters] == ["she/her", "he"]
    assert "patient" in story.scenes[-1].text.lower()  # the moral resolves the problem
    # Without her pronouns, Sam reads as a boy's name (he); with them the story and her picture say she.
    assert re.search(r"\b(?:she|her)\b", "\n".join(s.text for s in story.scenes))
    for scene in story.scenes:
        hero = scene.picture_spec.characters[0]
        assert (hero.name, hero.role, hero.species, hero.color, hero.gender) == (
            "Sam", FIGURE.ROLE_HERO, "dragon", "purple", FIGURE.GENDER_FEMALE)
        assert scene.picture_spec.setting == "beach" and scene.picture_spec.place == "the lighthouse by the sea"
        assert scene.picture_spec.time_of_day != pb.PictureSpec.TIME_OF_DAY_UNSPECIFIED
    assert any("lamp" in scene.picture_spec.objects for scene in story.scenes)
    pip = next(f for s in story.scenes for f in s.picture_spec.characters if f.name == "Pip")
    assert (pip.role, pip.species, pip.gender) == (FIGURE.ROLE_COMPANION, "owl", FIGURE.GENDER_MALE)

    result = pb.Story()
    assert events[-1].result.Unpack(result) and result == story  # the task's result carries the specs too

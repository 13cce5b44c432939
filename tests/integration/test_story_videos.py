"""CreateStoryVideo on a real server with the offline engines: a finished story filmed as an MP4 that PyAV reads as
H.264 and AAC of the planned length, with captions on the narration's sentences; scenes-only clips; refusals,
cancellation, and videos going with their story."""

from __future__ import annotations

import grpc
import pytest

from storyloom.domain import videos as plan
from storyloom.v1 import media_pb2, media_pb2_grpc, story_pb2_grpc, task_pb2, task_pb2_grpc, video_pb2
from storyloom.v1 import requirements_pb2 as req
from storyloom.v1 import story_pb2 as pb
from tests.support.errors import error_info
from tests.support.video import parse_webvtt, probe, speech_onsets

SMALL = video_pb2.VIDEO_RESOLUTION_360P  # the properties do not depend on the size; small is quick


@pytest.fixture
def stub(storyloom_server) -> story_pb2_grpc.StoryServiceStub:
    return story_pb2_grpc.StoryServiceStub(storyloom_server.channel)


@pytest.fixture
def tasks(storyloom_server) -> task_pb2_grpc.TaskServiceStub:
    return task_pb2_grpc.TaskServiceStub(storyloom_server.channel)


@pytest.fixture
def media(storyloom_server) -> media_pb2_grpc.MediaServiceStub:
    return media_pb2_grpc.MediaServiceStub(storyloom_server.channel)


async def finished_story(stub, tasks, caller, scenes: int = 2) -> pb.Story:
    task = await stub.CreateStory(pb.CreateStoryRequest(
        parent="users/me", scene_count=scenes, requirements=req.StoryRequirements(
            title="Pip and the Paper Boat", characters=[req.Character(name="Pip", description="a small mouse")],
            setting="a rainy garden", length=req.STORY_LENGTH_SHORT)), metadata=caller.metadata)
    events = await watch(tasks, caller, task.name)
    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    return await stub.GetStory(pb.GetStoryRequest(name=task.target), metadata=caller.metadata)


async def watch(tasks, caller, name: str) -> list[task_pb2.TaskEvent]:
    return [e async for e in tasks.WatchTask(task_pb2.WatchTaskRequest(name=name), metadata=caller.metadata)]


async def download(media, caller, name: str) -> tuple[str, bytes]:
    chunks = [c async for c in media.GetMedia(media_pb2.GetMediaRequest(name=name), metadata=caller.metadata)]
    return chunks[0].content_type, b"".join(c.data for c in chunks)


async def film(stub, tasks, caller, story: pb.Story,
               **options) -> tuple[list[task_pb2.TaskEvent], video_pb2.StoryVideo]:
    task = await stub.CreateStoryVideo(pb.CreateStoryVideoRequest(
        parent=story.name, options=video_pb2.StoryVideoOptions(resolution=SMALL, **options)), metadata=caller.metadata)
    assert task.kind == "story.video" and task.target.startswith(story.name + "/videos/")
    events = await watch(tasks, caller, task.name)
    done = await tasks.GetTask(task_pb2.GetTaskRequest(name=task.name), metadata=caller.metadata)
    video = video_pb2.StoryVideo()
    assert done.result.Unpack(video), done
    return events, video


async def test_a_story_is_filmed_as_h264_and_aac_lasting_its_narrations_and_transitions_with_aligned_captions(
        stub, tasks, media, caller):
    story = await finished_story(stub, tasks, caller)
    events, video = await film(stub, tasks, caller, story, captions=True)

    assert events[-1].state == task_pb2.TASK_STATE_SUCCEEDED
    assert video.state == video_pb2.STORY_VIDEO_STATE_READY
    # Progress per scene, with an ETA, never going backwards.
    filming = [e for e in events if e.stage == "scenes"]
    assert [e.message for e in filming] == [f"Filming scene {i} of 2." for i in (1, 2)]
    assert all(e.HasField("estimated_completion_time") for e in filming)
    assert [e.percent for e in events] == sorted(e.percent for e in events)
    assert "joining" in [e.stage for e in events]

    content_type, mp4 = await download(media, caller, video.video)
    assert content_type == "video/mp4"
    found = probe(mp4)
    assert (found.video_codec, found.audio_codec) == ("h264", "aac")
    assert (found.width, found.height) == (640, 360)
    narrations = [s.narration.audio.duration.ToMilliseconds() for s in story.scenes]
    planned = plan.TITLE_MS + sum(n + plan.LEAD_MS + plan.TAIL_MS - plan.FADE_MS for n in narrations)
    assert abs(found.duration_s * 1000 - planned) <= 500, (found.duration_s, planned)
    assert abs(video.duration.ToMilliseconds() - planned) <= 500

    # The media say what they are: a video with a poster frame and captions.
    info = {m.name: m for m in video.media}[video.video]
    assert info.video.width == 640 and info.video.duration.ToMilliseconds() == video.duration.ToMilliseconds()
    assert {r.purpose for r in info.renditions} == {"poster", "captions"}
    content_type, poster = await download(media, caller, video.poster)
    assert content_type == "image/png" and poster.startswith(b"\x89PNG")

    # One cue per narrated sentence, each starting within 300 ms of where the sound of a sentence starts.
    content_type, vtt = await download(media, caller, video.captions)
    assert content_type == "text/vtt"
    cues = parse_webvtt(vtt)
    words = " ".join(c.text for c in cues).split()
    assert words == " ".join(s.text for s in story.scenes).split()
    onsets = speech_onsets(found.audio, found.audio_rate)
    for cue in cues:
        nearest = min(onsets, key=lambda onset: abs(onset - cue.start_ms))
        assert abs(nearest - cue.start_ms) <= 300, (cue, nearest)
    assert all(a.end_ms <= b.start_ms for a, b in zip(cues, cues[1:], strict=False))


async def test_scenes_only_mode_gives_one_clip_per_scene_each_with_a_poster(stub, tasks, media, caller):
    story = await finished_story(stub, tasks, caller)
    _, video = await film(stub, tasks, caller, story, scenes_only=True, burn_in_captions=True)

    assert not video.video and len(video.clips) == 2
    assert [c.scene_index for c in video.clips] == [0, 1]
    infos = {m.name: m for m in video.media}
    for clip, scene in zip(video.clips, story.scenes, strict=True):
        _, mp4 = await download(media, caller, clip.clip)
        found = probe(mp4)
        assert (found.video_codec, found.audio_codec) == ("h264", "aac")
        planned = scene.narration.audio.duration.ToMilliseconds() + plan.LEAD_MS + plan.TAIL_MS
        assert abs(found.duration_s * 1000 - planned) <= 500
        assert {r.purpose for r in infos[clip.clip].renditions} == {"poster", "captions"}
        assert clip.poster and clip.captions
    got = await stub.GetStoryVideo(pb.GetStoryVideoRequest(name=video.name), metadata=caller.metadata)
    assert got.options.burn_in_captions and got.options.captions and len(got.clips) == 2
    listed = await stub.ListStoryVideos(pb.ListStoryVideosRequest(parent=story.name), metadata=caller.metadata)
    assert [v.name for v in listed.story_videos] == [video.name]


async def test_a_video_can_be_cancelled_and_goes_with_its_deleted_story(stub, tasks, media, caller):
    story = await finished_story(stub, tasks, caller)
    _, video = await film(stub, tasks, caller, story, scenes_only=True)
    task = await stub.CreateStoryVideo(pb.CreateStoryVideoRequest(
        parent=story.name, options=video_pb2.StoryVideoOptions(resolution=SMALL)), metadata=caller.metadata)
    await tasks.CancelTask(task_pb2.CancelTaskRequest(name=task.name), metadata=caller.metadata)
    events = await watch(tasks, caller, task.name)
    assert events[-1].state == task_pb2.TASK_STATE_CANCELLED
    cancelled = await stub.GetStoryVideo(pb.GetStoryVideoRequest(name=task.target), metadata=caller.metadata)
    assert cancelled.state == video_pb2.STORY_VIDEO_STATE_CANCELLED

    await stub.DeleteStory(pb.DeleteStoryRequest(name=story.name), metadata=caller.metadata)
    for name in (video.clips[0].clip, video.clips[0].poster):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await media.GetMediaInfo(media_pb2.GetMediaInfoRequest(name=name), metadata=caller.metadata)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetStoryVideo(pb.GetStoryVideoRequest(name=video.name), metadata=caller.metadata)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_story_still_being_written_cannot_be_filmed_and_bad_options_are_refused(stub, caller):
    task = await stub.CreateStory(pb.CreateStoryRequest(
        parent="users/me", scene_count=3, requirements=req.StoryRequirements(setting="the sea")),
        metadata=caller.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateStoryVideo(pb.CreateStoryVideoRequest(parent=task.target), metadata=caller.metadata)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "STORY_NOT_READY"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateStoryVideo(pb.CreateStoryVideoRequest(
            parent=task.target, options=video_pb2.StoryVideoOptions(resolution=99)), metadata=caller.metadata)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateStoryVideo(pb.CreateStoryVideoRequest(parent="users/me/stories/nope"),
                                    metadata=caller.metadata)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND

"""StoryService's video methods: proto <-> StoryVideos."""

from __future__ import annotations

from google.protobuf import duration_pb2

from storyloom.api.context import Context
from storyloom.api.media import media_proto
from storyloom.api.requests import (
    PageTokens,
    after_time,
    check_request_id,
    paginate,
    resource_path,
    time_position,
    timestamp,
)
from storyloom.api.tasks import TaskServicer
from storyloom.domain import videos as domain
from storyloom.domain.errors import FieldViolation, InvalidArgument
from storyloom.domain.media import MediaItem
from storyloom.v1 import story_pb2, task_pb2, video_pb2

STORY = ("users", "stories")
VIDEO = ("users", "stories", "videos")
_STATE = {"RENDERING": video_pb2.STORY_VIDEO_STATE_RENDERING, "READY": video_pb2.STORY_VIDEO_STATE_READY,
          "FAILED": video_pb2.STORY_VIDEO_STATE_FAILED, "CANCELLED": video_pb2.STORY_VIDEO_STATE_CANCELLED}
_RESOLUTION = {video_pb2.VIDEO_RESOLUTION_UNSPECIFIED: "720p", video_pb2.VIDEO_RESOLUTION_360P: "360p",
               video_pb2.VIDEO_RESOLUTION_720P: "720p", video_pb2.VIDEO_RESOLUTION_1080P: "1080p"}
_RESOLUTION_PROTO = {"360p": video_pb2.VIDEO_RESOLUTION_360P, "720p": video_pb2.VIDEO_RESOLUTION_720P,
                     "1080p": video_pb2.VIDEO_RESOLUTION_1080P}


def _duration(ms: int) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromMilliseconds(ms)
    return value


def _media(media_id: str) -> str:
    return f"media/{media_id}" if media_id else ""


def video_proto(video: domain.StoryVideo, media: dict[str, MediaItem] | None = None) -> video_pb2.StoryVideo:
    options = video.options
    message = video_pb2.StoryVideo(
        name=video.name, state=_STATE[video.state],
        options=video_pb2.StoryVideoOptions(resolution=_RESOLUTION_PROTO[options.resolution],
                                            scenes_only=options.scenes_only, captions=options.captions,
                                            burn_in_captions=options.burn_in_captions),
        video=_media(video.media_id), poster=_media(video.poster_id), captions=_media(video.captions_id),
        duration=_duration(video.duration_ms), task=f"tasks/{video.task_id}",
        create_time=timestamp(video.create_time), update_time=timestamp(video.update_time),
        clips=[video_pb2.SceneClip(scene_index=c.scene_index, clip=_media(c.media_id), poster=_media(c.poster_id),
                                   captions=_media(c.captions_id), duration=_duration(c.duration_ms))
               for c in video.clips])
    for media_id in (video.media_id, *(c.media_id for c in video.clips)):
        if media and media_id in media:
            message.media.append(media_proto(media[media_id]))
    return message


class VideoMethods:
    """CreateStoryVideo, GetStoryVideo and ListStoryVideos, for StoryServicer."""

    def __init__(self, videos: domain.StoryVideos, tasks: TaskServicer, tokens: PageTokens):
        self._videos = videos
        self._video_tasks = tasks
        self._video_tokens = tokens

    async def CreateStoryVideo(self, request: story_pb2.CreateStoryVideoRequest,
                               context: Context) -> task_pb2.Task:
        user, story_id = resource_path(request.parent, STORY, "parent")
        check_request_id(request.request_id)
        given = request.options
        if given.resolution not in _RESOLUTION:
            raise InvalidArgument(FieldViolation("options.resolution", f"{given.resolution} is not a known "
                                                                       "VideoResolution"))
        options = domain.VideoOptions(resolution=_RESOLUTION[given.resolution], scenes_only=given.scenes_only,
                                      captions=given.captions or given.burn_in_captions,
                                      burn_in_captions=given.burn_in_captions)
        task = await self._videos.create(user, story_id, options, request_id=request.request_id)
        return await self._video_tasks.to_proto(task)

    async def GetStoryVideo(self, request: story_pb2.GetStoryVideoRequest,
                            context: Context) -> video_pb2.StoryVideo:
        user, story_id, video_id = resource_path(request.name, VIDEO, "name")
        video = await self._videos.get(user, story_id, video_id)
        return video_proto(video, await self._videos.media(video))

    async def ListStoryVideos(self, request: story_pb2.ListStoryVideosRequest,
                              context: Context) -> story_pb2.ListStoryVideosResponse:
        user, story_id = resource_path(request.parent, STORY, "parent")
        found, token = await paginate(
            request, self._video_tokens, default=20, maximum=100,
            fingerprint={"user": user, "story": story_id, "list": "story-videos"},
            fetch=lambda limit, after: self._videos.list(user, story_id, limit=limit, after=after_time(after)),
            position=lambda video: time_position(video.create_time, video.id))
        return story_pb2.ListStoryVideosResponse(story_videos=[video_proto(v) for v in found],
                                                 next_page_token=token)

import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from storyloom.v1 import media_pb2 as _media_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoryVideoState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORY_VIDEO_STATE_UNSPECIFIED: _ClassVar[StoryVideoState]
    STORY_VIDEO_STATE_RENDERING: _ClassVar[StoryVideoState]
    STORY_VIDEO_STATE_READY: _ClassVar[StoryVideoState]
    STORY_VIDEO_STATE_FAILED: _ClassVar[StoryVideoState]
    STORY_VIDEO_STATE_CANCELLED: _ClassVar[StoryVideoState]

class VideoResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VIDEO_RESOLUTION_UNSPECIFIED: _ClassVar[VideoResolution]
    VIDEO_RESOLUTION_360P: _ClassVar[VideoResolution]
    VIDEO_RESOLUTION_720P: _ClassVar[VideoResolution]
    VIDEO_RESOLUTION_1080P: _ClassVar[VideoResolution]
STORY_VIDEO_STATE_UNSPECIFIED: StoryVideoState
STORY_VIDEO_STATE_RENDERING: StoryVideoState
STORY_VIDEO_STATE_READY: StoryVideoState
STORY_VIDEO_STATE_FAILED: StoryVideoState
STORY_VIDEO_STATE_CANCELLED: StoryVideoState
VIDEO_RESOLUTION_UNSPECIFIED: VideoResolution
VIDEO_RESOLUTION_360P: VideoResolution
VIDEO_RESOLUTION_720P: VideoResolution
VIDEO_RESOLUTION_1080P: VideoResolution

class StoryVideo(_message.Message):
    __slots__ = ("name", "state", "options", "video", "poster", "captions", "duration", "clips", "task", "media", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    POSTER_FIELD_NUMBER: _ClassVar[int]
    CAPTIONS_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: StoryVideoState
    options: StoryVideoOptions
    video: str
    poster: str
    captions: str
    duration: _duration_pb2.Duration
    clips: _containers.RepeatedCompositeFieldContainer[SceneClip]
    task: str
    media: _containers.RepeatedCompositeFieldContainer[_media_pb2.Media]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[StoryVideoState, str]] = ..., options: _Optional[_Union[StoryVideoOptions, _Mapping]] = ..., video: _Optional[str] = ..., poster: _Optional[str] = ..., captions: _Optional[str] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., clips: _Optional[_Iterable[_Union[SceneClip, _Mapping]]] = ..., task: _Optional[str] = ..., media: _Optional[_Iterable[_Union[_media_pb2.Media, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StoryVideoOptions(_message.Message):
    __slots__ = ("resolution", "scenes_only", "captions", "burn_in_captions")
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    SCENES_ONLY_FIELD_NUMBER: _ClassVar[int]
    CAPTIONS_FIELD_NUMBER: _ClassVar[int]
    BURN_IN_CAPTIONS_FIELD_NUMBER: _ClassVar[int]
    resolution: VideoResolution
    scenes_only: bool
    captions: bool
    burn_in_captions: bool
    def __init__(self, resolution: _Optional[_Union[VideoResolution, str]] = ..., scenes_only: _Optional[bool] = ..., captions: _Optional[bool] = ..., burn_in_captions: _Optional[bool] = ...) -> None: ...

class SceneClip(_message.Message):
    __slots__ = ("scene_index", "clip", "poster", "captions", "duration")
    SCENE_INDEX_FIELD_NUMBER: _ClassVar[int]
    CLIP_FIELD_NUMBER: _ClassVar[int]
    POSTER_FIELD_NUMBER: _ClassVar[int]
    CAPTIONS_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    scene_index: int
    clip: str
    poster: str
    captions: str
    duration: _duration_pb2.Duration
    def __init__(self, scene_index: _Optional[int] = ..., clip: _Optional[str] = ..., poster: _Optional[str] = ..., captions: _Optional[str] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

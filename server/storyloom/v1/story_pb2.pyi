import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import client_pb2 as _client_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from storyloom.v1 import media_pb2 as _media_pb2
from storyloom.v1 import requirements_pb2 as _requirements_pb2
from storyloom.v1 import task_pb2 as _task_pb2
from storyloom.v1 import video_pb2 as _video_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORY_STATE_UNSPECIFIED: _ClassVar[StoryState]
    STORY_STATE_GENERATING: _ClassVar[StoryState]
    STORY_STATE_READY: _ClassVar[StoryState]
    STORY_STATE_FAILED: _ClassVar[StoryState]
    STORY_STATE_CANCELLED: _ClassVar[StoryState]

class AssetState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_STATE_UNSPECIFIED: _ClassVar[AssetState]
    ASSET_STATE_PENDING: _ClassVar[AssetState]
    ASSET_STATE_READY: _ClassVar[AssetState]
    ASSET_STATE_FAILED: _ClassVar[AssetState]
    ASSET_STATE_SKIPPED: _ClassVar[AssetState]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_MARKDOWN: _ClassVar[ExportFormat]
    EXPORT_FORMAT_PLAIN_TEXT: _ClassVar[ExportFormat]
    EXPORT_FORMAT_EPUB: _ClassVar[ExportFormat]
    EXPORT_FORMAT_PDF: _ClassVar[ExportFormat]
STORY_STATE_UNSPECIFIED: StoryState
STORY_STATE_GENERATING: StoryState
STORY_STATE_READY: StoryState
STORY_STATE_FAILED: StoryState
STORY_STATE_CANCELLED: StoryState
ASSET_STATE_UNSPECIFIED: AssetState
ASSET_STATE_PENDING: AssetState
ASSET_STATE_READY: AssetState
ASSET_STATE_FAILED: AssetState
ASSET_STATE_SKIPPED: AssetState
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_MARKDOWN: ExportFormat
EXPORT_FORMAT_PLAIN_TEXT: ExportFormat
EXPORT_FORMAT_EPUB: ExportFormat
EXPORT_FORMAT_PDF: ExportFormat

class Story(_message.Message):
    __slots__ = ("name", "title", "state", "requirements", "premise", "outline", "scenes", "planned_scene_count", "task", "conversation", "create_time", "update_time", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    PREMISE_FIELD_NUMBER: _ClassVar[int]
    OUTLINE_FIELD_NUMBER: _ClassVar[int]
    SCENES_FIELD_NUMBER: _ClassVar[int]
    PLANNED_SCENE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    state: StoryState
    requirements: _requirements_pb2.StoryRequirements
    premise: str
    outline: _containers.RepeatedCompositeFieldContainer[OutlineScene]
    scenes: _containers.RepeatedCompositeFieldContainer[Scene]
    planned_scene_count: int
    task: str
    conversation: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    error: _status_pb2.Status
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., state: _Optional[_Union[StoryState, str]] = ..., requirements: _Optional[_Union[_requirements_pb2.StoryRequirements, _Mapping]] = ..., premise: _Optional[str] = ..., outline: _Optional[_Iterable[_Union[OutlineScene, _Mapping]]] = ..., scenes: _Optional[_Iterable[_Union[Scene, _Mapping]]] = ..., planned_scene_count: _Optional[int] = ..., task: _Optional[str] = ..., conversation: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class OutlineScene(_message.Message):
    __slots__ = ("title", "summary")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    title: str
    summary: str
    def __init__(self, title: _Optional[str] = ..., summary: _Optional[str] = ...) -> None: ...

class Scene(_message.Message):
    __slots__ = ("index", "title", "text", "mood", "picture", "picture_state", "narration", "narration_state", "picture_spec")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MOOD_FIELD_NUMBER: _ClassVar[int]
    PICTURE_FIELD_NUMBER: _ClassVar[int]
    PICTURE_STATE_FIELD_NUMBER: _ClassVar[int]
    NARRATION_FIELD_NUMBER: _ClassVar[int]
    NARRATION_STATE_FIELD_NUMBER: _ClassVar[int]
    PICTURE_SPEC_FIELD_NUMBER: _ClassVar[int]
    index: int
    title: str
    text: str
    mood: str
    picture: _media_pb2.Media
    picture_state: AssetState
    narration: _media_pb2.Media
    narration_state: AssetState
    picture_spec: PictureSpec
    def __init__(self, index: _Optional[int] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., mood: _Optional[str] = ..., picture: _Optional[_Union[_media_pb2.Media, _Mapping]] = ..., picture_state: _Optional[_Union[AssetState, str]] = ..., narration: _Optional[_Union[_media_pb2.Media, _Mapping]] = ..., narration_state: _Optional[_Union[AssetState, str]] = ..., picture_spec: _Optional[_Union[PictureSpec, _Mapping]] = ...) -> None: ...

class PictureSpec(_message.Message):
    __slots__ = ("characters", "objects", "setting", "place", "time_of_day", "mood", "action")
    class TimeOfDay(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TIME_OF_DAY_UNSPECIFIED: _ClassVar[PictureSpec.TimeOfDay]
        TIME_OF_DAY_DAY: _ClassVar[PictureSpec.TimeOfDay]
        TIME_OF_DAY_SUNSET: _ClassVar[PictureSpec.TimeOfDay]
        TIME_OF_DAY_NIGHT: _ClassVar[PictureSpec.TimeOfDay]
    TIME_OF_DAY_UNSPECIFIED: PictureSpec.TimeOfDay
    TIME_OF_DAY_DAY: PictureSpec.TimeOfDay
    TIME_OF_DAY_SUNSET: PictureSpec.TimeOfDay
    TIME_OF_DAY_NIGHT: PictureSpec.TimeOfDay
    class Figure(_message.Message):
        __slots__ = ("name", "role", "species", "color", "gender", "age", "toy", "accessory")
        class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            ROLE_UNSPECIFIED: _ClassVar[PictureSpec.Figure.Role]
            ROLE_HERO: _ClassVar[PictureSpec.Figure.Role]
            ROLE_COMPANION: _ClassVar[PictureSpec.Figure.Role]
            ROLE_GUEST: _ClassVar[PictureSpec.Figure.Role]
        ROLE_UNSPECIFIED: PictureSpec.Figure.Role
        ROLE_HERO: PictureSpec.Figure.Role
        ROLE_COMPANION: PictureSpec.Figure.Role
        ROLE_GUEST: PictureSpec.Figure.Role
        class Gender(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            GENDER_UNSPECIFIED: _ClassVar[PictureSpec.Figure.Gender]
            GENDER_FEMALE: _ClassVar[PictureSpec.Figure.Gender]
            GENDER_MALE: _ClassVar[PictureSpec.Figure.Gender]
        GENDER_UNSPECIFIED: PictureSpec.Figure.Gender
        GENDER_FEMALE: PictureSpec.Figure.Gender
        GENDER_MALE: PictureSpec.Figure.Gender
        NAME_FIELD_NUMBER: _ClassVar[int]
        ROLE_FIELD_NUMBER: _ClassVar[int]
        SPECIES_FIELD_NUMBER: _ClassVar[int]
        COLOR_FIELD_NUMBER: _ClassVar[int]
        GENDER_FIELD_NUMBER: _ClassVar[int]
        AGE_FIELD_NUMBER: _ClassVar[int]
        TOY_FIELD_NUMBER: _ClassVar[int]
        ACCESSORY_FIELD_NUMBER: _ClassVar[int]
        name: str
        role: PictureSpec.Figure.Role
        species: str
        color: str
        gender: PictureSpec.Figure.Gender
        age: int
        toy: bool
        accessory: str
        def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[PictureSpec.Figure.Role, str]] = ..., species: _Optional[str] = ..., color: _Optional[str] = ..., gender: _Optional[_Union[PictureSpec.Figure.Gender, str]] = ..., age: _Optional[int] = ..., toy: _Optional[bool] = ..., accessory: _Optional[str] = ...) -> None: ...
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    SETTING_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    TIME_OF_DAY_FIELD_NUMBER: _ClassVar[int]
    MOOD_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    characters: _containers.RepeatedCompositeFieldContainer[PictureSpec.Figure]
    objects: _containers.RepeatedScalarFieldContainer[str]
    setting: str
    place: str
    time_of_day: PictureSpec.TimeOfDay
    mood: str
    action: str
    def __init__(self, characters: _Optional[_Iterable[_Union[PictureSpec.Figure, _Mapping]]] = ..., objects: _Optional[_Iterable[str]] = ..., setting: _Optional[str] = ..., place: _Optional[str] = ..., time_of_day: _Optional[_Union[PictureSpec.TimeOfDay, str]] = ..., mood: _Optional[str] = ..., action: _Optional[str] = ...) -> None: ...

class GeneratePremiseRequest(_message.Message):
    __slots__ = ("parent", "requirements")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    parent: str
    requirements: _requirements_pb2.StoryRequirements
    def __init__(self, parent: _Optional[str] = ..., requirements: _Optional[_Union[_requirements_pb2.StoryRequirements, _Mapping]] = ...) -> None: ...

class GeneratePremiseResponse(_message.Message):
    __slots__ = ("premise", "title")
    PREMISE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    premise: str
    title: str
    def __init__(self, premise: _Optional[str] = ..., title: _Optional[str] = ...) -> None: ...

class GenerateOutlineRequest(_message.Message):
    __slots__ = ("parent", "requirements", "premise")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    PREMISE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    requirements: _requirements_pb2.StoryRequirements
    premise: str
    def __init__(self, parent: _Optional[str] = ..., requirements: _Optional[_Union[_requirements_pb2.StoryRequirements, _Mapping]] = ..., premise: _Optional[str] = ...) -> None: ...

class GenerateOutlineResponse(_message.Message):
    __slots__ = ("scenes",)
    SCENES_FIELD_NUMBER: _ClassVar[int]
    scenes: _containers.RepeatedCompositeFieldContainer[OutlineScene]
    def __init__(self, scenes: _Optional[_Iterable[_Union[OutlineScene, _Mapping]]] = ...) -> None: ...

class GenerateOpeningRequest(_message.Message):
    __slots__ = ("parent", "requirements", "premise", "outline")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    PREMISE_FIELD_NUMBER: _ClassVar[int]
    OUTLINE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    requirements: _requirements_pb2.StoryRequirements
    premise: str
    outline: _containers.RepeatedCompositeFieldContainer[OutlineScene]
    def __init__(self, parent: _Optional[str] = ..., requirements: _Optional[_Union[_requirements_pb2.StoryRequirements, _Mapping]] = ..., premise: _Optional[str] = ..., outline: _Optional[_Iterable[_Union[OutlineScene, _Mapping]]] = ...) -> None: ...

class GenerateOpeningResponse(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class ContinueStoryRequest(_message.Message):
    __slots__ = ("parent", "requirements", "premise", "outline", "story_so_far")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    PREMISE_FIELD_NUMBER: _ClassVar[int]
    OUTLINE_FIELD_NUMBER: _ClassVar[int]
    STORY_SO_FAR_FIELD_NUMBER: _ClassVar[int]
    parent: str
    requirements: _requirements_pb2.StoryRequirements
    premise: str
    outline: _containers.RepeatedCompositeFieldContainer[OutlineScene]
    story_so_far: str
    def __init__(self, parent: _Optional[str] = ..., requirements: _Optional[_Union[_requirements_pb2.StoryRequirements, _Mapping]] = ..., premise: _Optional[str] = ..., outline: _Optional[_Iterable[_Union[OutlineScene, _Mapping]]] = ..., story_so_far: _Optional[str] = ...) -> None: ...

class ContinueStoryResponse(_message.Message):
    __slots__ = ("text", "finished")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    text: str
    finished: bool
    def __init__(self, text: _Optional[str] = ..., finished: _Optional[bool] = ...) -> None: ...

class CreateStoryRequest(_message.Message):
    __slots__ = ("parent", "requirements", "conversation", "text", "scene_count", "skip_illustrations", "skip_narration", "regenerate", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCENE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIP_ILLUSTRATIONS_FIELD_NUMBER: _ClassVar[int]
    SKIP_NARRATION_FIELD_NUMBER: _ClassVar[int]
    REGENERATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    requirements: _requirements_pb2.StoryRequirements
    conversation: str
    text: str
    scene_count: int
    skip_illustrations: bool
    skip_narration: bool
    regenerate: bool
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., requirements: _Optional[_Union[_requirements_pb2.StoryRequirements, _Mapping]] = ..., conversation: _Optional[str] = ..., text: _Optional[str] = ..., scene_count: _Optional[int] = ..., skip_illustrations: _Optional[bool] = ..., skip_narration: _Optional[bool] = ..., regenerate: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetStoryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListStoriesRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token", "states")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[StoryState]
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[StoryState, str]]] = ...) -> None: ...

class ListStoriesResponse(_message.Message):
    __slots__ = ("stories", "next_page_token")
    STORIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    stories: _containers.RepeatedCompositeFieldContainer[Story]
    next_page_token: str
    def __init__(self, stories: _Optional[_Iterable[_Union[Story, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteStoryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ExportStoryRequest(_message.Message):
    __slots__ = ("name", "format")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    name: str
    format: ExportFormat
    def __init__(self, name: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class GetStoryBundleRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class IllustrateTextRequest(_message.Message):
    __slots__ = ("parent", "text", "document", "illustration_style", "narrate", "max_scenes", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    ILLUSTRATION_STYLE_FIELD_NUMBER: _ClassVar[int]
    NARRATE_FIELD_NUMBER: _ClassVar[int]
    MAX_SCENES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    text: str
    document: str
    illustration_style: str
    narrate: bool
    max_scenes: int
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., text: _Optional[str] = ..., document: _Optional[str] = ..., illustration_style: _Optional[str] = ..., narrate: _Optional[bool] = ..., max_scenes: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateStoryVideoRequest(_message.Message):
    __slots__ = ("parent", "options", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    options: _video_pb2.StoryVideoOptions
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., options: _Optional[_Union[_video_pb2.StoryVideoOptions, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetStoryVideoRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListStoryVideosRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStoryVideosResponse(_message.Message):
    __slots__ = ("story_videos", "next_page_token")
    STORY_VIDEOS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    story_videos: _containers.RepeatedCompositeFieldContainer[_video_pb2.StoryVideo]
    next_page_token: str
    def __init__(self, story_videos: _Optional[_Iterable[_Union[_video_pb2.StoryVideo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

"""StoryService: proto <-> Stories."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable
from typing import Literal

from google.api import httpbody_pb2
from google.protobuf import empty_pb2

from storyloom.api import downloads
from storyloom.api import requirements as requirements_api
from storyloom.api.cache import ReadCache
from storyloom.api.context import Context
from storyloom.api.errors import status_for_task_error
from storyloom.api.media import media_proto
from storyloom.api.requests import (
    PageTokens,
    after_time,
    check_request_id,
    paginate,
    resource_id,
    resource_path,
    time_position,
    timestamp,
    user_parent,
)
from storyloom.api.tasks import TaskServicer
from storyloom.api.videos import VideoMethods
from storyloom.domain import stories as domain
from storyloom.domain.books import BookFormat, Books
from storyloom.domain.bundles import Bundles
from storyloom.domain.errors import FieldViolation, InvalidArgument, Unimplemented
from storyloom.domain.illustrations import Illustrations
from storyloom.domain.media import MediaItem
from storyloom.domain.picture_spec import PictureSpec
from storyloom.domain.ports.story import OutlineScene
from storyloom.domain.requirements import StoryRequirements, with_defaults
from storyloom.domain.videos import StoryVideos
from storyloom.v1 import requirements_pb2, story_pb2, story_pb2_grpc, task_pb2

STORY = ("users", "stories")
_STATE: dict[domain.StoryState, story_pb2.StoryState] = {
    "GENERATING": story_pb2.STORY_STATE_GENERATING, "READY": story_pb2.STORY_STATE_READY,
    "FAILED": story_pb2.STORY_STATE_FAILED, "CANCELLED": story_pb2.STORY_STATE_CANCELLED}
_STATE_FROM_PROTO = {v: k for k, v in _STATE.items()}
_ASSET = {"PENDING": story_pb2.ASSET_STATE_PENDING, "READY": story_pb2.ASSET_STATE_READY,
          "FAILED": story_pb2.ASSET_STATE_FAILED, "SKIPPED": story_pb2.ASSET_STATE_SKIPPED}
_FIGURE = story_pb2.PictureSpec.Figure
_ROLE = {"hero": _FIGURE.ROLE_HERO, "companion": _FIGURE.ROLE_COMPANION, "guest": _FIGURE.ROLE_GUEST}
_GENDER = {"female": _FIGURE.GENDER_FEMALE, "male": _FIGURE.GENDER_MALE}
_TIME_OF_DAY = {"day": story_pb2.PictureSpec.TIME_OF_DAY_DAY, "sunset": story_pb2.PictureSpec.TIME_OF_DAY_SUNSET,
                "night": story_pb2.PictureSpec.TIME_OF_DAY_NIGHT}
MAX_PREMISE = 4000
MAX_OUTLINE = 20
MAX_STORY_SO_FAR = 100_000


def story_proto(story: domain.Story, media: dict[str, MediaItem] | None = None) -> story_pb2.Story:
    message = story_pb2.Story(
        name=story.name, title=story.title, state=_STATE[story.state],
        requirements=requirements_api.to_proto(story.requirements), premise=story.premise,
        outline=[story_pb2.OutlineScene(title=o.title, summary=o.summary) for o in story.outline],
        planned_scene_count=story.planned_scene_count, task=f"tasks/{story.task_id}",
        conversation=f"users/{story.user_id}/conversations/{story.conversation_id}" if story.conversation_id else "",
        create_time=timestamp(story.create_time), update_time=timestamp(story.update_time))
    if story.error is not None and story.state in ("FAILED", "CANCELLED"):
        message.error.CopyFrom(status_for_task_error(story.error))
    message.scenes.extend(scene_proto(scene, media) for scene in story.scenes)
    return message


def scene_proto(scene: domain.Scene, media: dict[str, MediaItem] | None = None) -> story_pb2.Scene:
    message = story_pb2.Scene(index=scene.index, title=scene.title, text=scene.text, mood=scene.mood,
                              picture_state=_ASSET[scene.picture_state], narration_state=_ASSET[scene.narration_state])
    if scene.picture_spec is not None:
        message.picture_spec.CopyFrom(picture_spec_proto(scene.picture_spec))
    if media is not None and scene.picture_id in media:
        message.picture.CopyFrom(media_proto(media[scene.picture_id]))
    if media is not None and scene.narration_id in media:
        message.narration.CopyFrom(media_proto(media[scene.narration_id]))
    return message


def picture_spec_proto(spec: PictureSpec) -> story_pb2.PictureSpec:
    """What a scene's picture shows; words the contract has no value for are left unspecified."""
    return story_pb2.PictureSpec(
        characters=[_FIGURE(name=f.name, role=_ROLE.get(f.role, _FIGURE.ROLE_UNSPECIFIED), species=f.species,
                            color=f.colour, gender=_GENDER.get(f.gender, _FIGURE.GENDER_UNSPECIFIED), age=f.age,
                            toy=f.toy, accessory=f.accessory) for f in spec.characters],
        objects=spec.objects, setting=spec.setting, place=spec.place,
        time_of_day=_TIME_OF_DAY.get(spec.time_of_day, story_pb2.PictureSpec.TIME_OF_DAY_UNSPECIFIED),
        mood=spec.mood, action=spec.action)


class StoryReader:
    """Stories as GetStory answers them: built once and served from memory until an announced change (api/cache.py).
    Every change of a story is announced, even of one still being written (`domain.story_changes`), and of the
    media it shows."""

    def __init__(self, stories: domain.Stories, cache: ReadCache | None = None):
        self._stories = stories
        self._cache = cache if cache is not None else ReadCache()

    def cached(self, user_id: str, story_id: str) -> story_pb2.Story | None:
        """The story's finished answer if it is kept, without reading the store."""
        return self._cache.owned(f"users/{user_id}/stories/{story_id}", story_pb2.Story, user_id)

    async def story(self, user_id: str, story_id: str) -> story_pb2.Story:
        """The story (NotFound as `Stories.get`). The message may be shared: do not change it."""
        cached = self.cached(user_id, story_id)
        if cached is not None:
            return cached
        since = self._cache.token()
        story = await self._stories.get(user_id, story_id)
        media = await self._stories.media(user_id, story)
        message = story_proto(story, media)
        self._cache.put(story.name, user_id, message, since=since, depends=[
            domain.story_changes(story.id),
            *(f"media/{i}" for s in story.scenes for i in (s.picture_id, s.narration_id) if i)])
        return message

    async def scene(self, user_id: str, story_id: str, index: int) -> story_pb2.Scene | None:
        """One scene of the story with its media, as a SCENE_READY event carries it; None once the story is gone.
        From the story's cached answer if there is one, else two short reads (the scene, its media)."""
        cached = self.cached(user_id, story_id)
        if cached is not None:
            return next((s for s in cached.scenes if s.index == index), None)
        scene = await self._stories.scene(user_id, story_id, index)
        if scene is None:
            return None
        ids = [i for i in (scene.picture_id, scene.narration_id) if i]
        return scene_proto(scene, await self._stories.media_items(user_id, ids))


class StoryServicer(VideoMethods, story_pb2_grpc.StoryServiceServicer):
    def __init__(self, stories: domain.Stories, tasks: TaskServicer, tokens: PageTokens, videos: StoryVideos,
                 reader: StoryReader | None = None, *, files: StoryFiles | None = None):
        VideoMethods.__init__(self, videos, tasks, tokens)
        self._stories = stories
        self._tasks = tasks
        self._tokens = tokens
        self._reader = reader if reader is not None else StoryReader(stories)
        self._files = files

    async def GeneratePremise(self, request: story_pb2.GeneratePremiseRequest,
                              context: Context) -> story_pb2.GeneratePremiseResponse:
        user_parent(request.parent)
        requirements = _requirements(request.requirements)
        premise = await self._stories.writer.premise(requirements)
        return story_pb2.GeneratePremiseResponse(premise=premise.premise, title=premise.title)

    async def GenerateOutline(self, request: story_pb2.GenerateOutlineRequest,
                              context: Context) -> story_pb2.GenerateOutlineResponse:
        user_parent(request.parent)
        requirements = _requirements(request.requirements)
        _check_premise(request.premise)
        count = domain.SCENES_FOR_LENGTH[requirements.length]
        outline = await self._stories.writer.outline(requirements, request.premise, count)
        return story_pb2.GenerateOutlineResponse(
            scenes=[story_pb2.OutlineScene(title=o.title, summary=o.summary) for o in outline])

    async def GenerateOpening(self, request: story_pb2.GenerateOpeningRequest,
                              context: Context) -> story_pb2.GenerateOpeningResponse:
        user_parent(request.parent)
        requirements = _requirements(request.requirements)
        _check_premise(request.premise)
        text = await self._stories.writer.opening(requirements, request.premise, _outline(request.outline))
        return story_pb2.GenerateOpeningResponse(text=text)

    async def ContinueStory(self, request: story_pb2.ContinueStoryRequest,
                            context: Context) -> story_pb2.ContinueStoryResponse:
        user_parent(request.parent)
        requirements = _requirements(request.requirements)
        _check_premise(request.premise)
        outline = _outline(request.outline)
        if not request.story_so_far.strip():
            raise InvalidArgument(FieldViolation("story_so_far", "is required"))
        if len(request.story_so_far) > MAX_STORY_SO_FAR:
            raise InvalidArgument(FieldViolation("story_so_far", f"must be at most {MAX_STORY_SO_FAR} characters"))
        text, finished = await self._stories.writer.continue_story(requirements, request.premise, outline,
                                                                   request.story_so_far)
        return story_pb2.ContinueStoryResponse(text=text, finished=finished)

    async def CreateStory(self, request: story_pb2.CreateStoryRequest,
                          context: Context) -> task_pb2.Task:
        user = user_parent(request.parent)
        check_request_id(request.request_id)
        options = domain.StoryOptions(scene_count=request.scene_count, skip_illustrations=request.skip_illustrations,
                                      skip_narration=request.skip_narration)
        source = request.WhichOneof("source")
        if source == "requirements":
            task = await self._stories.create(user, requirements=requirements_api.from_proto(request.requirements),
                                              options=options, regenerate=request.regenerate,
                                              request_id=request.request_id)
        elif source == "conversation":
            owner, conversation_id = resource_path(request.conversation, ("users", "conversations"), "conversation")
            task = await self._stories.create(owner, conversation_id=conversation_id, options=options,
                                              regenerate=request.regenerate, request_id=request.request_id)
        elif source == "text":
            task = await self._stories.create(user, text=request.text, options=options, regenerate=request.regenerate,
                                              request_id=request.request_id)
        else:
            raise InvalidArgument(FieldViolation("requirements", "give requirements, a conversation or a text"),
                                  reason="STORY_SOURCE_MISSING")
        return await self._tasks.to_proto(task)

    async def GetStory(self, request: story_pb2.GetStoryRequest, context: Context) -> story_pb2.Story:
        user, story_id = resource_path(request.name, STORY, "name")
        return await self._reader.story(user, story_id)

    async def ListStories(self, request: story_pb2.ListStoriesRequest,
                          context: Context) -> story_pb2.ListStoriesResponse:
        user = user_parent(request.parent)
        states: list[domain.StoryState] = []
        for i, value in enumerate(request.states):
            if value not in _STATE_FROM_PROTO:
                raise InvalidArgument(FieldViolation(f"states[{i}]",
                                                     "must be a known StoryState other than UNSPECIFIED"))
            states.append(_STATE_FROM_PROTO[value])
        found, token = await paginate(
            request, self._tokens, default=20, maximum=100,
            fingerprint={"user": user, "states": sorted(states), "list": "stories"},
            fetch=lambda limit, after: self._stories.list(user, states=tuple(states), limit=limit,
                                                          after=after_time(after)),
            position=lambda story: time_position(story.create_time, story.id))
        return story_pb2.ListStoriesResponse(stories=[story_proto(s) for s in found], next_page_token=token)

    async def DeleteStory(self, request: story_pb2.DeleteStoryRequest,
                          context: Context) -> empty_pb2.Empty:
        user, story_id = resource_path(request.name, STORY, "name")
        await self._stories.delete(user, story_id)  # announced: the reader's copy goes
        return empty_pb2.Empty()

    async def ExportStory(self, request: story_pb2.ExportStoryRequest,
                          context: Context) -> httpbody_pb2.HttpBody:
        user, story_id = resource_path(request.name, STORY, "name")
        text: dict[int, Literal["MARKDOWN", "PLAIN_TEXT"]] = {
            story_pb2.EXPORT_FORMAT_UNSPECIFIED: "MARKDOWN", story_pb2.EXPORT_FORMAT_MARKDOWN: "MARKDOWN",
            story_pb2.EXPORT_FORMAT_PLAIN_TEXT: "PLAIN_TEXT"}
        books: dict[int, BookFormat] = {story_pb2.EXPORT_FORMAT_EPUB: "EPUB", story_pb2.EXPORT_FORMAT_PDF: "PDF"}
        if request.format in text:
            content_type, data = await self._stories.export(user, story_id, text[request.format])
        elif request.format in books and self._files is not None:
            content_type, data = await self._files.books.export(user, story_id, books[request.format])
        else:
            raise InvalidArgument(FieldViolation("format", f"{request.format} is not a known ExportFormat"))
        return httpbody_pb2.HttpBody(content_type=content_type, data=data)

    async def GetStoryBundle(self, request: story_pb2.GetStoryBundleRequest,
                             context: Context) -> AsyncIterator[httpbody_pb2.HttpBody]:
        """The ZIP, streamed; If-None-Match with the bundle's ETag answers 304 with no chunks."""
        user, story_id = resource_path(request.name, STORY, "name")
        files = self._require_files()
        bundle = await files.bundles.open(user, story_id)
        etag = downloads.etag_of(bundle.etag)
        answer = downloads.Plan(304 if downloads.not_modified(
            downloads.request_headers(context).get("if-none-match"), etag) else 200)
        disposition = ("content-disposition", f'attachment; filename="story-{story_id}.zip"')
        await downloads.send_headers(context, answer, etag=etag, size=-1, cache_control=downloads.REVALIDATE,
                                     extra=(disposition,))
        if answer.status == 304:
            return  # the archive was never started
        first = True
        async for chunk in _rechunk(bundle.chunks):
            yield httpbody_pb2.HttpBody(content_type="application/zip" if first else "", data=chunk)
            first = False

    async def IllustrateText(self, request: story_pb2.IllustrateTextRequest, context: Context) -> task_pb2.Task:
        user = user_parent(request.parent)
        check_request_id(request.request_id)
        document = ""
        if request.WhichOneof("source") == "document":
            document = resource_id(request.document, "media", "document")
        task = await self._require_files().illustrations.illustrate(
            user, text=request.text, document_id=document, style=request.illustration_style,
            narrate=request.narrate, max_scenes=request.max_scenes, request_id=request.request_id)
        return await self._tasks.to_proto(task)

    def _require_files(self) -> StoryFiles:
        if self._files is None:
            raise Unimplemented("story files are not configured")
        return self._files


@dataclasses.dataclass(frozen=True)
class StoryFiles:
    """What serves a story's files beyond its text: bundles, picture books, the illustrator."""

    bundles: Bundles
    books: Books
    illustrations: Illustrations


async def _rechunk(chunks: AsyncIterator[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """The archive's bytes in messages of at most `size` bytes (the contract's 64 KiB)."""
    async for chunk in chunks:
        for start in range(0, len(chunk), size):
            yield chunk[start:start + size]


def _requirements(message: requirements_pb2.StoryRequirements) -> StoryRequirements:
    requirements = requirements_api.from_proto(message)
    domain.require_something(requirements)
    return with_defaults(requirements)


def _check_premise(premise: str) -> None:
    if not premise.strip():
        raise InvalidArgument(FieldViolation("premise", "is required"))
    if len(premise) > MAX_PREMISE:
        raise InvalidArgument(FieldViolation("premise", f"must be at most {MAX_PREMISE} characters"))


def _outline(scenes: Iterable[story_pb2.OutlineScene]) -> list[OutlineScene]:
    items = list(scenes)
    if not 1 <= len(items) <= MAX_OUTLINE:
        raise InvalidArgument(FieldViolation("outline", f"must have 1 to {MAX_OUTLINE} scenes"))
    return [OutlineScene(s.title, s.summary) for s in items]

"""Story videos: a finished story's pictures and narration rendered to MP4 as a resumable task.

The timeline: a title card, then one clip per scene (its picture slowly panned and zoomed, LEAD_MS of quiet, its
narration, TAIL_MS of quiet), each crossfading into the next over FADE_MS. So a video lasts
TITLE_MS + the narrations + scenes x (LEAD_MS + TAIL_MS - FADE_MS), to a frame. Captions are WebVTT, one
cue per narrated sentence, timed from the pauses between the sentences (the NarrationAligner port), and optionally
drawn into the frames.

Each scene's clip is stored as media (with a poster frame) as soon as it is rendered, and the video row lists it: that
row is the checkpoint, so a task resumed after a crash renders only the clips still missing, then joins them.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from storyloom.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from storyloom.domain.media import MediaItem, MediaLibrary, made_by_task
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.video import ClipSpec, Cue, NarrationAligner, VideoEncoder, VideoFormat
from storyloom.domain.stories import Scene, Stories, Story
from storyloom.domain.tasks import Task, TaskClaim, TaskContext, TaskError, TaskFenced, TaskRunner, TaskState

log = logging.getLogger(__name__)

VIDEO_KIND = "story.video"
TITLE_MS = 3000
FADE_MS = 500
LEAD_MS = 500  # quiet before a scene's narration
TAIL_MS = 500  # and after it
SILENT_SCENE_MS = 5000  # a scene without narration shows this long
FRAMES_PER_SECOND = 20
# A join copies the clips' frames and encodes only the fades: measured at about a fifth of rendering the clips.
JOIN_SHARE = 0.2
RESOLUTIONS = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}

VideoState = Literal["RENDERING", "READY", "FAILED", "CANCELLED"]


@dataclasses.dataclass(frozen=True)
class VideoOptions:
    resolution: str = "720p"
    scenes_only: bool = False  # one clip per scene, no joined video
    captions: bool = False  # a WebVTT file of the narration's sentences
    burn_in_captions: bool = False  # the captions drawn into the frames too

    @property
    def format(self) -> VideoFormat:
        width, height = RESOLUTIONS[self.resolution]
        return VideoFormat(width, height, FRAMES_PER_SECOND)


@dataclasses.dataclass(frozen=True)
class SceneClip:
    scene_index: int
    media_id: str  # video/mp4, with a `poster` rendition (and `captions`, when asked for)
    duration_ms: int
    poster_id: str = ""
    captions_id: str = ""


@dataclasses.dataclass(frozen=True)
class StoryVideo:
    id: str
    user_id: str
    story_id: str
    state: VideoState
    options: VideoOptions
    create_time: dt.datetime
    update_time: dt.datetime
    task_id: str = ""
    clips: tuple[SceneClip, ...] = ()
    media_id: str = ""  # the joined video (not in scenes-only mode)
    poster_id: str = ""
    captions_id: str = ""
    duration_ms: int = 0

    @property
    def name(self) -> str:
        return f"users/{self.user_id}/stories/{self.story_id}/videos/{self.id}"


class VideoRepository(Protocol):
    async def create(self, video: StoryVideo, request_id: str) -> tuple[StoryVideo, bool]:
        """Stores a new video; on a (user, request_id) clash returns the existing one and False."""

    async def get(self, video_id: str) -> StoryVideo | None: ...

    async def list(self, story_id: str, *, limit: int, after: tuple[dt.datetime, str] | None) -> list[StoryVideo]:
        """The story's videos, newest first."""

    async def update(self, video_id: str, *, claim: TaskClaim | None = None, attach: Sequence[str] = (),
                     **fields: Any) -> None:
        """Changes the video's fields. With a `claim` (its task's writes), only while the task still holds it, checked
        in the write itself: else raises TaskFenced and changes nothing. LookupError if there is no video. `attach`:
        media the video now refers to, unmarked as their task's in the same transaction (MediaRepository.add)."""

    async def delete_for_story(self, story_id: str) -> builtins.list[StoryVideo]:
        """Deletes the story's videos; returns them."""


def timeline(clip_ms: Sequence[int]) -> builtins.list[int]:
    """Where each scene's clip starts in the joined video, after the title card, each fade overlapping."""
    starts, position = [], TITLE_MS - FADE_MS
    for duration in clip_ms:
        starts.append(position)
        position += duration - FADE_MS
    return starts


def webvtt(cues: Sequence[Cue]) -> bytes:
    """Cues as a WebVTT file."""
    def stamp(ms: int) -> str:
        hours, rest = divmod(max(0, ms), 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"

    lines = ["WEBVTT", ""]
    for number, cue in enumerate(cues, 1):
        text = cue.text.replace("-->", "->").replace("\n", " ")
        lines += [str(number), f"{stamp(cue.start_ms)} --> {stamp(cue.end_ms)}", text, ""]
    return "\n".join(lines).encode()


class StageTimer:
    """Seconds of rendering per second of video (a moving average), for ETAs."""

    def __init__(self, seconds_per_second: float = 0.5):
        self.ratio = seconds_per_second

    def record(self, seconds: float, video_ms: int) -> None:
        if video_ms > 0:
            self.ratio = 0.7 * self.ratio + 0.3 * seconds / (video_ms / 1000)


class StoryVideos:
    def __init__(self, repository: VideoRepository, tasks: TaskRunner, stories: Stories, media: MediaLibrary,
                 encoder: VideoEncoder, aligner: NarrationAligner, *, clock: Clock = SYSTEM_CLOCK):
        self._repo = repository
        self._tasks = tasks
        self._stories = stories
        self._media = media
        self._encoder = encoder
        self._aligner = aligner
        self._clock = clock
        self.timer = StageTimer()
        # CPU-bound: one video at a time. `_follow` ends a video whose task ended without its handler finishing.
        tasks.register(VIDEO_KIND, self._render, concurrency=1, on_end=self._follow)
        stories.on_delete(self._story_deleted)

    async def _follow(self, task: Task, state: TaskState, error: TaskError | None,
                      claim: TaskClaim | None = None) -> None:
        """The video's task is ending: a video still RENDERING (cancelled while it waited, failed before it ran,
        out of attempts) ends with it, under the claim the end is recorded with: a worker that lost the task does not
        end the video another attempt renders."""
        video = await self._repo.get(str(task.params.get("video_id", "")))
        if video is None or video.state != "RENDERING" or state is TaskState.SUCCEEDED:
            return
        with contextlib.suppress(LookupError):  # deleted with its story meanwhile
            await self._repo.update(video.id, claim=claim,
                                    state="CANCELLED" if state is TaskState.CANCELLED else "FAILED",
                                    update_time=self._clock.now())

    async def create(self, user_id: str, story_id: str, options: VideoOptions, *, request_id: str = "") -> Task:
        """Starts rendering a video of a finished story; returns its task."""
        if options.resolution not in RESOLUTIONS:
            raise InvalidArgument(FieldViolation("resolution", "must be one of " + ", ".join(RESOLUTIONS)))
        if options.burn_in_captions and not options.captions:
            options = dataclasses.replace(options, captions=True)
        story = await self._stories.get(user_id, story_id)
        if story.state != "READY":
            raise FailedPrecondition(f"The story is {story.state.lower()}; only a finished story can be filmed.",
                                     reason="STORY_NOT_READY", metadata={"state": story.state})
        now = self._clock.now()
        video = StoryVideo(id=uuid.uuid4().hex, user_id=user_id, story_id=story_id, state="RENDERING",
                           options=options, create_time=now, update_time=now, task_id=uuid.uuid4().hex)
        stored, created = await self._repo.create(video, request_id)
        if not created:
            return await self._tasks.get(user_id, stored.task_id)
        return await self._tasks.submit(user_id, VIDEO_KIND, {"video_id": video.id}, target=video.name,
                                        task_id=video.task_id, message="Waiting to start filming.")

    async def get(self, user_id: str, story_id: str, video_id: str) -> StoryVideo:
        video = await self._repo.get(video_id)
        if video is None or video.user_id != user_id or video.story_id != story_id:
            raise NotFound(f"users/{user_id}/stories/{story_id}/videos/{video_id}")
        return video

    async def find(self, video_id: str) -> StoryVideo | None:
        return await self._repo.get(video_id)

    async def list(self, user_id: str, story_id: str, *, limit: int,
                   after: tuple[dt.datetime, str] | None) -> list[StoryVideo]:
        await self._stories.get(user_id, story_id)  # NotFound for another's story
        return await self._repo.list(story_id, limit=limit, after=after)

    async def media(self, video: StoryVideo) -> dict[str, MediaItem]:
        """The media items of the video and its clips, by id."""
        ids = [i for i in (video.media_id, video.poster_id, video.captions_id) if i]
        ids += [i for c in video.clips for i in (c.media_id, c.poster_id, c.captions_id) if i]
        return await self._media.get_many(video.user_id, ids)

    async def _story_deleted(self, user_id: str, story_id: str) -> None:
        """A story's videos go with it: their tasks are cancelled, their rows and media deleted."""
        for video in await self._repo.list(story_id, limit=10_000, after=None):
            if video.state == "RENDERING":
                with contextlib.suppress(NotFound):  # waits for the task to stop
                    await self._tasks.cancel(user_id, video.task_id)
        videos = await self._repo.delete_for_story(story_id)
        ids = [i for v in videos for i in (v.media_id, *(c.media_id for c in v.clips)) if i]
        await self._media.delete(user_id, ids)

    # --- the task ----------------------------------------------------------------------------------------------

    async def _render(self, ctx: TaskContext) -> None:
        """Every write of the video here is under the attempt's claim (`ctx.claim`): a worker that lost the task is
        refused it (TaskFenced), so it changes nothing another attempt renders."""
        video_id = str(ctx.params["video_id"])
        try:
            await self._film(ctx, video_id)
        except asyncio.CancelledError:
            if ctx.cancel_requested:
                with contextlib.suppress(TaskFenced, LookupError):  # the task moved on, or the video went
                    await asyncio.shield(self._repo.update(video_id, claim=ctx.claim, state="CANCELLED",
                                                           update_time=self._clock.now()))
            raise
        except TaskFenced:
            raise  # the task is no longer this attempt's: nor is the video
        except Exception:
            with contextlib.suppress(LookupError):  # deleted with its story meanwhile: the failure stands
                await self._repo.update(video_id, claim=ctx.claim, state="FAILED", update_time=self._clock.now())
            raise

    async def _film(self, ctx: TaskContext, video_id: str) -> None:
        video = await self._repo.get(video_id)
        if video is None:
            raise NotFound(f"videos/{video_id}")
        story = await self._stories.get(video.user_id, video.story_id)
        fmt = video.options.format
        scenes = list(story.scenes)
        clips = list(video.clips)
        made_by = made_by_task(ctx.claim)  # the mark of the media this attempt stores until it attaches them
        planned = await self._planned_ms(video.user_id, scenes)
        for scene in scenes[len(clips):]:
            await self._report(ctx, video.options, planned, clips, f"Filming scene {scene.index + 1} of "
                                                                   f"{len(scenes)}.")
            clip = await self._clip(video, story, scene, fmt, made_by)
            clips.append(clip)
            # Refused: the clip goes (with its renditions).
            async with self._media.attaching(video.user_id, [clip.media_id]) as attach:
                await self._repo.update(video_id, claim=ctx.claim, attach=attach, clips=clips,
                                        update_time=self._clock.now())
        if video.options.scenes_only:
            await self._repo.update(video_id, claim=ctx.claim, state="READY",
                                    duration_ms=sum(c.duration_ms for c in clips), update_time=self._clock.now())
            await ctx.progress(stage="done", percent=100, message="The scene clips are ready.")
            return
        await self._report(ctx, video.options, planned, clips, "Joining the scenes.")
        await self._join(ctx.claim, video, story, clips, fmt, made_by)
        await ctx.progress(stage="done", percent=100, message="The video is ready.")

    async def _report(self, ctx: TaskContext, options: VideoOptions, planned: builtins.list[int],
                      clips: builtins.list[SceneClip], message: str) -> None:
        """Progress by the share of video seconds rendered (the join counted as JOIN_SHARE of rendering them all
        again), ETA from the pace of the clips."""
        join = 0 if options.scenes_only else round(JOIN_SHARE * (TITLE_MS + sum(planned)))
        total = sum(planned) + join
        done = sum(c.duration_ms for c in clips)
        remaining_ms = total - done
        percent = min(99, round(100 * done / max(1, total)))
        eta = self._clock.now() + dt.timedelta(seconds=self.timer.ratio * remaining_ms / 1000)
        stage = "scenes" if len(clips) < len(planned) else "joining"
        await ctx.progress(stage=stage, percent=percent, message=message, eta=eta,
                           checkpoint={"clips": len(clips)})

    async def _planned_ms(self, user_id: str, scenes: Sequence[Scene]) -> builtins.list[int]:
        narrations = await self._media.get_many(user_id, [s.narration_id for s in scenes if s.narration_id])
        planned = []
        for scene in scenes:
            item = narrations.get(scene.narration_id or "")
            planned.append(LEAD_MS + item.duration_ms + TAIL_MS if item and item.duration_ms else SILENT_SCENE_MS)
        return planned

    async def _clip(self, video: StoryVideo, story: Story, scene: Scene, fmt: VideoFormat,
                    made_by: str) -> SceneClip:
        picture = await self._bytes(video.user_id, scene.picture_id)
        narration = await self._bytes(video.user_id, scene.narration_id)
        cues = await self._sentences(scene, narration) if narration and video.options.captions else []
        cues = [Cue(c.start_ms + LEAD_MS, c.end_ms + LEAD_MS, c.text) for c in cues]
        narration_ms = await self._duration(video.user_id, scene.narration_id)
        spec = ClipSpec(
            duration_ms=LEAD_MS + narration_ms + TAIL_MS if narration else SILENT_SCENE_MS,
            title=scene.title, subtitle=story.title, picture_png=picture, narration_wav=narration,
            narration_start_ms=LEAD_MS, motion=scene.index, cues=tuple(cues) if video.options.burn_in_captions else (),
            fade_ms=FADE_MS,
        )
        started = self._clock.monotonic()
        rendered = await self._encoder.render_clip(spec, fmt)
        self.timer.record(self._clock.monotonic() - started, rendered.duration_ms)
        item = await self._media.store_rendered(video.user_id, rendered.mp4, "video/mp4", width=rendered.width,
                                                height=rendered.height, duration_ms=rendered.duration_ms,
                                                purpose="scene-clip", made_by_task=made_by)
        poster = await self._media.store(video.user_id, rendered.poster_png, "image/png", parent_id=item.id,
                                         purpose="poster")
        captions_id = ""
        if cues:
            captions = await self._media.store_rendered(video.user_id, webvtt(cues), "text/vtt", parent_id=item.id,
                                                        purpose="captions")
            captions_id = captions.id
        return SceneClip(scene.index, item.id, rendered.duration_ms, poster.id, captions_id)

    async def _join(self, claim: TaskClaim | None, video: StoryVideo, story: Story, clips: builtins.list[SceneClip],
                    fmt: VideoFormat, made_by: str) -> None:
        title = ClipSpec(duration_ms=TITLE_MS, title=story.title or "A story",
                         subtitle=f"{len(clips)} scenes" if len(clips) != 1 else "", fade_ms=FADE_MS)
        parts = [(await self._encoder.render_clip(title, fmt)).mp4]
        for clip in clips:
            parts.append(await self._bytes(video.user_id, clip.media_id) or b"")
        joined = await self._encoder.join(parts, FADE_MS, fmt)
        item = await self._media.store_rendered(video.user_id, joined.mp4, "video/mp4", width=joined.width,
                                                height=joined.height, duration_ms=joined.duration_ms,
                                                purpose="story-video", made_by_task=made_by)
        poster = await self._media.store(video.user_id, joined.poster_png, "image/png", parent_id=item.id,
                                         purpose="poster")
        captions_id = ""
        if video.options.captions:
            cues = []
            scenes = {s.index: s for s in story.scenes}
            for start, clip in zip(timeline([c.duration_ms for c in clips]), clips, strict=True):
                scene = scenes[clip.scene_index]
                narration = await self._bytes(video.user_id, scene.narration_id)
                if narration:
                    cues += [Cue(c.start_ms + start + LEAD_MS, c.end_ms + start + LEAD_MS, c.text)
                             for c in await self._sentences(scene, narration)]
            captions = await self._media.store_rendered(video.user_id, webvtt(cues), "text/vtt", parent_id=item.id,
                                                        purpose="captions")
            captions_id = captions.id
        async with self._media.attaching(video.user_id, [item.id]) as attach:  # refused: it goes (with renditions)
            await self._repo.update(video.id, claim=claim, attach=attach, state="READY", media_id=item.id,
                                    poster_id=poster.id, captions_id=captions_id, duration_ms=joined.duration_ms,
                                    update_time=self._clock.now())

    async def _sentences(self, scene: Scene, narration: bytes) -> builtins.list[Cue]:
        return await asyncio.to_thread(self._aligner.sentences, scene.text, narration)

    async def _bytes(self, user_id: str, media_id: str | None) -> bytes | None:
        if not media_id:
            return None
        try:
            _, chunks = await self._media.read(user_id, media_id)
        except NotFound:
            return None
        return b"".join([chunk async for chunk in chunks])

    async def _duration(self, user_id: str, media_id: str | None) -> int:
        if not media_id:
            return 0
        found = await self._media.get_many(user_id, [media_id])
        return found[media_id].duration_ms or 0 if media_id in found else 0

"""`StoryloomClient`: the generated betterproto2 stubs with the API key, default deadlines, AIP-194 retries, and
helpers that follow long work across dropped connections.

    async with StoryloomClient("127.0.0.1:50051", api_key) as client:
        task = await client.create_story(v1.StoryRequirements(setting="the moon"), scene_count=2)
        async for event in client.watch_task(task.name):   # re-attaches after a dropped connection
            print(event.stage, event.percent)

Call policy:

- **Deadlines.** Unary calls get `timeout` seconds (10 by default) for the whole call, retries included; streams
  get none (a story takes as long as it takes). Every stub method still takes `timeout=` or `deadline=`.
- **Retries (AIP-194).** Only UNAVAILABLE is retried, with exponential backoff and jitter, and only for calls that
  are safe to repeat: the methods the contract marks `idempotency_level = NO_SIDE_EFFECTS` (`IDEMPOTENT_METHODS`),
  and creating calls whose request carries a `request_id` (AIP-155: the server returns the first result). A
  stream is retried only before its first message; after that, resuming is the job of `watch_task`, `chat` and
  `download_media`, which know where they were (`after_sequence`, `read_offset`).
- **Errors.** Every failure is a `StoryloomError` (see `storyloom_client.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import ssl
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol, Self, TypeVar

from betterproto2.grpclib.grpclib_client import ServiceStub
from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.metadata import Deadline

from .bundles import Bundle, verify_bundle
from .errors import ChecksumMismatch, Status, StatusDetailsCodec, StoryloomError, translate
from .generated.google.api import HttpBody
from .generated.storyloom import v1

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_TIMEOUT",
    "IDEMPOTENT_METHODS",
    "TERMINAL_TASK_STATES",
    "RetryPolicy",
    "StoryloomClient",
]

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 10.0

# The methods whose contract says `idempotency_level = NO_SIDE_EFFECTS` (tests/e2e/clients check this list against
# the protos). Retrying them on UNAVAILABLE cannot change anything on the server.
IDEMPOTENT_METHODS: frozenset[str] = frozenset({
    "/storyloom.v1.TaskService/GetTask",
    "/storyloom.v1.TaskService/ListTasks",
    "/storyloom.v1.TaskService/WatchTask",
    "/storyloom.v1.StoryService/GetStory",
    "/storyloom.v1.StoryService/ListStories",
    "/storyloom.v1.StoryService/ExportStory",
    "/storyloom.v1.StoryService/GetStoryBundle",
    "/storyloom.v1.StoryService/GetStoryVideo",
    "/storyloom.v1.StoryService/ListStoryVideos",
    "/storyloom.v1.ConversationService/GetConversation",
    "/storyloom.v1.ConversationService/ListConversations",
    "/storyloom.v1.ConversationService/ListMessages",
    "/storyloom.v1.ConversationService/StreamReply",
    "/storyloom.v1.MediaService/GetMedia",
    "/storyloom.v1.MediaService/GetMediaInfo",
    "/storyloom.v1.VoiceService/DetectLanguage",
    "/storyloom.v1.VoiceService/GetVoiceSession",
    "/storyloom.v1.VoiceService/QueryMemory",
    "/storyloom.v1.VoiceService/GetMemorySummary",
})

WATCH_TASK = "/storyloom.v1.TaskService/WatchTask"
SEND_MESSAGE = "/storyloom.v1.ConversationService/SendMessage"
STREAM_REPLY = "/storyloom.v1.ConversationService/StreamReply"
GET_MEDIA = "/storyloom.v1.MediaService/GetMedia"
GET_STORY_BUNDLE = "/storyloom.v1.StoryService/GetStoryBundle"

TERMINAL_TASK_STATES = frozenset({v1.TaskState.SUCCEEDED, v1.TaskState.FAILED, v1.TaskState.CANCELLED})

T = TypeVar("T")


class _Sequenced(Protocol):
    sequence: int


E = TypeVar("E", bound=_Sequenced)  # an event of a stream that can be re-attached: TaskEvent, ReplyEvent


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: `initial_backoff * multiplier**n`, capped at `max_backoff`, each delay
    randomly shortened by up to `jitter` of itself; at most `max_attempts` attempts in all. The resuming helpers
    count attempts since the last message they received, so a long watch survives any number of separate drops."""

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def delays(self) -> Iterator[float]:
        """The waits before the 2nd, 3rd... attempt (max_attempts - 1 of them)."""
        backoff = self.initial_backoff
        for _ in range(self.max_attempts - 1):
            yield backoff * (1 - self.jitter * random.random())
            backoff = min(backoff * self.multiplier, self.max_backoff)


# How long the resuming helpers keep trying to re-attach without receiving anything: long enough for a server to
# restart (about 40 s in all), since what they follow is worth the wait.
REATTACH = RetryPolicy(max_attempts=12, initial_backoff=0.5, max_backoff=5.0)


DOCUMENT_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown",
                  ".pdf": "application/pdf",
                  ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def document_type(path: str) -> str:
    """The content type IllustrateText takes for a file, by its extension."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in DOCUMENT_TYPES:
        raise ValueError(f"{path}: not a document to illustrate; give one of {', '.join(sorted(DOCUMENT_TYPES))}")
    return DOCUMENT_TYPES[extension]


def parse_address(address: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `host` (port 50051), optionally after `https://` or `http://`."""
    address = address.removeprefix("https://").removeprefix("http://").rstrip("/")
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, int(rest.lstrip(":") or 50051)
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, 50051
    return host, int(port)


def _reply_ended(event: v1.ReplyEvent) -> bool:
    return event.finished is not None or event.error is not None


class _CallPolicy:
    """Mixed in front of a generated stub: routes its calls through the client's deadline and retry policy."""

    _client: StoryloomClient

    async def _unary_unary(self, route: str, request: Any, response_type: type[T], *, timeout: float | None = None,
                           deadline: Deadline | None = None, metadata: Any = None) -> T:
        call = super()._unary_unary  # type: ignore[misc]
        return await self._client._unary(route, request, timeout, deadline, metadata, lambda **kw: call(
            route, request, response_type, **kw))

    def _unary_stream(self, route: str, request: Any, response_type: type[T], *, timeout: float | None = None,
                      deadline: Deadline | None = None, metadata: Any = None) -> AsyncIterator[T]:
        call = super()._unary_stream  # type: ignore[misc]
        return self._client._stream(route, request, timeout, deadline, metadata, lambda **kw: call(
            route, request, response_type, **kw))

    async def _stream_unary(self, route: str, request_iterator: Any, request_type: Any, response_type: type[T], *,
                            timeout: float | None = None, deadline: Deadline | None = None, metadata: Any = None) -> T:
        call = super()._stream_unary  # type: ignore[misc]
        return await self._client._unary(route, None, timeout, deadline, metadata, lambda **kw: call(
            route, request_iterator, request_type, response_type, **kw))

    def _stream_stream(self, route: str, request_iterator: Any, request_type: Any, response_type: type[T], *,
                       timeout: float | None = None, deadline: Deadline | None = None,
                       metadata: Any = None) -> AsyncIterator[T]:
        call = super()._stream_stream  # type: ignore[misc]
        return self._client._stream(route, None, timeout, deadline, metadata, lambda **kw: call(
            route, request_iterator, request_type, response_type, **kw))


class TaskService(_CallPolicy, v1.TaskServiceStub):
    """`v1.TaskServiceStub` with the client's policy."""


class StoryService(_CallPolicy, v1.StoryServiceStub):
    """`v1.StoryServiceStub` with the client's policy."""


class ConversationService(_CallPolicy, v1.ConversationServiceStub):
    """`v1.ConversationServiceStub` with the client's policy."""


class MediaService(_CallPolicy, v1.MediaServiceStub):
    """`v1.MediaServiceStub` with the client's policy."""


class VoiceService(_CallPolicy, v1.VoiceServiceStub):
    """`v1.VoiceServiceStub` with the client's policy."""


class StoryloomClient:
    """A connection to a Storyloom server, authenticated with an API key or a sign-in token.

    The raw services are `client.tasks`, `client.stories`, `client.conversations`, `client.media` and
    `client.voice` (the generated stubs, typed, with the policy above). The helpers below cover what the
    stubs alone make tedious. Use it as an async context manager, or call `close()`.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, api_key: str | None = None, *,
                 token: str | None = None, tls: bool | None = None, ca_file: str | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT, retry: RetryPolicy = RetryPolicy(),
                 reattach: RetryPolicy = REATTACH, keepalive_seconds: float | None = 30.0) -> None:
        """`api_key` is sent as `x-api-key`; `token`, an identity provider's ID token (a JWT: Firebase, Clerk,
        Auth0, Supabase), as `authorization: Bearer` instead. TLS is used for an `https://` address, with
        `tls=True`, or with a `ca_file` (PEM) to verify the server by (the system's CAs otherwise).

        `timeout` is the default deadline of unary calls in seconds (None: no deadline); `retry` is the
        backoff of retried calls, `reattach` that of the helpers re-attaching streams; `keepalive_seconds`
        sets how often an idle connection is pinged, so a connection that died silently is noticed and long
        streams re-attach (the server accepts pings every 10 s or less often)."""
        self.address = address
        self.host, self.port = parse_address(address)
        self.api_key = api_key
        self.token = token
        self.tls = tls if tls is not None else (address.startswith("https://") or ca_file is not None)
        self.ca_file = ca_file
        self.timeout = timeout
        self.retry = retry
        self.reattach = reattach
        self.keepalive_seconds = keepalive_seconds
        self._channel: Channel | None = None
        self._stubs: dict[type, Any] = {}

    # --- plumbing ---------------------------------------------------------------------------------------------

    @property
    def channel(self) -> Channel:
        """The grpclib channel, created on first use (inside the running event loop)."""
        if self._channel is None:
            config = Configuration(_keepalive_time=self.keepalive_seconds, _keepalive_timeout=10.0) \
                if self.keepalive_seconds else None
            self._channel = Channel(self.host, self.port, status_details_codec=StatusDetailsCodec(), config=config,
                                    ssl=self._ssl_context())
        return self._channel

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        context.set_alpn_protocols(["h2"])  # gRPC is HTTP/2
        return context

    def _stub(self, kind: type[T]) -> T:
        if kind not in self._stubs:
            stub = kind(self.channel)  # type: ignore[call-arg]
            stub._client = self  # type: ignore[attr-defined]
            self._stubs[kind] = stub
        return self._stubs[kind]

    @property
    def tasks(self) -> TaskService:
        return self._stub(TaskService)

    @property
    def stories(self) -> StoryService:
        return self._stub(StoryService)

    @property
    def conversations(self) -> ConversationService:
        return self._stub(ConversationService)

    @property
    def media(self) -> MediaService:
        return self._stub(MediaService)

    @property
    def voice(self) -> VoiceService:
        return self._stub(VoiceService)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._stubs.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _metadata(self, extra: Any) -> list[tuple[str, str | bytes]]:
        metadata: list[tuple[str, str | bytes]] = []
        if self.token:
            metadata.append(("authorization", f"Bearer {self.token}"))
        elif self.api_key:
            metadata.append(("x-api-key", self.api_key))
        if extra:
            metadata += list(extra.items() if hasattr(extra, "items") else extra)
        return metadata

    def retryable(self, route: str, request: Any) -> bool:
        """Whether a call may be repeated after UNAVAILABLE (AIP-194): a NO_SIDE_EFFECTS method, or a request
        with a `request_id` (AIP-155)."""
        return route in IDEMPOTENT_METHODS or bool(getattr(request, "request_id", ""))

    async def _unary(self, route: str, request: Any, timeout: float | None, deadline: Deadline | None,
                     metadata: Any, call: Callable[..., Awaitable[T]]) -> T:
        if deadline is None:
            timeout = self.timeout if timeout is None else timeout
            deadline = Deadline.from_timeout(timeout) if timeout else None
        delays = self.retry.delays() if self.retryable(route, request) else iter(())
        while True:
            try:
                return await call(deadline=deadline, metadata=self._metadata(metadata))
            except Exception as exc:
                error = translate(exc, self.address)
                if error is None:
                    raise
                delay = next(delays, None) if error.code is Status.UNAVAILABLE else None
                if delay is None or (deadline is not None and deadline.time_remaining() <= delay):
                    raise error from exc
                await asyncio.sleep(delay)

    async def _stream(self, route: str, request: Any, timeout: float | None, deadline: Deadline | None,
                      metadata: Any, call: Callable[..., AsyncIterator[T]], *, retry: bool = True,
                      ) -> AsyncGenerator[T, None]:
        if deadline is None and timeout:
            deadline = Deadline.from_timeout(timeout)
        delays = self.retry.delays() if retry and self.retryable(route, request) else iter(())
        while True:
            received = False
            try:
                async with contextlib.aclosing(call(deadline=deadline, metadata=self._metadata(metadata))) as stream:
                    async for message in stream:
                        received = True
                        yield message
                return
            except Exception as exc:
                error = translate(exc, self.address)
                if error is None:
                    raise
                delay = next(delays, None) if error.code is Status.UNAVAILABLE and not received else None
                if delay is None or (deadline is not None and deadline.time_remaining() <= delay):
                    raise error from exc
                await asyncio.sleep(delay)

    def _attach(self, route: str, request: Any, response_type: type[T]) -> AsyncGenerator[T, None]:
        """One attempt at a server stream, without a deadline: the resuming helpers retry by themselves, from
        where they were."""
        stub = self.tasks  # any stub will do: they share the channel

        def call(**kwargs: Any) -> AsyncIterator[T]:
            return ServiceStub._unary_stream(stub, route, request, response_type, **kwargs)
        return self._stream(route, request, None, None, None, call, retry=False)

    async def _resume_wait(self, delays: Iterator[float], error: StoryloomError) -> None:
        """Waits before re-attaching a stream, or raises `error` once the attempts are used up."""
        if error.code is not Status.UNAVAILABLE:
            raise error
        delay = next(delays, None)
        if delay is None:
            raise error
        await asyncio.sleep(delay)

    # --- tasks -------------------------------------------------------------------------------------------------

    def watch_task(self, name: str, *, after_sequence: int = 0,
                   on_reconnect: Callable[[StoryloomError, int], None] | None = None,
                   ) -> AsyncIterator[v1.TaskEvent]:
        """A task's events from `after_sequence` on, ending with its terminal event (SUCCEEDED, FAILED or
        CANCELLED), exactly once each and in order, however often the connection drops: on UNAVAILABLE it
        re-attaches with WatchTask from the last sequence it yielded. `on_reconnect(error, last_sequence)` is
        called before each re-attach (to tell a person). Other errors, and UNAVAILABLE that outlasts the retry
        policy without a single new event, are raised. Watching from the terminal event's sequence or later
        yields nothing and ends at once (see `_resume`)."""
        def watch(after: int) -> AsyncGenerator[v1.TaskEvent, None]:
            return self._attach(WATCH_TASK, v1.WatchTaskRequest(name=name, after_sequence=after), v1.TaskEvent)
        return self._resume(watch, lambda event: event.state in TERMINAL_TASK_STATES, after_sequence, on_reconnect)

    async def wait_task(self, name: str, **kwargs: Any) -> v1.TaskEvent:
        """Watches a task to its end and returns the terminal event (see `watch_task`)."""
        final: v1.TaskEvent | None = None
        async for event in self.watch_task(name, **kwargs):
            final = event
        assert final is not None
        return final

    # --- stories -----------------------------------------------------------------------------------------------

    async def create_story(self, requirements: v1.StoryRequirements | None = None, *, conversation: str = "",
                           text: str = "", scene_count: int = 0, skip_illustrations: bool = False,
                           skip_narration: bool = False, regenerate: bool = False, request_id: str = "",
                           parent: str = "users/me") -> v1.Task:
        """Starts writing a story from requirements, a conversation or a given text; returns its task at once.
        A `request_id` is made up when none is given, so the call is retried safely on UNAVAILABLE."""
        request = v1.CreateStoryRequest(parent=parent, scene_count=scene_count, skip_illustrations=skip_illustrations,
                                        skip_narration=skip_narration, regenerate=regenerate,
                                        request_id=request_id or str(uuid.uuid4()))
        if conversation:
            request.conversation = conversation
        elif text:
            request.text = text
        else:
            request.requirements = requirements or v1.StoryRequirements()
        return await self.stories.create_story(request)

    @staticmethod
    def story_of(event: v1.TaskEvent | v1.Task) -> v1.Story | None:
        """The finished story a story.create task's terminal event (or task) carries, if it succeeded."""
        result = event.result.unpack() if event.result else None
        return result if isinstance(result, v1.Story) else None

    @staticmethod
    def scene_of(event: v1.TaskEvent) -> v1.Scene | None:
        """The finished scene a story.create task's SCENE_READY event carries (text, picture and narration media)."""
        if event.type is not v1.TaskEventType.SCENE_READY or not event.part:
            return None
        part = event.part.unpack()
        return part if isinstance(part, v1.Scene) else None

    async def create_story_video(self, story: str, *, resolution: v1.VideoResolution = v1.VideoResolution.UNSPECIFIED,
                                 scenes_only: bool = False, captions: bool = False, burn_in_captions: bool = False,
                                 request_id: str = "") -> v1.Task:
        """Starts filming a finished story (`users/me/stories/ID`) as an MP4; returns its task at once. Its result
        is a StoryVideo (see `story_video_of`). A `request_id` is made up when none is given."""
        options = v1.StoryVideoOptions(resolution=resolution, scenes_only=scenes_only, captions=captions,
                                       burn_in_captions=burn_in_captions)
        return await self.stories.create_story_video(v1.CreateStoryVideoRequest(
            parent=story, options=options, request_id=request_id or str(uuid.uuid4())))

    @staticmethod
    def story_video_of(event: v1.TaskEvent | v1.Task) -> v1.StoryVideo | None:
        """The finished video a story.video task's terminal event (or task) carries, if it succeeded."""
        result = event.result.unpack() if event.result else None
        return result if isinstance(result, v1.StoryVideo) else None

    async def export_story(self, name: str, format: v1.ExportFormat = v1.ExportFormat.MARKDOWN) -> HttpBody:
        """The story as one document: `.data` holds its bytes, `.content_type` its type."""
        return await self.stories.export_story(v1.ExportStoryRequest(name=name, format=format))

    async def download_bundle(self, name: str, path: str | os.PathLike[str], *, timeout: float = 300.0,
                              progress: Callable[[int], None] | None = None) -> Bundle:
        """Downloads a story's bundle (GetStoryBundle: a ZIP of every asset and `manifest.json`) to `path` and
        verifies every file against the manifest's size and SHA-256 (`ChecksumMismatch` otherwise). The archive is
        written next to `path` and renamed into place only once verified. `progress` hears the bytes so far."""
        partial = f"{os.fspath(path)}.part"
        try:
            received = 0
            with open(partial, "wb") as out:
                stream = self.stories.get_story_bundle(v1.GetStoryBundleRequest(name=name), timeout=timeout)
                async for chunk in stream:
                    out.write(chunk.data)
                    received += len(chunk.data)
                    if progress is not None:
                        progress(received)
            bundle = verify_bundle(partial)
            os.replace(partial, path)
            return Bundle(path=os.fspath(path), manifest=bundle.manifest, files=bundle.files)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)

    async def illustrate_file(self, path: str | os.PathLike[str], *, content_type: str = "",
                              illustration_style: str = "", narrate: bool = False,
                              max_scenes: int = 0) -> v1.Task:
        """Uploads a document (plain text, Markdown, PDF or DOCX, by its extension unless `content_type` is given)
        and starts IllustrateText on it; returns the task (its `target` is the story)."""
        kind = content_type or document_type(os.fspath(path))
        with open(path, "rb") as source:
            data = source.read()
        document = await self.upload_media(data, kind)
        return await self.stories.illustrate_text(v1.IllustrateTextRequest(
            parent="users/me", document=document.name, illustration_style=illustration_style, narrate=narrate,
            max_scenes=max_scenes, request_id=str(uuid.uuid4())))

    # --- conversations -----------------------------------------------------------------------------------------

    async def create_conversation(self, title: str = "", *, parent: str = "users/me") -> v1.Conversation:
        return await self.conversations.create_conversation(v1.CreateConversationRequest(
            parent=parent, conversation=v1.Conversation(title=title), request_id=str(uuid.uuid4())))

    def chat(self, conversation: str, text: str, *, request_id: str = "",
             on_reconnect: Callable[[StoryloomError, int], None] | None = None,
             ) -> AsyncIterator[v1.ReplyEvent]:
        """Sends `text` and yields the reply's events (`accepted`, `delta`s, then `finished` or an in-band
        `error`) exactly once each, however often the connection drops: before `accepted` it repeats
        SendMessage with the same `request_id` (made up when not given), which stores the message once; after
        it, it re-attaches with StreamReply from the last sequence it yielded. An in-band `error` event is
        yielded, not raised: `StoryloomError.from_rpc_status(event.error)` makes it an exception."""
        request = v1.SendMessageRequest(conversation=conversation, text=text, request_id=request_id or str(uuid.uuid4()))
        reply = ""

        def send_or_re_attach(after: int) -> AsyncGenerator[v1.ReplyEvent, None]:
            if reply:
                return self._attach(STREAM_REPLY, v1.StreamReplyRequest(name=reply, after_sequence=after),
                                    v1.ReplyEvent)
            return self._attach(SEND_MESSAGE, request, v1.ReplyEvent)  # the same request_id: stored once

        def is_last(event: v1.ReplyEvent) -> bool:
            nonlocal reply
            reply = event.reply or reply
            return _reply_ended(event)
        return self._resume(send_or_re_attach, is_last, 0, on_reconnect)

    def stream_reply(self, reply: str, *, after_sequence: int = 0,
                     on_reconnect: Callable[[StoryloomError, int], None] | None = None,
                     ) -> AsyncIterator[v1.ReplyEvent]:
        """A reply's events (`users/.../messages/ID`, in progress or finished) after `after_sequence`, re-attached
        like `chat`'s; from the last event's sequence or later it yields nothing and ends at once."""
        def re_attach(after: int) -> AsyncGenerator[v1.ReplyEvent, None]:
            return self._attach(STREAM_REPLY, v1.StreamReplyRequest(name=reply, after_sequence=after), v1.ReplyEvent)
        return self._resume(re_attach, _reply_ended, after_sequence, on_reconnect)

    # --- re-attaching streams ------------------------------------------------------------------------------------

    async def _resume(self, open_stream: Callable[[int], AsyncGenerator[E, None]], is_last: Callable[[E], bool],
                      after_sequence: int, on_reconnect: Callable[[StoryloomError, int], None] | None,
                      ) -> AsyncIterator[E]:
        """The events of a stream opened by `open_stream(after)`, each once and in order, up to its last event.

        A drop (UNAVAILABLE) re-opens it after the last sequence yielded, with backoff; any other error is raised.
        A clean end before the last event is not a drop by itself: the server ends a stream cleanly with nothing
        to send when asked for events after its end (a finished task or reply). So the stream is opened once more
        from the start, at once: if its last event is at or before where we are, the stream is over and this ends
        quietly; otherwise the new events follow, and a second clean end without them counts as a drop."""
        last, delays, replay = after_sequence, self.reattach.delays(), False
        while True:
            start, replay = (0 if replay else last), False
            try:
                async with contextlib.aclosing(open_stream(start)) as events:
                    async for event in events:
                        if event.sequence <= last:
                            if is_last(event):
                                return  # the stream ended at or before where the caller already is
                            continue  # never twice, whatever the server replays
                        last, delays = event.sequence, self.reattach.delays()
                        yield event
                        if is_last(event):
                            return
                if start > 0:
                    replay = True
                    continue
                error = StoryloomError(Status.UNAVAILABLE, "the stream ended before its last event")
            except StoryloomError as exc:
                error = exc
            await self._resume_wait(delays, error)
            if on_reconnect is not None:
                on_reconnect(error, last)

    # --- media -------------------------------------------------------------------------------------------------

    async def upload_media(self, data: bytes, content_type: str, *, request_id: str = "") -> v1.Media:
        """Stores a picture or a recording (at most 16 MiB) and returns its info. A `request_id` is made up when
        none is given, so the call is retried safely on UNAVAILABLE."""
        return await self.media.create_media(v1.CreateMediaRequest(
            content=HttpBody(content_type=content_type, data=data), request_id=request_id or str(uuid.uuid4())))

    async def download_media(self, name: str, out: IO[bytes]) -> v1.Media:
        """Writes a media item's bytes to `out` and returns its info, after checking that their SHA-256 and size
        are what the server announced (`ChecksumMismatch` otherwise). A dropped connection resumes the download
        from the bytes already written (`read_offset`)."""
        info = await self.media.get_media_info(v1.GetMediaInfoRequest(name=name))
        digest, written, delays = hashlib.sha256(), 0, self.reattach.delays()
        while True:
            try:
                request = v1.GetMediaRequest(name=name, read_offset=written)
                async with contextlib.aclosing(self._attach(GET_MEDIA, request, HttpBody)) as stream:
                    async for chunk in stream:
                        out.write(chunk.data)
                        digest.update(chunk.data)
                        written, delays = written + len(chunk.data), self.reattach.delays()
                break
            except StoryloomError as exc:
                await self._resume_wait(delays, exc)
        if digest.hexdigest() != info.sha256 or written != info.size_bytes:
            raise ChecksumMismatch(name, info.sha256, f"{digest.hexdigest()} ({written} bytes)")
        return info

    async def download_media_to(self, name: str, path: str | os.PathLike[str]) -> v1.Media:
        """`download_media` into a file; the file is written next to `path` and renamed into place only once
        verified, so a failed download leaves no partial file."""
        partial = f"{os.fspath(path)}.part"
        try:
            with open(partial, "wb") as out:
                info = await self.download_media(name, out)
            os.replace(partial, path)
            return info
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)

"""Conversations: the chat that gathers story requirements, with replies written as tasks.

A reply is written by a `conversation.reply` task, so it goes on when the client disconnects.
Its text is persisted chunk by chunk before each chunk is announced; any connection can
re-attach to a reply and replay exactly what it missed. Reply event sequence numbers are
derived from the stored chunks: 1 is `accepted`, 2..n+1 are the n chunks, n+2 is the end.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import datetime as dt
import logging
import re
import uuid
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Literal, Protocol

from storyloom.domain.errors import (
    Aborted,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.notifier import LocalNotifier, Notifier
from storyloom.domain.ports.text import ChatRequest, ChatTurn, EngineRefused, ReplyEnd, TextDelta, TextEngine
from storyloom.domain.reply_admission import Place, ReplyAdmission
from storyloom.domain.reply_chunks import ChunkWriter, LiveReply, ReplyEnding
from storyloom.domain.requirements import StoryRequirements
from storyloom.domain.tasks import (
    NewTask,
    Task,
    TaskClaim,
    TaskContext,
    TaskEnding,
    TaskError,
    TaskRunner,
    TaskState,
)
from storyloom.domain.text import check_plain_text

log = logging.getLogger(__name__)

# The notifier's channel of a reply's changes, keyed by the reply's id: streams of it wait on it.
REPLY = "reply"
REPLY_KIND = "conversation.reply"
MAX_MESSAGE_CHARS = 4000
# The window of the per-user message limit (ConversationLimits.messages_per_minute).
RATE_WINDOW = dt.timedelta(minutes=1)
MAX_TITLE_CHARS = 200

SYSTEM_INSTRUCTION = """\
You are Storyloom, a warm and playful story helper talking with a child or a parent.
Your job is to find out what story to write: the characters, where it happens, the mood,
who it is for, how long it should be and how it should end. Ask one short question at a
time, offer two or three concrete ideas a child can pick from, and build on what they say.
When you know the characters, the setting and the mood, say so, sum up the story idea in
one or two sentences, and invite them to create the story.
Always be kind and child-safe: no violence, fear, cruelty or grown-up topics; gently steer
anything unsuitable back to a friendly story. Write plain text only: no markdown, no lists,
no HTML. Keep replies under 80 words."""

Role = Literal["user", "assistant", "system"]
MessageState = Literal["GENERATING", "COMPLETE", "CUT", "FAILED"]
Status = Literal["ACTIVE", "COMPLETED", "ARCHIVED"]


@dataclasses.dataclass(frozen=True)
class Conversation:
    id: str
    user_id: str
    title: str
    status: Status
    message_count: int
    create_time: dt.datetime
    update_time: dt.datetime
    requirements: StoryRequirements | None = None
    # Older turns condensed for the context window, and how many messages it covers.
    summary: str = ""
    summary_covers: int = 0

    @property
    def name(self) -> str:
        return f"users/{self.user_id}/conversations/{self.id}"


@dataclasses.dataclass(frozen=True)
class Message:
    id: str
    conversation_id: str
    user_id: str
    position: int  # 1, 2, 3... within the conversation
    role: Role
    text: str
    state: MessageState
    create_time: dt.datetime
    finish_reason: str = ""  # STOP, MAX_TOKENS, CANCELLED, SAFETY, ERROR
    input_tokens: int = 0
    output_tokens: int = 0
    task_id: str = ""
    chunk_count: int = 0
    error: TaskError | None = None

    @property
    def name(self) -> str:
        return f"users/{self.user_id}/conversations/{self.conversation_id}/messages/{self.id}"

    @property
    def finished(self) -> bool:
        return self.state != "GENERATING"


@dataclasses.dataclass(frozen=True)
class ReplyEvent:
    """One event of a reply stream. Exactly one of the payload fields is set."""

    sequence: int
    reply: Message  # the assistant message as of this event
    user_message: Message | None = None  # accepted
    delta: str | None = None
    finished: bool = False  # the reply ended; `reply` is final (COMPLETE or CUT)
    error: TaskError | None = None  # the reply failed; `reply` is final (FAILED)


@dataclasses.dataclass(frozen=True)
class MessageQuota:
    """At most `limit` messages from the user since `since`. The repository checks it in the transaction that adds
    a message, with the user's sends taking turns, so a burst on several replicas cannot all slip under it."""

    user_id: str
    limit: int
    since: dt.datetime


@dataclasses.dataclass(frozen=True)
class Sendable:
    """Which conversations take a new message: `user_id`'s own, unless ARCHIVED. Called with a conversation, it
    raises why that one does not (NOT_FOUND for another's, not told apart from a missing one). Data as well, so that
    a repository can check it in the statement that stores the message (`ConversationRepository.add_exchange`)."""

    user_id: str
    closed: Status = "ARCHIVED"

    def __call__(self, conversation: Conversation) -> None:
        name = f"users/{self.user_id}/conversations/{conversation.id}"
        _owned(self.user_id, conversation.id, conversation)
        if conversation.status == self.closed:
            raise FailedPrecondition(f"{name} is archived; unarchive it to send messages",
                                     reason="CONVERSATION_ARCHIVED", metadata={"resourceName": name})


class QuotaExceeded(Exception):
    """The quota is used up; `oldest` is when the oldest message it counted was sent."""

    def __init__(self, oldest: dt.datetime | None):
        super().__init__("message quota exceeded")
        self.oldest = oldest


class ConversationRepository(Protocol):
    # Whether storing a reply's chunks (`append_chunks`) or its end (`finish_message`) announces the reply to every
    # replica in the write itself (on REPLY, when it commits): then only this process's streams are told after it.
    announces_replies: bool

    async def create(self, conversation: Conversation, request_id: str) -> Conversation: ...

    async def get(self, conversation_id: str) -> Conversation | None: ...

    async def list(self, user_id: str, limit: int, after: tuple[dt.datetime, str] | None) -> list[Conversation]: ...

    async def update(self, conversation_id: str, **fields: Any) -> Conversation: ...

    async def delete(self, conversation_id: str) -> None: ...

    async def add_exchange(
        self, conversation_id: str, user_text: str, task: NewTask, reply_id: str, request_id: str, now: dt.datetime,
        quota: MessageQuota | None = None, title: str = "", accept: Sendable | None = None,
    ) -> tuple[Conversation, Message, Message]:
        """Stores the user's message, an empty GENERATING assistant message `reply_id` after it and the task that
        writes it, in one transaction; returns the conversation (with them added) and both messages. Stores nothing
        and raises LookupError if there is no such conversation, what `accept` raises when called with the
        conversation if it does not take the message (checked in the transaction: a send needs no read before), and
        QuotaExceeded if the message would pass `quota`. A conversation without a title gets `title`."""

    async def find_by_request(self, user_id: str, request_id: str) -> tuple[Message, Message] | None: ...

    async def get_message(self, message_id: str, *, with_text: bool = True) -> Message | None:
        """The message; a reply still GENERATING has its text and chunk count so far, read from its chunks, unless
        not `with_text` (then they are empty and 0)."""

    async def messages(self, conversation_id: str, *, limit: int,
                       before_position: int | None) -> builtins.list[Message]:
        """Newest first."""

    async def append_chunk(self, message_id: str, text: str) -> int:
        """Appends reply text as the next chunk (and to the message's text); returns its index."""

    async def append_chunks(self, chunks: Sequence[tuple[str, int, str]],
                            endings: Sequence[ReplyEnding] = ()) -> builtins.list[Message]:
        """Stores chunks (message id, index, text) of any replies in one transaction, append-only: a reply's text
        is assembled from its chunks when it finishes (and when a GENERATING reply is read). Finishes the replies of
        `endings` in it too (`finish_message` with all their chunks stored), and returns them as they ended."""

    async def chunks(self, message_id: str, after_index: int) -> builtins.list[str]:
        """The chunks with index > after_index, in order (indexes start at 1)."""

    async def finish_message(self, message_id: str, *, state: MessageState, finish_reason: str,
                             input_tokens: int, output_tokens: int, error: TaskError | None,
                             stored: Sequence[str] | None = None) -> Message:
        """Ends the reply, its text and chunk count assembled from its stored chunks (`stored`, when the caller
        knows them all)."""

    async def cut_message(self, message_id: str, text: str) -> Message:
        """Sets the text (as its only chunk), state CUT and finish reason CANCELLED, atomically."""

    async def generating(self) -> builtins.list[Message]: ...


@dataclasses.dataclass(frozen=True)
class ConversationLimits:
    messages_per_minute: int = 10
    # History beyond this many tokens is summarized (older turns first).
    context_token_budget: int = 6000
    # The latest turns always sent verbatim, whatever the budget.
    recent_turns: int = 6
    # Requirements are re-extracted and restated to the model every this many user messages.
    restate_every: int = 4
    # Replies written at once, in a task pool of their own: they mostly wait on the model.
    concurrent_replies: int = 512
    # Replies taken on at once (written or waiting for a writer); past it SendMessage is refused at once with
    # RESOURCE_EXHAUSTED and a RetryInfo (domain/reply_admission.py).
    admitted_replies: int = 512
    # A reply whose last stream went away stops (ends CUT, CANCELLED, with what was written) unless a stream
    # re-attaches within this many seconds: no one would read it, and it holds a writer.
    abandoned_reply_seconds: float = 30.0


def check_title(title: str, field: str = "conversation.title") -> str:
    """A title: one line of plain text, at most 200 characters (empty: made from the first message)."""
    check_plain_text(title, field, max_chars=MAX_TITLE_CHARS, required=False,
                     characters_reason="TITLE_CHARACTERS_INVALID")
    for char in title:
        if char in "\n\t":
            raise InvalidArgument(FieldViolation(field, f"must be one line, without U+{ord(char):04X}"),
                                  reason="TITLE_CHARACTERS_INVALID")
    return title.strip()


def check_text(text: str, field: str = "text") -> str:
    """A message: plain text of 1 to 4000 characters."""
    return check_plain_text(text, field, max_chars=MAX_MESSAGE_CHARS, too_long_reason="MESSAGE_TOO_LONG",
                            characters_reason="MESSAGE_CHARACTERS_INVALID")


class Conversations:
    def __init__(self, repository: ConversationRepository, tasks: TaskRunner, engine: TextEngine,
                 limits: ConversationLimits = ConversationLimits(), clock: Clock = SYSTEM_CLOCK,
                 notifier: Notifier | None = None):
        self._repo = repository
        self._notifier: Notifier = notifier or LocalNotifier()
        self._clock = clock
        self._tasks = tasks
        self._engine = engine
        self._limits = limits
        self._chunks = ChunkWriter(repository, self._announce_stored)
        self._admission = ReplyAdmission(limits.admitted_replies)
        self._readers: dict[str, int] = {}  # message id -> streams of it open in this process
        # Replies sent from this process whose writer has not started: reply id -> (conversation, user message, reply)
        # as stored.
        self._just_sent: dict[str, tuple[Conversation, Message, Message]] = {}
        self._abandon_checks: set[asyncio.Task[None]] = set()
        tasks.register(REPLY_KIND, self._write_reply, concurrency=limits.concurrent_replies, on_end=self._follow)

    # --- conversations ---------------------------------------------------------------------

    async def create(self, user_id: str, title: str = "", request_id: str = "") -> Conversation:
        title = check_title(title)
        now = self._clock.now()
        return await self._repo.create(Conversation(uuid.uuid4().hex, user_id, title, "ACTIVE", 0, now, now),
                                       request_id)

    async def get(self, user_id: str, conversation_id: str) -> Conversation:
        return _owned(user_id, conversation_id, await self._repo.get(conversation_id))

    async def list(self, user_id: str, limit: int, after: tuple[dt.datetime, str] | None) -> list[Conversation]:
        return await self._repo.list(user_id, limit, after)

    async def update(self, user_id: str, conversation_id: str, *, title: str | None,
                     status: Status | None) -> Conversation:
        await self.get(user_id, conversation_id)
        fields: dict[str, Any] = {}
        if title is not None:
            fields["title"] = check_title(title)
        if status is not None:
            fields["status"] = status
        return await self._repo.update(conversation_id, update_time=self._clock.now(), **fields)

    async def delete(self, user_id: str, conversation_id: str) -> None:
        await self.get(user_id, conversation_id)
        for message in await self._repo.messages(conversation_id, limit=5, before_position=None):
            if message.state == "GENERATING" and message.task_id:
                with contextlib.suppress(NotFound):
                    await self._tasks.cancel(user_id, message.task_id)
        await self._repo.delete(conversation_id)

    async def messages(self, user_id: str, conversation_id: str, limit: int,
                       before_position: int | None) -> builtins.list[Message]:
        await self.get(user_id, conversation_id)
        return await self._repo.messages(conversation_id, limit=limit, before_position=before_position)

    async def extract_requirements(self, user_id: str, conversation_id: str) -> StoryRequirements:
        conversation = await self.get(user_id, conversation_id)
        requirements = await self._extract(conversation)
        status = conversation.status
        if requirements.complete and status == "ACTIVE":
            status = "COMPLETED"
        await self._repo.update(conversation_id, requirements=requirements, status=status,
                                update_time=self._clock.now())
        return requirements

    # --- replies ---------------------------------------------------------------------------

    async def send(self, user_id: str, conversation_id: str, text: str, request_id: str = "",
                   memories: Sequence[str] = (), *, paced: bool = True,
                   prepared: str | None = None) -> AsyncGenerator[ReplyEvent]:
        """Stores the user's message, starts the reply task and streams the reply's events.

        A repeated request_id stores nothing new and streams the first request's reply. `memories` (what is
        remembered about the user that bears on this message) are given to the engine with the history. Not
        `paced`: the engine adds no pause between streamed words (a spoken reply). `prepared`: the reply's text,
        drafted (`draft_reply`) while the user might still have gone on; it is streamed and stored as if the engine
        had written it now.
        """
        check_text(text)
        if request_id:
            await self.get(user_id, conversation_id)
            earlier = await self._repo.find_by_request(user_id, request_id)
            if earlier is not None:
                return self.stream(user_id, earlier[1].id, 0)
        with self._admission.reserve() as place:
            user_message, reply = await self._store_and_submit(user_id, conversation_id, text, request_id, memories,
                                                               paced, prepared, place)
        return self.stream(user_id, reply.id, 0, just_sent=(user_message, reply))

    async def _store_and_submit(self, user_id: str, conversation_id: str, text: str, request_id: str,
                                memories: Sequence[str], paced: bool, prepared: str | None,
                                place: Place | None = None) -> tuple[Message, Message]:
        """Stores the user's message and the empty reply with its task, in one transaction that also checks the
        conversation (the caller's, not archived: `Sendable`); returns both."""
        name = f"users/{user_id}/conversations/{conversation_id}"
        now = self._clock.now()
        reply_id = uuid.uuid4().hex
        params: dict[str, Any] = {"message_id": reply_id}
        if memories:
            params["memories"] = [str(memory) for memory in memories]
        if not paced:
            params["paced"] = False
        if prepared is not None:
            params["prepared"] = prepared
        task = self._tasks.new_task(user_id, REPLY_KIND, params, target=f"{name}/messages/{reply_id}",
                                    message="Writing the reply.")
        limit = self._limits.messages_per_minute
        self._admission.admit(reply_id, place)  # before the task can run (and release it)
        # Stored already claimed by this worker when its pool has room: it runs as soon as it is stored.
        task = self._tasks.claim_new(task)
        try:
            conversation, user_message, reply = await self._repo.add_exchange(
                conversation_id, text, task, reply_id, request_id, now,
                quota=MessageQuota(user_id, limit, now - RATE_WINDOW), title=_title_from(text),
                accept=Sendable(user_id))
        except BaseException as failed:  # nothing was stored: the slot and the admission go back
            self._tasks.not_stored(task.task)
            self._admission.release(reply_id)
            if isinstance(failed, LookupError):
                raise NotFound(name) from None
            if isinstance(failed, QuotaExceeded):
                raise _rate_limited(limit, failed.oldest, now) from None
            raise
        # The reply's writer, if it runs in this process, starts from these instead of reading them back.
        self._just_sent[reply.id] = (conversation, user_message, reply)
        if len(self._just_sent) > self._limits.admitted_replies:  # written elsewhere (another worker): forget
            del self._just_sent[next(iter(self._just_sent))]
        await self._tasks.accepted(REPLY_KIND, task.task)
        return user_message, reply

    async def message(self, message_id: str) -> Message | None:
        return await self._repo.get_message(message_id)

    async def reply_for(self, user_id: str, conversation_id: str, message_id: str) -> Message:
        message = await self._repo.get_message(message_id)
        if (message is None or message.user_id != user_id or message.conversation_id != conversation_id
                or message.role != "assistant"):
            raise NotFound(f"users/{user_id}/conversations/{conversation_id}/messages/{message_id}")
        return message

    async def stream(self, user_id: str, message_id: str, after_sequence: int,
                     just_sent: tuple[Message, Message] | None = None) -> AsyncGenerator[ReplyEvent]:
        """Replays the reply's events after `after_sequence`, then streams live ones to the end. `just_sent` is the
        user's message and the reply as SendMessage stored them a moment ago: nothing to read back."""
        self._readers[message_id] = self._readers.get(message_id, 0) + 1
        ended = False
        try:
            async for event in self._reply_events(user_id, message_id, after_sequence, just_sent):
                ended = event.finished or event.error is not None
                yield event
            ended = True
        finally:
            if ended:
                self._just_sent.pop(message_id, None)  # (written elsewhere, if it is still there)
            self._readers[message_id] -= 1
            if not self._readers[message_id]:
                del self._readers[message_id]
                self._let_go(message_id, writer_done=False)
                if not ended:
                    self._stop_if_abandoned(user_id, message_id)

    async def _reply_events(self, user_id: str, message_id: str, after_sequence: int,
                            just_sent: tuple[Message, Message] | None) -> AsyncGenerator[ReplyEvent]:
        if just_sent is None:  # a re-attach: a reply whose stream went away elsewhere is read again
            await self._notifier.publish("reply.attached", message_id)
        async with self._notifier.subscribe(REPLY, message_id) as changed:  # before reading: no notice is lost
            user_message: Message | None
            if just_sent is not None:
                user_message, reply = just_sent
            else:
                found = await self._repo.get_message(message_id)
                if found is None or found.user_id != user_id:
                    raise NotFound(f"messages/{message_id}")
                reply, user_message = found, await self._user_message_before(found)
            name = reply.name
            if after_sequence < 1:
                yield ReplyEvent(1, reply, user_message=user_message)
            seen_chunks = max(0, after_sequence - 1)
            # Just sent: the reply is as stored a moment ago (GENERATING, no chunk); its writer wakes this stream.
            known = just_sent is not None
            seen_live: LiveReply | None = None
            while True:
                # Written in this process: its stored chunks are in memory (and, once it ended, the message it became,
                # kept by this stream after the writer let go of it).
                live = self._chunks.live(message_id) or (seen_live if seen_live and seen_live.final else None)
                if live is not None:
                    # (Once its writer let go of it without the message it became, a CUT reply, the store says.)
                    seen_live, known = live, False
                    for text in live.stored[seen_chunks:]:
                        seen_chunks += 1
                        yield ReplyEvent(seen_chunks + 1, reply, delta=text)
                    if live.final is None:
                        await changed.wait(self._notifier.recheck_seconds)
                        continue
                    reply = live.final  # ended, its text made of the chunks just streamed
                elif known:
                    known = False
                else:
                    found = await self._repo.get_message(message_id)
                    if found is None:  # the conversation was deleted meanwhile
                        raise NotFound(name)
                    reply = found
                    # (A reply's chunk count is as stored when it was read: no chunks to read when none is new.)
                    for text in (await self._repo.chunks(message_id, seen_chunks)
                                 if reply.chunk_count > seen_chunks else ()):
                        seen_chunks += 1
                        yield ReplyEvent(seen_chunks + 1, reply, delta=text)
                if reply.finished and seen_chunks >= reply.chunk_count:
                    self._admission.release(message_id)  # in case its task never ran (cancelled while queued)
                    end = reply.chunk_count + 2
                    if after_sequence < end:
                        await self._task_settled(user_id, reply.task_id)
                        if reply.state == "FAILED":
                            yield ReplyEvent(end, reply, error=reply.error or _interrupted())
                        else:
                            yield ReplyEvent(end, reply, finished=True)
                    return
                await changed.wait(self._notifier.recheck_seconds)

    def _stop_if_abandoned(self, user_id: str, message_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._abandon_unless_reattached(user_id, message_id),
                                                      name=f"abandoned-reply-{message_id}")
        self._abandon_checks.add(task)
        task.add_done_callback(self._abandon_checks.discard)

    async def _abandon_unless_reattached(self, user_id: str, message_id: str) -> None:
        """The reply's last stream in this process went away before its end: unless a stream re-attaches (here or
        on another replica) within the grace period, its task is cancelled and the reply ends CUT, CANCELLED."""
        try:
            async with self._notifier.subscribe("reply.attached", message_id) as attached:
                if await attached.wait(self._limits.abandoned_reply_seconds) or message_id in self._readers:
                    return
            reply = await self._repo.get_message(message_id)
            if reply is None or reply.user_id != user_id or reply.finished or not reply.task_id:
                return
            log.info("reply abandoned: no stream re-attached", extra={"message_id": message_id})
            with contextlib.suppress(NotFound):
                await self._tasks.cancel(user_id, reply.task_id)
        except Exception:  # a check that failed leaves the reply to finish on its own
            log.warning("abandoned reply check failed", exc_info=True, extra={"message_id": message_id})

    async def cut_reply(self, user_id: str, message_id: str, text: str) -> Message:
        """Stops a reply (cancelling its task if it is still being written) and keeps only `text` of it, what the
        user heard before speaking over it. The reply ends CUT, finish reason CANCELLED; its stored chunks are
        replaced by the kept text, so a replay streams exactly what is stored."""
        reply = await self._repo.get_message(message_id)
        if reply is None or reply.user_id != user_id or reply.role != "assistant":
            raise NotFound(f"messages/{message_id}")
        if reply.task_id and not reply.finished:
            with contextlib.suppress(NotFound):
                await self._tasks.cancel(user_id, reply.task_id)
        cut = await self._repo.cut_message(message_id, text)
        await self._wake(message_id)
        return cut

    async def recover(self) -> None:
        """Fails replies a crash left GENERATING whose task no longer exists (the task runner
        resumes or fails the others, and the reply handler finalizes them)."""
        for message in await self._repo.generating():
            task = None
            with contextlib.suppress(NotFound):
                task = await self._tasks.get(message.user_id, message.task_id)
            if task is None or task.state.terminal:
                await self._finish(message.id, "FAILED", "ERROR", 0, 0, _interrupted())

    # --- the reply task --------------------------------------------------------------------

    async def _write_reply(self, ctx: TaskContext) -> None:
        try:
            await self._write_admitted_reply(ctx)
        finally:
            self._admission.release(str(ctx.params["message_id"]))

    async def _write_admitted_reply(self, ctx: TaskContext) -> None:
        message_id = str(ctx.params["message_id"])
        sent = self._just_sent.pop(message_id, None)
        history: builtins.list[Message] | None = None
        if sent is not None and ctx.attempt == 1:
            # Sent from this process a moment ago: the conversation and the empty reply as SendMessage stored them.
            conversation, user_message, reply = sent
            if reply.position == 2:  # the conversation's first exchange: its history is the message just sent
                history = [user_message]
        else:
            # Its text so far matters only to a resumed attempt (a first one has none stored).
            found = await self._repo.get_message(message_id, with_text=ctx.attempt > 1)
            if found is None:
                raise NotFound(f"messages/{message_id}")
            reply = found
            if reply.finished:
                return
            if ctx.attempt > 1 and reply.chunk_count:
                # Clients may have seen chunks past the last one stored; regenerating would
                # contradict them. Keep what was written and say what happened.
                await self._finish(message_id, "FAILED", "ERROR", 0, 0, _interrupted())
                raise Aborted(_interrupted().message, reason="REPLY_INTERRUPTED")
            stored = await self._repo.get(reply.conversation_id)
            if stored is None:
                raise NotFound(f"conversations/{reply.conversation_id}")
            conversation = stored
        request = await self._context(conversation, reply, history)
        if ctx.params.get("memories"):
            request = dataclasses.replace(request, memories=tuple(str(m) for m in ctx.params["memories"]))
        if ctx.params.get("paced") is False:
            request = dataclasses.replace(request, paced=False)
        end = ReplyEnd("STOP", 0, 0)
        prepared = ctx.params.get("prepared")
        events = self._engine.chat(request) if prepared is None else self._prepared(request, str(prepared))
        self._chunks.open(message_id)
        asked, first = self._clock.monotonic(), True
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    if event.text and first:
                        first = False
                        self._tasks.telemetry.first_chunk("text.chat", self._clock.monotonic() - asked)
                    if event.text:
                        self._chunks.add(message_id, event.text)  # stored, then announced, by the chunk writer
                else:
                    end = event
            # The task ends in the reply's last write too (the handler then returns nothing, its result).
            await self._stored_then_finish(message_id, "COMPLETE", end.finish_reason, end.input_tokens,
                                           end.output_tokens, None, task_end=ctx.succeeding())
        except asyncio.CancelledError:
            if ctx.cancel_requested:
                used = request_tokens(self._engine, request)
                await asyncio.shield(self._stored_then_finish(message_id, "CUT", "CANCELLED", used, 0, None))
            raise
        except DomainError as exc:
            await self._stored_then_finish(message_id, "FAILED", "SAFETY" if isinstance(exc, EngineRefused)
                                           else "ERROR", 0, 0, _reply_error(exc))
            raise
        except Exception:
            await self._stored_then_finish(
                message_id, "FAILED", "ERROR", 0, 0,
                TaskError("UNAVAILABLE", "REPLY_FAILED", "The reply could not be written.", {}))
            raise
        finally:
            await events.aclose()
            live = self._chunks.live(message_id)
            self._let_go(message_id, writer_done=True)
            if live is None or live.final is None:
                # Its streams here may have been reading it from memory, which is let go: they read the store. (A
                # reply that ended as written keeps its memory for them: its end's notice woke them.)
                await self._wake(message_id)

    def _let_go(self, message_id: str, writer_done: bool) -> None:
        """Forgets a reply's chunks kept in memory once no stream here can still want them: a reply that ended as
        written stays while streams of this process are attached (one whose notice has not come yet, on a busy
        machine, ends with it instead of reading the reply back); one that did not (CUT, failed) goes when its
        writer is done, to be read from the store."""
        live = self._chunks.live(message_id)
        if live is not None and (live.final is not None and message_id not in self._readers
                                 or live.final is None and writer_done):
            self._chunks.close(message_id)

    async def _stored_then_finish(self, message_id: str, state: MessageState, finish_reason: str,
                                  input_tokens: int, output_tokens: int, error: TaskError | None,
                                  task_end: TaskEnding | None = None) -> None:
        """Ends the reply once the chunks queued for it are stored (its text is assembled from them): written here,
        in the transaction that stores its last chunk, with `task_end` (else the runner records its task's end)."""
        live = self._chunks.live(message_id)
        if live is not None and state != "CUT":
            with contextlib.suppress(Exception):  # (then it ends on its own, with the chunks that were stored)
                await self._chunks.finish(message_id, ReplyEnding(message_id, state, finish_reason, input_tokens,
                                                                  output_tokens, error, task=task_end))
                return  # its streams were told by the writer
        with contextlib.suppress(Exception):  # a chunk that could not be stored was never announced
            await self._chunks.flush(message_id)
        live = self._chunks.live(message_id)
        # A CUT reply's stored chunks may just have been replaced by the text the user heard (cut_reply): read them.
        stored = live.stored if live is not None and state != "CUT" else None
        await self._finish(message_id, state, finish_reason, input_tokens, output_tokens, error, stored=stored,
                           live=live if stored is not None else None)

    async def aclose(self) -> None:
        """Stores the chunks still queued; forgets the abandoned-reply checks."""
        for check in list(self._abandon_checks):
            check.cancel()
        await asyncio.gather(*self._abandon_checks, return_exceptions=True)
        await self._chunks.aclose()

    async def _follow(self, task: Task, state: TaskState, error: TaskError | None,
                      claim: TaskClaim | None = None) -> None:
        """The reply's task is ending: a reply its handler did not finish (the task was cancelled elsewhere, or
        failed before it ran) ends with it, keeping the text written so far. (A reply's writes are not fenced by its
        task's claim.)"""
        message_id = str(task.params.get("message_id", ""))
        self._admission.release(message_id)
        self._just_sent.pop(message_id, None)
        if state is TaskState.SUCCEEDED:  # its handler finished the reply
            return
        reply = await self._repo.get_message(message_id)
        if reply is None or reply.finished:
            return
        if state is TaskState.CANCELLED:
            await self._finish(message_id, "CUT", "CANCELLED", 0, 0, None)
        else:
            await self._finish(message_id, "FAILED", "ERROR", 0, 0, error or _interrupted())

    async def draft_reply(self, user_id: str, conversation_id: str, text: str,
                          memories: Sequence[str] = ()) -> str:
        """The reply the engine would write to `text` now (unpaced), with nothing stored: a voice turn drafts it
        while the user might still go on, and sends it with `send(prepared=...)` only if they do not. The history
        is read as stored (the summary as it is, the requirements restated when the real reply would)."""
        check_text(text)
        conversation = await self.get(user_id, conversation_id)
        history = list(reversed(await self._repo.messages(conversation.id, limit=10_000, before_position=None)))
        stored = [m for m in history if m.role in ("user", "assistant") and m.text]
        turns = [*(_turn(m) for m in stored if m.position > conversation.summary_covers), ChatTurn("user", text)]
        budget = self._limits.context_token_budget
        if sum(self._engine.count_tokens(t.text) for t in turns) > budget:
            turns = turns[-self._limits.recent_turns:]
        requirements = conversation.requirements or StoryRequirements()
        if (1 + sum(1 for m in stored if m.role == "user")) % self._limits.restate_every == 0:
            requirements = await self._engine.extract_requirements(
                [*(_turn(m) for m in stored), ChatTurn("user", text)], StoryRequirements())
        request = ChatRequest(system_instruction=SYSTEM_INSTRUCTION, turns=turns, summary=conversation.summary,
                              requirements=requirements, memories=tuple(memories), paced=False)
        written = []
        events = self._engine.chat(request)
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    written.append(event.text)
        finally:
            await events.aclose()
        return "".join(written)

    async def _prepared(self, request: ChatRequest, text: str) -> AsyncGenerator[TextDelta | ReplyEnd]:
        """A drafted reply streamed as the engine would stream it."""
        for word in re.findall(r"\S+\s*", text):
            yield TextDelta(word)
        yield ReplyEnd("STOP", request_tokens(self._engine, request), self._engine.count_tokens(text))

    async def _context(self, conversation: Conversation, reply: Message,
                       history: builtins.list[Message] | None = None) -> ChatRequest:
        """The history up to the reply (`history`, oldest first, when known without a read), within the token budget:
        older turns are summarized (the summary is stored and reused), and the requirements are restated
        periodically."""
        if history is None:
            history = list(reversed(await self._repo.messages(conversation.id, limit=10_000,
                                                               before_position=reply.position)))
        turns = [m for m in history if m.role in ("user", "assistant") and m.text]
        summary, covered = conversation.summary, conversation.summary_covers
        recent = [m for m in turns if m.position > covered]
        budget = self._limits.context_token_budget
        cost = sum(self._engine.count_tokens(m.text) for m in recent)
        if cost > budget and len(recent) > self._limits.recent_turns:
            keep = recent[-self._limits.recent_turns:]
            older = recent[:-self._limits.recent_turns]
            summary = await self._engine.summarize([_turn(m) for m in older], summary)
            covered = older[-1].position
            await self._repo.update(conversation.id, summary=summary, summary_covers=covered)
            recent = keep
        requirements = conversation.requirements or StoryRequirements()
        user_turns = sum(1 for m in turns if m.role == "user")
        if user_turns % self._limits.restate_every == 0:
            requirements = await self._extract(conversation, turns)
            await self._repo.update(conversation.id, requirements=requirements)
        return ChatRequest(system_instruction=SYSTEM_INSTRUCTION, turns=[_turn(m) for m in recent],
                           summary=summary, requirements=requirements)

    async def _extract(self, conversation: Conversation, turns: Sequence[Message] | None = None) -> StoryRequirements:
        if turns is None:
            turns = [m for m in reversed(await self._repo.messages(conversation.id, limit=10_000, before_position=None))
                     if m.role in ("user", "assistant") and m.text]
        return await self._engine.extract_requirements([_turn(m) for m in turns], StoryRequirements())

    async def _finish(self, message_id: str, state: MessageState, finish_reason: str, input_tokens: int,
                      output_tokens: int, error: TaskError | None, stored: Sequence[str] | None = None,
                      live: LiveReply | None = None) -> None:
        """Ends the reply. `live`: it was written here, and `stored` are all its chunks: this process's streams end
        with the message it became, without reading it back."""
        final = await self._repo.finish_message(message_id, state=state, finish_reason=finish_reason,
                                                input_tokens=input_tokens, output_tokens=output_tokens, error=error,
                                                stored=stored)
        if live is not None:
            live.final = final
        await self._announce_stored(message_id)

    async def _task_settled(self, user_id: str, task_id: str) -> None:
        """Waits for the reply's task to record its end as well (it does so right after the reply's), so a
        client that reads the task after the last reply event finds it finished, with its result."""
        if not task_id:
            return
        with contextlib.suppress(NotFound):
            await self._tasks.settled(user_id, task_id)

    async def _user_message_before(self, reply: Message) -> Message | None:
        before = await self._repo.messages(reply.conversation_id, limit=1, before_position=reply.position)
        return before[0] if before and before[0].role == "user" else None

    async def _wake(self, message_id: str) -> None:
        await self._notifier.publish(REPLY, message_id)

    async def _announce_stored(self, message_id: str) -> None:
        """The reply's chunks or its end were just stored: streams of it wake."""
        if self._repo.announces_replies:
            self._notifier.announced(REPLY, message_id)
        else:
            await self._wake(message_id)


def request_tokens(engine: TextEngine, request: ChatRequest) -> int:
    return sum(engine.count_tokens(t.text) for t in request.turns) + engine.count_tokens(request.summary)


def _turn(message: Message) -> ChatTurn:
    return ChatTurn("assistant" if message.role == "assistant" else "user", message.text)


def _rate_limited(limit: int, oldest: dt.datetime | None, now: dt.datetime) -> ResourceExhausted:
    retry = ((oldest + RATE_WINDOW) - now).total_seconds() if oldest else RATE_WINDOW.total_seconds()
    return ResourceExhausted(
        f"At most {limit} messages a minute; try again in {max(1, round(retry))} s.",
        retry_after_seconds=max(0.001, retry),
        metadata={"limit": str(limit), "window": "60s"},
    )


def _owned(user_id: str, conversation_id: str, conversation: Conversation | None) -> Conversation:
    """`conversation` if it is the user's; NOT_FOUND otherwise (another's is not told apart from a missing one)."""
    if conversation is None or conversation.user_id != user_id:
        raise NotFound(f"users/{user_id}/conversations/{conversation_id}")
    return conversation


def _title_from(text: str) -> str:
    words = " ".join(text.split()).split(" ")
    title = " ".join(words[:8])
    return (title + "...") if len(words) > 8 else title


def _reply_error(exc: DomainError) -> TaskError:
    """How a failed reply reports `exc` in its last event; a rate limit says when to retry (RetryInfo)."""
    metadata = dict(exc.metadata)
    if isinstance(exc, ResourceExhausted):
        metadata["retryDelaySeconds"] = f"{exc.retry_after_seconds:g}"
    return TaskError(exc.code, exc.reason, exc.message, metadata)


def _interrupted() -> TaskError:
    return TaskError("ABORTED", "REPLY_INTERRUPTED",
                     "The server restarted while the reply was written; the text so far is kept.", {})

"""The turns of a live conversation: what each knows (its audio, text, reply, what was played of it), how a reply
is cut into sentences to speak as it is written, and the background work they leave running."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from storyloom.domain.conversations import Message
from storyloom.domain.errors import ResourceExhausted
from storyloom.domain.ports.speech import Transcription

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Spoken:
    """A sentence of the reply sent as audio: where its text ends in the reply, where its audio starts, how long it
    plays (pause before it included) and how much of that is the pause."""

    text: str
    text_end: int
    start: float
    duration: float
    pause: float


@dataclasses.dataclass(eq=False)
class SttRun:
    start: float  # the utterance start it belongs to
    end: float  # how far into the stream's audio it heard
    task: asyncio.Task[Transcription]


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A reply drafted during the pause that may end an utterance: its text, the memories it was given, and its
    first spoken piece, being synthesized (the turn stores the user's words meanwhile)."""

    heard: str  # the transcript it answers
    text: str
    memories: tuple[str, ...]
    first_piece: str
    first_pcm: asyncio.Task[bytes] | None  # None: nothing to speak

    def discard(self) -> None:
        if self.first_pcm is not None:
            self.first_pcm.cancel()


@dataclasses.dataclass(eq=False)
class Draft:
    run: SttRun  # the speculative final it answers
    task: asyncio.Task[Prepared]

    def cancel(self) -> None:
        """Drops the draft, and the synthesis of its first piece if that has begun."""
        self.task.cancel()
        if self.task.done() and not self.task.cancelled() and self.task.exception() is None:
            self.task.result().discard()


TRANSCRIBING, STORING, REPLYING, DONE, DROPPED = "transcribing", "storing", "replying", "done", "dropped"


@dataclasses.dataclass(eq=False)
class Turn:
    number: int
    audio: bytes | None = None  # the utterance (16 kHz), or None for typed text
    text: str = ""
    stt: SttRun | None = None  # a partial transcription that already heard the whole utterance
    draft: Draft | None = None  # a reply drafted from that transcription during the pause
    first_audio: tuple[str, asyncio.Task[bytes]] | None = None  # the drafted first piece and its audio
    utterance_start: float = 0.0
    mergeable: bool = False
    stage: str = TRANSCRIBING
    task: asyncio.Task[None] | None = None
    reply_task: asyncio.Task[None] | None = None
    cut_task: asyncio.Task[Message | None] | None = None
    reply_id: str = ""
    user_message: Message | None = None
    reply_text: str = ""
    text_complete: bool = False  # the whole reply text is written (and queued for speech)
    spoken: list[Spoken] = dataclasses.field(default_factory=list)
    audio_seconds: float = 0.0
    first_audio_at: float | None = None
    played_reported: float | None = None
    interrupted: bool = False
    stored_text: str = ""

    def played(self, now: float) -> float:
        """What the client played of the reply by `now` (monotonic): what it reported, else what the clock
        allows."""
        if self.played_reported is not None:
            return min(self.played_reported, self.audio_seconds)
        if self.first_audio_at is None:
            return 0.0
        return min(self.audio_seconds, now - self.first_audio_at)

    def playing(self, grace: float, now: float) -> bool:
        """Whether the client is still playing the reply: more than a moment of it is left unheard (as reported,
        else by the clock), and the clock allows it (reports may stop coming)."""
        if self.first_audio_at is None or self.interrupted:
            return False
        if self.audio_seconds - self.played(now) <= 0.25:
            return False
        return now - self.first_audio_at < self.audio_seconds + grace

    def finished(self, now: float) -> bool:
        """Whether nothing of the turn is left to do or to hear: done, its tasks ended, its reply played."""
        return (self.stage == DONE and self.task is not None and self.task.done()
                and (self.cut_task is None or self.cut_task.done()) and not self.playing(1.0, now))

    def text_played(self, played: float) -> str:
        """The reply's text as far as `played` seconds of its audio: whole sentences, then the share of the words
        of the sentence playing when it stopped."""
        kept, partial = 0, ""
        for spoken in self.spoken:
            if played >= spoken.start + spoken.duration - 0.05:
                kept = spoken.text_end
                continue
            speech = spoken.duration - spoken.pause
            heard = played - spoken.start - spoken.pause
            if heard > 0 and speech > 0:
                words = spoken.text.split()
                partial = " ".join(words[:math.floor(len(words) * heard / speech)])
            break
        text = self.reply_text[:kept].rstrip()
        return f"{text} {partial}".strip() if partial else text


SPEAKABLE = re.compile(r"\w")
# The opening clause of a reply's first sentence (words up to its first comma, semicolon, colon or dash, with at
# least four words after it), spoken on its own.
_OPENING_CLAUSE = re.compile(r"(\S+(?:\s+\S+)*?[,;:—–])\s+(?=(?:\S+\s+){3,}\S)")
# The same while the first sentence is still being written: a short clause (at most eight words) whose break and
# the space after it have arrived.
_FIRST_CLAUSE = re.compile(r"\s*(\S+(?:\s+\S+){0,7}?[,;:—–])\s")
# Text that ends with a finished sentence (its closing punctuation and the space after it have arrived).
ENDS_SENTENCE = re.compile(r"(?:[.!?]+|…)[\"'”’»)\]]*\s+$")


def queue_sentences(split_sentences: Callable[[str], list[str]], text: str, queued: int,
                     sentences: asyncio.Queue[tuple[str, int] | None], *, final: bool) -> int:
    """Queues the sentences of `text` after `queued` that are complete (all of them when `final`); returns how much
    of the text is queued now."""
    pending = text[queued:]
    found = split_sentences(pending)
    # The last sentence may go on, unless its end has arrived: a following capitalized word would start another.
    if not final and not (ENDS_SENTENCE.search(pending) and len(split_sentences(pending + "Next")) > len(found)):
        found = found[:-1]
    position = queued
    if queued == 0 and not found and not final and (early := _FIRST_CLAUSE.match(pending)):
        # The reply's first clause is spoken as soon as it is written, before the rest of its sentence.
        sentences.put_nowait((early.group(1), early.end(1)))
        return early.end(1)
    for sentence in found:
        at = text.find(sentence, position)
        end = (at + len(sentence)) if at >= 0 else position
        if position == 0 and at >= 0 and (clause := _OPENING_CLAUSE.match(sentence)):
            # The reply's first words are spoken on their own, so the first audio comes sooner.
            sentences.put_nowait((clause.group(1), at + clause.end(1)))
            sentence = sentence[clause.end():]
        sentences.put_nowait((sentence, end))
        position = end
    return position


_BACKGROUND: set[asyncio.Task[Any]] = set()


def in_background(work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Runs work nobody awaits, holding the task until it ends (the loop keeps only weak references)."""
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    task.add_done_callback(retrieve)
    return task


def retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and isinstance(task.exception(), ResourceExhausted):
        log.debug("voice background work skipped: %s", task.exception())
    elif not task.cancelled() and task.exception() is not None:
        log.warning("voice background work failed: %r", task.exception())

"""Voice sessions: their stored metadata, and the in-memory state of the ones in use.

A voice session is a conversation (stored through `Conversations`, so its turns are ordinary messages) plus what
voice needs: the language, the voice, a turn count. Its metadata is persisted; the in-memory state of a session in
use (the end-of-speech detector, the audio heard so far) lives in `LiveSessions` and is dropped once the session has
been idle for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from typing import Any, Protocol

from storyloom.domain.errors import DomainError, FailedPrecondition
from storyloom.domain.ports.clock import SYSTEM_CLOCK, Clock
from storyloom.domain.ports.speech import VadStream
from storyloom.domain.voice.formats import STREAM_RATE, pcm_seconds

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VoiceSession:
    id: str
    user_id: str
    conversation_id: str
    language_code: str
    voice: str
    turn_count: int
    create_time: dt.datetime
    last_use_time: dt.datetime

    @property
    def name(self) -> str:
        return f"users/{self.user_id}/voiceSessions/{self.id}"

    @property
    def conversation_name(self) -> str:
        return f"users/{self.user_id}/conversations/{self.conversation_id}"


class VoiceSessionRepository(Protocol):
    async def create(self, voice_session: VoiceSession, request_id: str) -> tuple[VoiceSession, bool]: ...

    async def find_by_request(self, user_id: str, request_id: str) -> VoiceSession | None: ...

    async def get(self, session_id: str) -> VoiceSession | None: ...

    async def delete(self, session_id: str) -> bool: ...

    async def update(self, session_id: str, *, turns_added: int = 0, **fields: Any) -> VoiceSession | None: ...


class LiveOwner(Protocol):
    """The stream a live session state is attached to (a LiveConversation)."""

    @property
    def session_name(self) -> str: ...

    def terminate(self, error: DomainError | None) -> None:
        """Ends the stream from outside; with an error, the client is told why."""


@dataclasses.dataclass(eq=False)
class LiveState:
    """What a session in use keeps in memory: the end-of-speech detector and the audio heard, so a stream that
    reconnects within the idle window continues an utterance where the dropped one left it."""

    session_id: str
    vad: VadStream | None = None
    vad_base: float = 0.0  # seconds of stream audio heard before the detector started (its offsets are from there)
    audio: bytearray = dataclasses.field(default_factory=bytearray)  # 16 kHz PCM16 from `audio_start` on
    audio_start: float = 0.0
    heard: float = 0.0  # seconds of audio heard in all
    utterance_start: float | None = None  # where the utterance being spoken starts; None: nobody speaks
    prefix: bytes = b""  # audio of an utterance it continues (the user went on after a short pause)
    owner: LiveOwner | None = None
    last_active: float = 0.0  # when a stream last used it (monotonic seconds)

    def append(self, pcm: bytes) -> None:
        self.audio += pcm
        self.heard += pcm_seconds(pcm, STREAM_RATE)

    def span(self, start: float, end: float) -> bytes:
        """The buffered audio from `start` to `end` (seconds of stream audio)."""
        first = max(0, round((start - self.audio_start) * STREAM_RATE)) * 2
        last = max(first, round((end - self.audio_start) * STREAM_RATE) * 2)
        return bytes(self.audio[first:last])

    def trim(self, keep_from: float) -> None:
        """Forgets the audio before `keep_from`."""
        cut = max(0, round((keep_from - self.audio_start) * STREAM_RATE)) * 2
        if cut > 0:
            del self.audio[:cut]
            self.audio_start += cut / 2 / STREAM_RATE

    @property
    def utterance_seconds(self) -> float:
        if self.utterance_start is None:
            return 0.0
        return pcm_seconds(self.prefix, STREAM_RATE) + self.heard - self.utterance_start


class LiveSessions:
    """The live state of sessions in use, dropped `idle_seconds` after their last stream detached."""

    def __init__(self, idle_seconds: float, clock: Clock = SYSTEM_CLOCK):
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._states: dict[str, LiveState] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._states

    def attach(self, session_id: str, owner: LiveOwner) -> LiveState:
        """The session's state for a new stream; a stream still attached to it is ended (the client reconnected)."""
        state = self._states.get(session_id)
        if state is None:
            state = self._states[session_id] = LiveState(session_id)
        previous, state.owner = state.owner, owner
        state.last_active = self._clock.monotonic()
        if previous is not None and previous is not owner:
            previous.terminate(FailedPrecondition("The session was resumed by another stream.",
                                                  reason="SESSION_RESUMED_ELSEWHERE",
                                                  metadata={"resourceName": previous.session_name}))
        return state

    def detach(self, state: LiveState, owner: LiveOwner) -> None:
        if state.owner is owner:
            state.owner = None
            state.last_active = self._clock.monotonic()

    def evict(self, session_id: str, error: DomainError | None = None) -> None:
        state = self._states.pop(session_id, None)
        if state is not None and state.owner is not None and error is not None:
            state.owner.terminate(error)

    def sweep(self, now: float | None = None) -> int:
        """Drops the states no stream uses that have been idle too long; returns how many."""
        now = self._clock.monotonic() if now is None else now
        idle = [sid for sid, state in self._states.items()
                if state.owner is None and now - state.last_active >= self.idle_seconds]
        for session_id in idle:
            del self._states[session_id]
        return len(idle)

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="voice-live-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for state in list(self._states.values()):
            if state.owner is not None:
                state.owner.terminate(None)
        self._states.clear()

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, min(30.0, self.idle_seconds / 2)))
            evicted = self.sweep()
            if evicted:
                log.debug("evicted %d idle voice session state(s)", evicted)

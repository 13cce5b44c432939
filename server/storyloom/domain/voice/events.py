"""What a Converse stream says: its settings in, and the events out."""

from __future__ import annotations

import dataclasses

from storyloom.domain.conversations import Message
from storyloom.domain.errors import DomainError
from storyloom.domain.voice.formats import DEFAULT_FORMAT, AudioFormat
from storyloom.domain.voice.sessions import VoiceSession


@dataclasses.dataclass(frozen=True)
class ConverseSettings:
    session_id: str = ""  # "" starts a new session
    input_format: AudioFormat = DEFAULT_FORMAT
    output_format: AudioFormat = DEFAULT_FORMAT
    language_code: str = ""
    voice: str = ""


@dataclasses.dataclass(frozen=True)
class VoiceEvent:
    turn: int


@dataclasses.dataclass(frozen=True)
class SessionStartedEvent(VoiceEvent):
    session: VoiceSession
    output_format: AudioFormat


@dataclasses.dataclass(frozen=True)
class SpeechStartedEvent(VoiceEvent):
    offset_seconds: float


@dataclasses.dataclass(frozen=True)
class SpeechStoppedEvent(VoiceEvent):
    offset_seconds: float


@dataclasses.dataclass(frozen=True)
class TranscriptEvent(VoiceEvent):
    text: str
    final: bool
    language_code: str = ""


@dataclasses.dataclass(frozen=True)
class ReplyTextEvent(VoiceEvent):
    text: str


@dataclasses.dataclass(frozen=True)
class ReplyAudioEvent(VoiceEvent):
    audio: bytes
    sentence: str
    start_seconds: float
    last: bool


@dataclasses.dataclass(frozen=True)
class InterruptedEvent(VoiceEvent):
    played_seconds: float
    stored_text: str


@dataclasses.dataclass(frozen=True)
class TurnCompleteEvent(VoiceEvent):
    user_message: Message
    assistant_message: Message


@dataclasses.dataclass(frozen=True)
class ErrorEvent(VoiceEvent):
    error: DomainError
    fatal: bool


class TurnFailed(DomainError):
    """A reply that failed in its task, with the task's code and reason."""

    def __init__(self, code: str, reason: str, message: str, metadata: dict[str, str]):
        super().__init__(message, reason=reason, metadata=metadata)
        self.code = code

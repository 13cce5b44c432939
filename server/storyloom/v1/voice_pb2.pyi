import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import client_pb2 as _client_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from storyloom.v1 import conversation_pb2 as _conversation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_ENCODING_UNSPECIFIED: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_LINEAR16: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_WAV: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_OGG_OPUS: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_WEBM_OPUS: _ClassVar[AudioEncoding]
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
AUDIO_ENCODING_LINEAR16: AudioEncoding
AUDIO_ENCODING_WAV: AudioEncoding
AUDIO_ENCODING_OGG_OPUS: AudioEncoding
AUDIO_ENCODING_WEBM_OPUS: AudioEncoding

class AudioFormat(_message.Message):
    __slots__ = ("encoding", "sample_rate_hertz")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    encoding: AudioEncoding
    sample_rate_hertz: int
    def __init__(self, encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hertz: _Optional[int] = ...) -> None: ...

class TranscribeRequest(_message.Message):
    __slots__ = ("parent", "audio_content", "media", "format", "language_code")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    audio_content: bytes
    media: str
    format: AudioFormat
    language_code: str
    def __init__(self, parent: _Optional[str] = ..., audio_content: _Optional[bytes] = ..., media: _Optional[str] = ..., format: _Optional[_Union[AudioFormat, _Mapping]] = ..., language_code: _Optional[str] = ...) -> None: ...

class TranscribeResponse(_message.Message):
    __slots__ = ("text", "language_code", "language_confidence", "audio_duration", "segments")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    text: str
    language_code: str
    language_confidence: float
    audio_duration: _duration_pb2.Duration
    segments: _containers.RepeatedCompositeFieldContainer[TranscriptSegment]
    def __init__(self, text: _Optional[str] = ..., language_code: _Optional[str] = ..., language_confidence: _Optional[float] = ..., audio_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., segments: _Optional[_Iterable[_Union[TranscriptSegment, _Mapping]]] = ...) -> None: ...

class TranscriptSegment(_message.Message):
    __slots__ = ("text", "start_offset", "end_offset")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    text: str
    start_offset: _duration_pb2.Duration
    end_offset: _duration_pb2.Duration
    def __init__(self, text: _Optional[str] = ..., start_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., end_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SynthesizeRequest(_message.Message):
    __slots__ = ("parent", "text", "voice", "output_format", "speaking_rate")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    text: str
    voice: str
    output_format: AudioFormat
    speaking_rate: float
    def __init__(self, parent: _Optional[str] = ..., text: _Optional[str] = ..., voice: _Optional[str] = ..., output_format: _Optional[_Union[AudioFormat, _Mapping]] = ..., speaking_rate: _Optional[float] = ...) -> None: ...

class SynthesisChunkInfo(_message.Message):
    __slots__ = ("sequence", "sentence", "start_offset", "duration")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    sentence: str
    start_offset: _duration_pb2.Duration
    duration: _duration_pb2.Duration
    def __init__(self, sequence: _Optional[int] = ..., sentence: _Optional[str] = ..., start_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DetectLanguageRequest(_message.Message):
    __slots__ = ("parent", "text")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    text: str
    def __init__(self, parent: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class DetectLanguageResponse(_message.Message):
    __slots__ = ("language_code", "confidence", "alternatives")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    confidence: float
    alternatives: _containers.RepeatedCompositeFieldContainer[LanguageCandidate]
    def __init__(self, language_code: _Optional[str] = ..., confidence: _Optional[float] = ..., alternatives: _Optional[_Iterable[_Union[LanguageCandidate, _Mapping]]] = ...) -> None: ...

class LanguageCandidate(_message.Message):
    __slots__ = ("language_code", "confidence")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    confidence: float
    def __init__(self, language_code: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class VoiceSession(_message.Message):
    __slots__ = ("name", "conversation", "language_code", "voice", "turn_count", "create_time", "last_use_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    TURN_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_USE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    conversation: str
    language_code: str
    voice: str
    turn_count: int
    create_time: _timestamp_pb2.Timestamp
    last_use_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., conversation: _Optional[str] = ..., language_code: _Optional[str] = ..., voice: _Optional[str] = ..., turn_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_use_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateVoiceSessionRequest(_message.Message):
    __slots__ = ("parent", "voice_session", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    VOICE_SESSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    voice_session: VoiceSession
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., voice_session: _Optional[_Union[VoiceSession, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetVoiceSessionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteVoiceSessionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ConverseRequest(_message.Message):
    __slots__ = ("config", "audio", "text", "end_of_turn", "playback")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    END_OF_TURN_FIELD_NUMBER: _ClassVar[int]
    PLAYBACK_FIELD_NUMBER: _ClassVar[int]
    config: ConverseConfig
    audio: bytes
    text: str
    end_of_turn: EndOfTurn
    playback: PlaybackPosition
    def __init__(self, config: _Optional[_Union[ConverseConfig, _Mapping]] = ..., audio: _Optional[bytes] = ..., text: _Optional[str] = ..., end_of_turn: _Optional[_Union[EndOfTurn, _Mapping]] = ..., playback: _Optional[_Union[PlaybackPosition, _Mapping]] = ...) -> None: ...

class ConverseConfig(_message.Message):
    __slots__ = ("session", "input_format", "output_format", "language_code", "voice")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    session: str
    input_format: AudioFormat
    output_format: AudioFormat
    language_code: str
    voice: str
    def __init__(self, session: _Optional[str] = ..., input_format: _Optional[_Union[AudioFormat, _Mapping]] = ..., output_format: _Optional[_Union[AudioFormat, _Mapping]] = ..., language_code: _Optional[str] = ..., voice: _Optional[str] = ...) -> None: ...

class EndOfTurn(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PlaybackPosition(_message.Message):
    __slots__ = ("turn", "played")
    TURN_FIELD_NUMBER: _ClassVar[int]
    PLAYED_FIELD_NUMBER: _ClassVar[int]
    turn: int
    played: _duration_pb2.Duration
    def __init__(self, turn: _Optional[int] = ..., played: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ConverseResponse(_message.Message):
    __slots__ = ("sequence", "turn", "session_started", "speech_started", "speech_stopped", "transcript", "reply_text", "reply_audio", "interrupted", "turn_complete", "error")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    SESSION_STARTED_FIELD_NUMBER: _ClassVar[int]
    SPEECH_STARTED_FIELD_NUMBER: _ClassVar[int]
    SPEECH_STOPPED_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    REPLY_TEXT_FIELD_NUMBER: _ClassVar[int]
    REPLY_AUDIO_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    TURN_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    turn: int
    session_started: SessionStarted
    speech_started: SpeechStarted
    speech_stopped: SpeechStopped
    transcript: Transcript
    reply_text: _conversation_pb2.ReplyDelta
    reply_audio: ReplyAudio
    interrupted: Interrupted
    turn_complete: TurnComplete
    error: _status_pb2.Status
    def __init__(self, sequence: _Optional[int] = ..., turn: _Optional[int] = ..., session_started: _Optional[_Union[SessionStarted, _Mapping]] = ..., speech_started: _Optional[_Union[SpeechStarted, _Mapping]] = ..., speech_stopped: _Optional[_Union[SpeechStopped, _Mapping]] = ..., transcript: _Optional[_Union[Transcript, _Mapping]] = ..., reply_text: _Optional[_Union[_conversation_pb2.ReplyDelta, _Mapping]] = ..., reply_audio: _Optional[_Union[ReplyAudio, _Mapping]] = ..., interrupted: _Optional[_Union[Interrupted, _Mapping]] = ..., turn_complete: _Optional[_Union[TurnComplete, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class SessionStarted(_message.Message):
    __slots__ = ("session", "output_format")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    session: VoiceSession
    output_format: AudioFormat
    def __init__(self, session: _Optional[_Union[VoiceSession, _Mapping]] = ..., output_format: _Optional[_Union[AudioFormat, _Mapping]] = ...) -> None: ...

class SpeechStarted(_message.Message):
    __slots__ = ("audio_offset",)
    AUDIO_OFFSET_FIELD_NUMBER: _ClassVar[int]
    audio_offset: _duration_pb2.Duration
    def __init__(self, audio_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SpeechStopped(_message.Message):
    __slots__ = ("audio_offset",)
    AUDIO_OFFSET_FIELD_NUMBER: _ClassVar[int]
    audio_offset: _duration_pb2.Duration
    def __init__(self, audio_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Transcript(_message.Message):
    __slots__ = ("text", "final", "language_code")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    text: str
    final: bool
    language_code: str
    def __init__(self, text: _Optional[str] = ..., final: _Optional[bool] = ..., language_code: _Optional[str] = ...) -> None: ...

class ReplyAudio(_message.Message):
    __slots__ = ("audio", "sentence", "start_offset", "last")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    sentence: str
    start_offset: _duration_pb2.Duration
    last: bool
    def __init__(self, audio: _Optional[bytes] = ..., sentence: _Optional[str] = ..., start_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., last: _Optional[bool] = ...) -> None: ...

class Interrupted(_message.Message):
    __slots__ = ("played", "stored_text")
    PLAYED_FIELD_NUMBER: _ClassVar[int]
    STORED_TEXT_FIELD_NUMBER: _ClassVar[int]
    played: _duration_pb2.Duration
    stored_text: str
    def __init__(self, played: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., stored_text: _Optional[str] = ...) -> None: ...

class TurnComplete(_message.Message):
    __slots__ = ("user_message", "assistant_message")
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    user_message: _conversation_pb2.Message
    assistant_message: _conversation_pb2.Message
    def __init__(self, user_message: _Optional[_Union[_conversation_pb2.Message, _Mapping]] = ..., assistant_message: _Optional[_Union[_conversation_pb2.Message, _Mapping]] = ...) -> None: ...

class Memory(_message.Message):
    __slots__ = ("name", "user_text", "assistant_text", "session", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_TEXT_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_TEXT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    user_text: str
    assistant_text: str
    session: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., user_text: _Optional[str] = ..., assistant_text: _Optional[str] = ..., session: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddMemoryRequest(_message.Message):
    __slots__ = ("parent", "memory")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    parent: str
    memory: Memory
    def __init__(self, parent: _Optional[str] = ..., memory: _Optional[_Union[Memory, _Mapping]] = ...) -> None: ...

class QueryMemoryRequest(_message.Message):
    __slots__ = ("parent", "query", "page_size")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    query: str
    page_size: int
    def __init__(self, parent: _Optional[str] = ..., query: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class QueryMemoryResponse(_message.Message):
    __slots__ = ("matches",)
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[MemoryMatch]
    def __init__(self, matches: _Optional[_Iterable[_Union[MemoryMatch, _Mapping]]] = ...) -> None: ...

class MemoryMatch(_message.Message):
    __slots__ = ("memory", "score")
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    memory: Memory
    score: float
    def __init__(self, memory: _Optional[_Union[Memory, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class GetMemorySummaryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class MemorySummary(_message.Message):
    __slots__ = ("name", "memory_count", "last_update_time", "summary")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    name: str
    memory_count: int
    last_update_time: _timestamp_pb2.Timestamp
    summary: str
    def __init__(self, name: _Optional[str] = ..., memory_count: _Optional[int] = ..., last_update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., summary: _Optional[str] = ...) -> None: ...

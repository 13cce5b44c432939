"""Voice: sessions, speech to text and back, language detection, and the live spoken conversation.

- formats.py: encodings, rates and language codes as the API sees them; the chunks Synthesize streams.
- sessions.py: voice sessions (stored) and the in-memory state of the ones in use (`LiveSessions`).
- speech.py: the `Voice` service: sessions, Transcribe, Synthesize, DetectLanguage; the engines it runs on.
- conversation.py: `LiveConversation`, one Converse stream (events.py: what it says; turns.py: its turns).
"""

from storyloom.domain.voice.conversation import LiveConversation
from storyloom.domain.voice.events import (
    ConverseSettings,
    ErrorEvent,
    InterruptedEvent,
    ReplyAudioEvent,
    ReplyTextEvent,
    SessionStartedEvent,
    SpeechStartedEvent,
    SpeechStoppedEvent,
    TranscriptEvent,
    TurnCompleteEvent,
    VoiceEvent,
)
from storyloom.domain.voice.formats import AudioFormat, Encoding, SynthesisChunk, check_rate
from storyloom.domain.voice.sessions import LiveSessions, VoiceSession, VoiceSessionRepository
from storyloom.domain.voice.speech import SpeechEngines, Voice, VoiceLimits

__all__ = [
    "AudioFormat", "ConverseSettings", "check_rate", "Encoding", "ErrorEvent", "InterruptedEvent", "LiveConversation",
    "LiveSessions", "ReplyAudioEvent", "ReplyTextEvent", "SessionStartedEvent", "SpeechEngines", "SpeechStartedEvent",
    "SpeechStoppedEvent", "SynthesisChunk", "TranscriptEvent", "TurnCompleteEvent", "Voice", "VoiceEvent",
    "VoiceLimits", "VoiceSession", "VoiceSessionRepository",
]

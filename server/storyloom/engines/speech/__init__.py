"""Speech engines: piper-tts narration, faster-whisper speech to text, Silero end of speech, fastText language id,
and the audio formats around them (decoding, resampling, WAV, Ogg/Opus, sentence splitting)."""

from storyloom.engines.speech.piper_tts import PiperNarrator
from storyloom.engines.speech.sentences import split_sentences

__all__ = ["PiperNarrator", "split_sentences"]

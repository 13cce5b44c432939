"""Speech engines: narration (text to speech). piper-tts with a voice shipped on PyPI by default."""

from storyloom.engines.speech.piper_tts import PiperNarrator, split_sentences

__all__ = ["PiperNarrator", "split_sentences"]

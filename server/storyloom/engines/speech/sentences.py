"""Sentence splitting for speech: a sentence ends at . ! ? or an ellipsis (with any closing quotes or brackets)
followed by whitespace, or at a line break; but not after a common abbreviation or a single initial ("Mr. Fox",
"J. Smith"), nor before a lower-case word ('"Hello!" he said.'). Engines speak sentence by sentence, so the first
audio comes early and a cancelled synthesis stops soon."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?:[.!?]+|…)[\"'”’»)\]]*(?=\s)")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "mt", "prof", "sr", "jr", "vs", "etc", "no", "capt",
                            "lt", "sgt", "gen", "col", "rev", "fig", "approx", "e.g", "i.e"})
_LAST_WORD = re.compile(r"([\w.]+)[.]$")
_SPEAKABLE = re.compile(r"\w")
_CLAUSE_BREAK = re.compile(r"[,;:—–]\s+")


def split_sentences(text: str, *, max_chars: int = 300) -> list[str]:
    """The sentences of `text`, in order, each stripped; pieces with nothing to say (only punctuation) are dropped.

    A sentence longer than `max_chars` is cut at its last clause break (comma, semicolon, colon, dash) before the
    limit, or else at a space, so one run-on sentence cannot delay the first audio.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        start = 0
        for match in _SENTENCE_END.finditer(line):
            candidate = line[start:match.end()]
            following = line[match.end():].lstrip()[:1]
            if following.islower():
                continue
            last = _LAST_WORD.search(candidate.rstrip("\"'”’»)]"))
            if last and match.group().startswith(".") and (
                    last[1].lower().rstrip(".") in _ABBREVIATIONS or (len(last[1]) == 1 and last[1].isupper())):
                continue
            sentences.extend(_cut(candidate.strip(), max_chars))
            start = match.end()
        sentences.extend(_cut(line[start:].strip(), max_chars))
    return [sentence for sentence in sentences if _SPEAKABLE.search(sentence)]


def _cut(sentence: str, max_chars: int) -> list[str]:
    pieces = []
    while len(sentence) > max_chars:
        window = sentence[:max_chars]
        breaks = [m.end() for m in _CLAUSE_BREAK.finditer(window)]
        at = breaks[-1] if breaks else window.rfind(" ") + 1
        if at <= 0:
            at = max_chars  # one enormous word: cut it anyway
        pieces.append(sentence[:at].strip())
        sentence = sentence[at:].strip()
    if sentence:
        pieces.append(sentence)
    return pieces

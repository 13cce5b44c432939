"""The sentences the speech tests and bench_speech speak (synthesized by piper) and how a transcript is scored:
jiwer's word error rate after one normalisation (lower case, no punctuation, "ice-cream" is two words)."""

from __future__ import annotations

import jiwer

SENTENCES = (
    "Can you tell me a story about a brave little dragon?",
    "The little fox found a shiny red apple under the old oak tree.",
    "I want the princess to have a pet cat.",
    "Please make the story funny and not too scary.",
    "Once upon a time, a small boat sailed across the blue sea.",
    "My favorite animal is the elephant because it is big and gentle.",
    "Can the robot and the rabbit become best friends?",
    "At night the stars sparkled above the quiet village.",
)

_NORMALISE = jiwer.Compose([
    jiwer.ToLowerCase(), jiwer.SubstituteRegexes({r"-": " "}), jiwer.RemovePunctuation(),
    jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfWords(),
])


def words(text: str) -> list[str]:
    """Lower-case words without punctuation ("ice-cream" becomes two)."""
    return list(_NORMALISE(text)[0]) if text.strip() else []


def same_words(expected: str, heard: str) -> bool:
    """Whether a transcript has exactly the words expected, after the normalisation above; a compound written in
    one word or two ("bedtime", "bed time") counts as the same words, any other difference does not."""
    wanted, got = words(expected), words(heard)
    return wanted == got or "".join(wanted) == "".join(got)


def word_errors(references: list[str], hypotheses: list[str]) -> tuple[int, int]:
    """(substitutions + deletions + insertions, words in the references) over all pairs."""
    measured = jiwer.process_words(references, hypotheses, reference_transform=_NORMALISE,
                                   hypothesis_transform=_NORMALISE)
    return measured.substitutions + measured.deletions + measured.insertions, sum(map(len, map(words, references)))


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    errors, total = word_errors(references, hypotheses)
    return errors / total


def heard(sentence: str, transcript: str, *, max_errors: int = 1) -> bool:
    """Whether one transcript has the sentence's words, give or take `max_errors` (piper's voice varies a little
    from one synthesis to the next, and "and"/"in" can swap in a single sentence: accuracy is measured over the
    whole set, one sentence checks that the audio got through)."""
    return word_errors([sentence], [transcript])[0] <= max_errors

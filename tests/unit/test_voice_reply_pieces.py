"""How a reply being written is cut into pieces to speak: the first clause as soon as it is written, then whole
sentences; and an unpaced reply streams its words without the offline engine's pause."""

from __future__ import annotations

import asyncio
import time

from storyloom.domain.ports.text import ChatRequest, ChatTurn, TextDelta
from storyloom.domain.voice.turns import queue_sentences
from storyloom.engines.speech.sentences import split_sentences
from storyloom.engines.text.offline.chat import OfflineStoryteller


def written_word_by_word(text: str) -> list[tuple[str, int]]:
    """The pieces queued while `text` arrives a word at a time, then as a whole."""
    queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
    queued, so_far, pieces = 0, "", []
    for word in text.split(" "):
        so_far += word + " "
        queued = queue_sentences(split_sentences, so_far, queued, queue, final=False)
        while not queue.empty():
            item = queue.get_nowait()
            assert item is not None
            pieces.append((item[0], len(so_far.split())))  # the piece, and how many words had arrived
    queue_sentences(split_sentences, so_far, queued, queue, final=True)
    while not queue.empty():
        item = queue.get_nowait()
        assert item is not None
        pieces.append((item[0], len(so_far.split())))
    return pieces


def test_the_first_clause_is_queued_as_soon_as_its_break_arrives() -> None:
    pieces = written_word_by_word("Oh, what a lovely idea! Tell me more about the dragon.")
    assert pieces == [("Oh,", 1), ("what a lovely idea!", 5), ("Tell me more about the dragon.", 11)]


def test_a_first_sentence_without_a_short_clause_waits_for_its_end() -> None:
    pieces = written_word_by_word("I really love brave little dragons who live in caves, yes. Next one.")
    assert [piece for piece, _ in pieces] == ["I really love brave little dragons who live in caves, yes.",
                                              "Next one."]
    assert [piece for piece, _ in written_word_by_word("Hello there. Bye, now.")] == ["Hello there.", "Bye, now."]


def test_the_pieces_end_where_their_text_ends() -> None:
    queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
    text = "Well, that is a fine name. "
    queued = queue_sentences(split_sentences, text[:6], 0, queue, final=False)
    assert queue.get_nowait() == ("Well,", 5) and queued == 5
    queue_sentences(split_sentences, text, queued, queue, final=True)
    assert queue.get_nowait() == ("that is a fine name.", len(text) - 1)


async def test_an_unpaced_reply_streams_without_the_pause_between_words() -> None:
    engine = OfflineStoryteller(word_delay=0.5)
    request = ChatRequest(system_instruction="", turns=[ChatTurn("user", "I want a story about a dragon.")],
                          paced=False)
    started = time.monotonic()
    words = [event.text async for event in engine.chat(request) if isinstance(event, TextDelta)]
    assert len(words) > 3 and time.monotonic() - started < 0.5 * 3  # paced, three words would take 1.5 s

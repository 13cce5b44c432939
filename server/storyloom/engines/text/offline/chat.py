"""The offline storyteller: the embedded default text engine (no model, no key, no network).

It is procedural, not a neural model. Hand-written rules read the conversation (character names
and kinds, places, moods, ages, lengths, endings, titles...), and a small slot-filling dialogue
acknowledges what the user said and asks for the most important thing still missing, one question
at a time, with suggestions a child can pick from. Phrasing varies with a hash of the
conversation, never with randomness: the same conversation always gets the same reply.

It is written for children: a short blocklist keeps violent, sexual and grown-up horror words out
of the story and out of every reply (they are never repeated), and replies are plain text, ready
to be read aloud. Messages in other languages get a reply in simple English; a few common story
words of Spanish, French, German, Italian and Portuguese are still understood.

The engine is here; the rest of the chat is in this package: `dialogue` reads a conversation turn by turn,
`slots_cast` and `slots` find what each message says, `characters` what the whole conversation says about its
characters, `state` holds what is known, `replies` writes the answer, and `words` has the text helpers and the
vocabulary they share.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
from collections.abc import AsyncGenerator, Sequence

from storyloom.domain.ports.text import ChatEvent, ChatRequest, ChatTurn, FinishReason, ReplyEnd, TextDelta
from storyloom.domain.reply_chunks import SENTENCE_END  # (a chunk a sentence: as the chat's writer announces)
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.offline.dialogue import _analyse
from storyloom.engines.text.offline.replies import _compose, _memory_name, _summary
from storyloom.engines.text.offline.writer import OfflineStoryWriter

# A pause after each streamed word in production, so that streaming is visible; tests pass 0.
DEFAULT_WORD_DELAY = 0.015
# Paced, the words after the first go out a sentence at a time, each chunk when its last word is due, as a model's
# stream sends a few tokens a chunk. The chat's chunk writer stores and announces a reply's text as its sentences end
# (domain/reply_chunks.py), so a listener gets each sentence at the same moment as with smaller chunks, and the
# reply's task wakes once a sentence: with 4 words a chunk, 12 wake-ups a 50-word reply where 7 do, and on a 2-core VM
# a wake-up after a sleep costs the event loop 0.1-0.2 ms. (A wake-up per word was most of what 500 replies at once
# cost the loop, and each of its passes delays the next call grpc accepts: it accepts one call of a method a pass.)
# At most `MAX_WORDS_PER_CHUNK` words a chunk: about a quarter of a second at the production pace, less than the
# writer holds a reply's words before it stores them anyway.
MAX_WORDS_PER_CHUNK = 16
# With more than `BUSY_STREAMS` paced replies streaming at once, `MAX_WORDS_PER_CHUNK` words a chunk, sentences or
# not: the chat's chunk writer, as busy, holds a reply's words that long anyway, and each wake-up cost the event loop
# about 16 us here and as much again in the reply's task (500 replies of 50 words at once: 14 wake-ups each, 5 so).
BUSY_STREAMS = 64


# --- the engine ---------------------------------------------------------------------------------

class OfflineStoryteller(OfflineStoryWriter):
    """The `TextEngine` that needs nothing: rule-based requirement gathering, deterministic replies.

    `word_delay` is the pause in seconds after each streamed word (0 in tests), unless the request is not paced.
    """

    name = "offline"

    def __init__(self, *, word_delay: float = DEFAULT_WORD_DELAY) -> None:
        if word_delay < 0:
            raise ValueError("word_delay must be >= 0")
        self.word_delay = word_delay
        self._paced_streams = 0  # paced replies streaming now

    async def chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent]:
        """Streams the reply, then a ReplyEnd with token estimates. Unpaced, word by word. Paced, word i is due
        `i * word_delay` after the start, as a model's stream keeps to its pace: the first word goes at once, then a
        sentence at a time (at most `MAX_WORDS_PER_CHUNK` words; that many, sentences or not, while many stream at
        once), when its last word is due; a stream the event loop wakes late (a busy server) sends every word due by
        then together."""
        # Reading a long conversation takes milliseconds: off the event loop. A short one stays (see INLINE_TURNS):
        # the hop costs the loop too, and the thread would hold the interpreter's lock while it reads anyway.
        if len(request.turns) <= INLINE_TURNS:
            reply = self.reply_text(request)
        else:
            reply = await asyncio.to_thread(self.reply_text, request)
        input_tokens = _tokens(_recurring_word_count(request.system_instruction) + sum(
            _word_count(text) for text in (request.summary, *request.memories, *(t.text for t in request.turns))))
        words: list[str] = re.findall(r"\S+\s*", reply)
        counted = _word_count(reply)
        finish: FinishReason = "STOP"
        if _tokens(counted) > request.max_output_tokens:  # (rare: the words that fit, counted one by one)
            fitting: list[str] = []
            counted = 0
            for word in words:
                counted_with = counted + _word_count(word)
                if _tokens(counted_with) > request.max_output_tokens:
                    finish = "MAX_TOKENS"
                    break
                fitting.append(word)
                counted = counted_with
            words = fitting
        if not request.paced or not self.word_delay:
            for word in words:
                yield TextDelta(word)
        else:
            pace, loop = self.word_delay, asyncio.get_running_loop()
            start, sent = loop.time(), 0
            self._paced_streams += 1
            try:
                while sent < len(words):
                    due = min(len(words), int((loop.time() - start) / pace + _EARLY_WAKE) + 1)
                    if due > sent:
                        yield TextDelta("".join(words[sent:due]))
                        sent = due
                    if sent < len(words):
                        last_of_next_chunk = min(sent + MAX_WORDS_PER_CHUNK, len(words)) - 1
                        if self._paced_streams <= BUSY_STREAMS:  # up to the sentence's end
                            last_of_next_chunk = next((i for i in range(sent, last_of_next_chunk)
                                                       if SENTENCE_END.search(words[i])), last_of_next_chunk)
                        await asyncio.sleep(start + last_of_next_chunk * pace - loop.time())
            finally:
                self._paced_streams -= 1
        yield ReplyEnd(finish, input_tokens, _tokens(counted))

    def reply_text(self, request: ChatRequest) -> str:
        """The whole reply `chat` streams for this request."""
        turns = list(request.turns)
        analysis = _analyse(turns, request.requirements, summary=request.summary)
        return _compose(analysis, turns, _memory_name(request.memories))

    async def warm_up(self) -> None:
        """Answers a first message once, on start: reading one compiles about 150 regular expressions on first use
        (Python caches them), about 20 ms the first reply of a process paid before its first word."""
        self.reply_text(ChatRequest(system_instruction="", turns=[ChatTurn("user", WARM_UP_MESSAGE)]))

    async def extract_requirements(self, turns: Sequence[ChatTurn], known: StoryRequirements) -> StoryRequirements:
        """The requirements the conversation states, merged onto `known` (later statements win)."""
        return await asyncio.to_thread(lambda: _analyse(list(turns), known).state.requirements(with_prompt=True))

    async def summarize(self, turns: Sequence[ChatTurn], previous_summary: str) -> str:
        """What the user asked for in these turns, after the previous summary."""
        text = await asyncio.to_thread(lambda: _summary(_analyse(list(turns), StoryRequirements())))
        previous = previous_summary.strip()
        return f"{previous} {text}" if previous else text

    def count_tokens(self, text: str) -> int:
        """About 4/3 of a token per word (each CJK character counts as a word)."""
        return _tokens(len(_WORDS_FOR_TOKENS.findall(text)))

    async def aclose(self) -> None:
        return None


# A first message such as a user sends (who, what, a name, an age, a place, a mood): `warm_up` reads and answers it.
WARM_UP_MESSAGE = "Hello! Can we make a funny story about a little otter named Pip who is 5, by the sea?"

# Conversations of at most this many turns are read on the event loop, longer ones in a thread. Measured 2026-12-06:
# a turn not read before costs about 0.5 ms (a live conversation's earlier turns were read at its last reply, so a
# reply reads one new turn); six unread turns (after a restart) about 3 ms.
INLINE_TURNS = 6


def _word_count(text: str) -> int:
    """The words `count_tokens` counts in `text`."""
    return len(_WORDS_FOR_TOKENS.findall(text))


# A text that recurs in every request (the system instruction) is counted once.
_recurring_word_count = functools.lru_cache(maxsize=8)(_word_count)


# A timer may fire a little before its time (the loop's clock resolution): a word due within this share of a pace
# counts as due.
_EARLY_WAKE = 0.001
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_WORDS_FOR_TOKENS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")


def _tokens(words: int) -> int:
    return math.ceil(words * 4 / 3)

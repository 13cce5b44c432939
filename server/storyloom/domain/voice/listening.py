"""What a live conversation hears while the user speaks: partial transcripts, the speculative final transcription
that starts at the first silent frame, and whether what was said reads as a finished turn or a broken-off one.

The recognizer has two kinds of slot (see the SpeechToText port): partials share one and are skipped when it is
busy; finals have their own, so the end of speech never waits for a partial. A final starts at each pause (the
detector's first silent frame); if the user goes on, the next pause starts another and the outdated one is
dropped. When the pause becomes the end of the utterance, the final that heard all the speech is the turn's
transcript, often already done.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

from storyloom.domain.errors import ResourceExhausted
from storyloom.domain.ports.clock import Clock
from storyloom.domain.ports.speech import SpeechToText, Transcription
from storyloom.domain.voice.formats import STREAM_RATE
from storyloom.domain.voice.sessions import LiveState
from storyloom.domain.voice.turns import SttRun, retrieve

# Words a finished sentence seldom ends on: after them the user is most likely still going.
_CONTINUING = frozenset("""
a an the and or but so because if when while then than that which who whose whom where to of in on at by for from
with about into onto over under like as my your his her its our their this these those is are was were be am i
we you he she they it um uh er erm very really just also too not can could would should will shall may might must
do does did has have had going want wanted let me us say said""".split())
_LAST_WORD = re.compile(r"([A-Za-z']+)\W*$")
# Words a turn almost never ends on (articles, conjunctions, possessives, fillers): a pause after them is the user
# thinking, not done. Fewer than above ("I want to.", "I like her." end turns), as such a turn waits longer.
_HANGING = frozenset("a an the and or but because if than of my your his our their um uh er erm".split())


def sounds_finished(text: str) -> bool:
    """Whether a transcript reads as a finished turn: at least two words, closing punctuation (the recognizer puts
    it where the voice falls), no trailing comma or ellipsis, and no last word that asks for more ("and", "the",
    "because"...). Cheap, offline, and wrong now and then: a turn it calls finished ends after the short
    hangover, any other after the detector's own."""
    words = text.split()
    if len(words) < 2:
        return False
    stripped = text.rstrip().rstrip("\"'”’)")
    if not stripped.endswith((".", "!", "?")) or stripped.endswith(("...", "…")):
        return False
    last = _LAST_WORD.search(stripped)
    return last is not None and last.group(1).lower() not in _CONTINUING


def sounds_unfinished(text: str) -> bool:
    """Whether a transcript reads as a turn broken off in the middle: it ends on a trailing comma, dash or ellipsis,
    or on a word a sentence hardly ends on ("and", "the", "because", "um"...), whatever stop the recognizer put
    after it; never a question. The turn then waits for a longer pause before it ends."""
    stripped = text.rstrip().rstrip("\"'”’)")
    if not stripped or stripped.endswith(("?", "!")):
        return False
    if stripped.endswith((",", "...", "…", "-", "–", "—")):
        return True
    last = _LAST_WORD.search(stripped)
    return last is not None and last.group(1).lower() in _HANGING


class Listener:
    """The transcriptions of one stream's speech. `on_partial` is called with new partial words (to be sent)."""

    def __init__(self, stt: SpeechToText, clock: Clock, language: Callable[[], str], *, partial_gap: float,
                 partial_interval: float, final_after: float, on_partial: Callable[[str], None],
                 context: Callable[[], str] = lambda: ""):
        """`final_after`: the pause (seconds) after which a final starts; shorter ones are the gaps between words,
        and a final started in one would hold the final slot for nothing. `context`: the conversation's recent
        words, given to the recognizer with each transcription."""
        self._stt = stt
        self._clock = clock
        self._language = language
        self._partial_gap = partial_gap
        self._partial_interval = partial_interval
        self._final_after = final_after
        self._on_partial = on_partial
        self._context = context
        self._run: SttRun | None = None  # the latest partial transcription
        self.final: SttRun | None = None  # the latest speculative final transcription (from a pause on)
        self.voiced_until = 0.0  # stream seconds heard up to the last chunk that was not a pause
        self._current: float | None = None  # where the utterance being heard starts
        self._partial_text = self._sent_text = ""
        self._last_sent = 0.0
        self._run_ended = self._run_started = 0.0
        self._run_seconds = 0.6  # how long a transcription takes, on average
        self.on_final_done: Callable[[], None] = lambda: None

    def speech_started(self) -> None:
        self._partial_text = self._sent_text = ""
        self._last_sent = 0.0

    def heard(self, state: LiveState, pause: bool, pause_seconds: float) -> None:
        """After each chunk of audio of an utterance: a pause that lasts starts a final; speech, partials (so an
        idle stream costs nothing: there is no loop)."""
        self._current = state.utterance_start
        if pause:
            if pause_seconds >= self._final_after:
                self._start_final(state)
            return
        self.voiced_until = state.heard
        now = self._clock.monotonic()
        run, final = self._run, self.final
        if ((run is None or run.task.done()) and (final is None or final.task.done())
                and now - self._run_ended >= max(self._partial_gap, self._run_seconds)):
            self._start_partial(state)  # (not while a final runs: one transcription at a time, mostly)
        text = self._partial_text
        if text and (text != self._sent_text or now - self._last_sent >= self._partial_interval):
            self._on_partial(text)
            self._sent_text, self._last_sent = text, now

    def finished_final(self, state: LiveState) -> str | None:
        """The text of a final that heard all of the utterance so far and is done, if there is one."""
        final = self.final
        if (final is None or state.utterance_start is None or final.start != state.utterance_start
                or final.end < self.voiced_until or not final.task.done() or final.task.cancelled()
                or final.task.exception() is not None):
            return None
        return final.task.result().text

    def final_running(self, state: LiveState) -> bool:
        """Whether a final of the utterance so far is still being transcribed."""
        final = self.final
        return (final is not None and final.start == state.utterance_start and final.end >= self.voiced_until
                and not final.task.done())

    def take(self, start: float, speech_end: float) -> SttRun | None:
        """The utterance from `start` ended at `speech_end`: a transcription that heard all of it, if any (it
        becomes the turn's)."""
        chosen = None
        for run in (self.final, self._run):
            if run is not None and run.start == start and run.end >= speech_end - 0.01 and not run.task.cancelled():
                chosen = run
                break
        self.final, self._current = None, None
        if self._run is not None and (self._run is chosen or self._run.task.done()):
            self._run = None  # (a partial still going keeps its slot; the next partial waits for it)
        return chosen

    async def transcribe(self, audio: bytes, run: SttRun | None) -> Transcription:
        """A turn's transcript: its speculative run's, or a final pass now (quick settings, in the final slot)."""
        if run is not None:
            with contextlib.suppress(Exception):
                return await asyncio.shield(run.task)
        with contextlib.suppress(ResourceExhausted):
            return await self._final_pass(audio)
        deadline = self._clock.monotonic() + 10.0
        while True:
            try:
                return await self._stt.transcribe(audio, STREAM_RATE, language_code=self._language())
            except ResourceExhausted:
                if self._clock.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    def close(self) -> None:
        for run in (self._run, self.final):
            if run is not None:
                run.task.cancel()

    def _start_partial(self, state: LiveState) -> None:
        """A partial transcription of the utterance so far, if there are new words to hear."""
        start = state.utterance_start
        if start is None or state.utterance_seconds < 0.3:
            return
        run = self._run
        if run is not None and run.start == start and state.heard - run.end < 0.3:
            return
        pcm = state.prefix + state.span(start, state.heard)
        self._run_started = self._clock.monotonic()
        task = asyncio.create_task(self._stt.transcribe_partial(pcm, STREAM_RATE, language_code=self._language(),
                                                                context=self._context()))
        self._run = SttRun(start, state.heard, task)
        task.add_done_callback(self._done)

    def _start_final(self, state: LiveState) -> None:
        """At a pause: transcribes the utterance up to here in the final slot, unless a final started in this
        pause already covers all the speech."""
        start = state.utterance_start
        if start is None or state.utterance_seconds < 0.3:
            return
        final = self.final
        if final is not None and final.start == start and final.end >= self.voiced_until:
            return
        if final is not None and not final.task.done():
            final.task.cancel()  # outdated (the user went on); if it already runs, it ends soon
        pcm = state.prefix + state.span(start, state.heard)
        self._run_started = self._clock.monotonic()
        task = asyncio.create_task(self._final_pass(pcm))
        self.final = SttRun(start, state.heard, task)
        task.add_done_callback(self._done)

    async def _final_pass(self, pcm: bytes) -> Transcription:
        return await self._stt.transcribe_partial(pcm, STREAM_RATE, language_code=self._language(), final=True,
                                                  context=self._context())

    def _done(self, task: asyncio.Task[Transcription]) -> None:
        self._run_ended = self._clock.monotonic()
        if not task.cancelled() and task.exception() is None:
            self._run_seconds = 0.7 * self._run_seconds + 0.3 * (self._run_ended - self._run_started)
            for run in (self._run, self.final):  # a final's words serve as a partial too
                if (run is not None and run.task is task and run.start == self._current
                        and (text := task.result().text.strip())):
                    self._partial_text = text  # sent with the next audio
            if self.final is not None and self.final.task is task:
                self.on_final_done()
        retrieve(task)

"""The live spoken conversation: one Converse stream, from audio in to the reply's text and audio out.

`LiveConversation` takes audio, speech events, transcripts, the reply's text and audio, and barge-in. Its pipeline for
a turn: the final transcript (reusing a partial one that already covers the end of speech, so end-of-speech to
transcript is often near zero), the memories relevant to what was said, `Conversations.send` (the reply is written by
a task, as in chat), and sentence-by-sentence synthesis that starts as soon as the first sentence of the reply is
written.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

from storyloom.domain.conversations import Message, ReplyEvent, check_text
from storyloom.domain.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
)
from storyloom.domain.ports.speech import PcmStreamResampler
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
    TurnFailed,
    VoiceEvent,
)
from storyloom.domain.voice.formats import STREAM_RATE, AudioFormat, check_language, check_rate, pcm_seconds
from storyloom.domain.voice.listening import Listener, sounds_finished, sounds_unfinished
from storyloom.domain.voice.sessions import LiveState, VoiceSession
from storyloom.domain.voice.speech import Voice
from storyloom.domain.voice.turns import (
    DONE,
    DROPPED,
    ENDS_SENTENCE,
    REPLYING,
    SPEAKABLE,
    STORING,
    TRANSCRIBING,
    Draft,
    Prepared,
    Spoken,
    Turn,
    in_background,
    queue_sentences,
    retrieve,
)

log = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 32 * 1024


class LiveConversation:
    """One Converse stream. Feed it client events (`configure` first); read `events()` until it ends.

    Client mistakes raise DomainError from the feeding methods (the caller reports them in-band and goes on);
    `fail` ends the stream with a fatal error.
    """

    def __init__(self, voice: Voice, user_id: str):
        self._voice = voice
        self._user = user_id
        self._limits = voice.limits
        self._engines = voice.engines
        self._clock = voice.clock
        self._out: asyncio.Queue[VoiceEvent | None] = asyncio.Queue()
        self._session: VoiceSession | None = None
        self._state: LiveState | None = None
        self._stream_base = 0.0
        self._input_rate = STREAM_RATE
        self._resampler: PcmStreamResampler | None = None
        self._output_rate = 0
        self._language = ""
        self._next_turn = 1
        self._turns: list[Turn] = []
        self._listener: Listener | None = None
        self._draft: Draft | None = None  # a reply drafted during the current pause
        self._said_before = ""  # the last words of the turns no longer kept in _turns
        self._held_end: float | None = None  # where speech stopped, when its turn's end waits (it sounds unfinished)
        self._held_voiced = 0.0  # the listener's voiced_until when the detector stopped: sound after it is new
        self._closed = False
        self._silenced: set[int] = set()  # turns whose reply was interrupted
        self.session_name = ""
        self.fatal: DomainError | None = None  # the error that ended the stream, if one did

    # --- output ------------------------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[VoiceEvent]:
        while True:
            event = await self._out.get()
            if event is None:
                return
            yield event

    def _emit(self, event: VoiceEvent) -> None:
        # Nothing of an interrupted reply goes out after `interrupted`, whatever was already in flight.
        if isinstance(event, (ReplyTextEvent, ReplyAudioEvent)) and event.turn in self._silenced:
            return
        if not self._closed:
            self._out.put_nowait(event)

    def report(self, error: DomainError) -> None:
        """A non-fatal error, in-band."""
        self._emit(ErrorEvent(self._next_turn, error, False))

    def fail(self, error: DomainError) -> None:
        """A fatal error: reported in-band, then the stream ends (the call ends with its status)."""
        if self._closed:
            return
        self.fatal = error
        self._emit(ErrorEvent(self._next_turn, error, True))
        self._end_output()

    def hang_up(self) -> None:
        """The client went away: the stream ends, with nothing to tell it."""
        self._end_output()

    def terminate(self, error: DomainError | None) -> None:
        """Ends the stream from outside (the session was deleted or resumed elsewhere, the server stops)."""
        if error is not None:
            self.fail(error)
        else:
            self._end_output()
        in_background(self.close())

    def _end_output(self) -> None:
        if not self._closed:
            self._out.put_nowait(None)
            self._closed = True

    # --- input -------------------------------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return self._session is not None

    async def configure(self, settings: ConverseSettings) -> None:
        """Opens (or creates) the session; a DomainError here is fatal."""
        voice = self._voice
        check_language(settings.language_code, "config.language_code")
        input_encoding = settings.input_format.encoding
        if input_encoding not in ("", "LINEAR16"):
            raise InvalidArgument(FieldViolation("config.input_format.encoding",
                                                 "a stream takes LINEAR16 audio only (16-bit mono PCM)"),
                                  reason="AUDIO_ENCODING_UNSUPPORTED")
        self._input_rate = check_rate(settings.input_format.sample_rate_hertz,
                                      "config.input_format.sample_rate_hertz") or STREAM_RATE
        if self._input_rate != STREAM_RATE:
            self._resampler = self._engines.codecs.stream_resampler(self._input_rate, STREAM_RATE)
        if settings.output_format.encoding not in ("", "LINEAR16"):
            raise InvalidArgument(FieldViolation("config.output_format.encoding",
                                                 "a stream sends LINEAR16 audio only"),
                                  reason="AUDIO_ENCODING_UNSUPPORTED")
        self._output_rate = (check_rate(settings.output_format.sample_rate_hertz,
                                        "config.output_format.sample_rate_hertz")
                             or self._engines.tts.sample_rate_hertz)
        if settings.voice:
            voice.check_voice(settings.voice, "config.voice")
        if settings.session_id:
            session = await voice.get_session(self._user, settings.session_id)
        else:
            session = await voice.create_session(self._user, language_code=settings.language_code,
                                                 voice=settings.voice)
        try:
            await voice.conversations.get(self._user, session.conversation_id)
        except NotFound:
            raise FailedPrecondition(f"The conversation of {session.name} was deleted; start a new session.",
                                     reason="SESSION_CONVERSATION_DELETED",
                                     metadata={"resourceName": session.name}) from None
        self._language = settings.language_code or session.language_code
        self._session = await voice.record_use(session.id) or session
        self.session_name = session.name
        self._next_turn = self._session.turn_count + 1
        self._state = voice.live.attach(session.id, self)
        if self._state.vad is None:
            self._state.vad = self._engines.vad.stream(STREAM_RATE)
            self._state.vad_base = self._state.heard
        self._stream_base = self._state.heard
        limits = self._limits
        self._listener = Listener(
            self._engines.stt, self._clock, lambda: self._language, partial_gap=limits.partial_gap_seconds,
            partial_interval=limits.partial_interval_seconds, final_after=limits.final_after_pause_seconds,
            on_partial=lambda text: self._emit(TranscriptEvent(self._next_turn, text, False)),
            context=self._recent_words)
        self._listener.on_final_done = self._on_pause
        self._emit(SessionStartedEvent(self._next_turn, self._session, AudioFormat("LINEAR16", self._output_rate)))

    def audio(self, data: bytes) -> None:
        state = self._live()
        if len(data) > MAX_CHUNK_BYTES:
            raise InvalidArgument(FieldViolation("audio", f"a chunk must be at most {MAX_CHUNK_BYTES} bytes "
                                                          f"(100 ms is 3200 bytes at 16 kHz); got {len(data)}"),
                                  reason="AUDIO_CHUNK_TOO_LARGE")
        if len(data) % 2:
            raise InvalidArgument(FieldViolation("audio", "LINEAR16 audio must be whole 16-bit samples "
                                                          f"(an even number of bytes); got {len(data)}"),
                                  reason="AUDIO_CONTENT_INVALID")
        if not data:
            return
        pcm = data if self._resampler is None else self._resampler(data)
        state.append(pcm)
        state.last_active = self._clock.monotonic()
        assert state.vad is not None
        for event in state.vad.feed(pcm):
            offset = state.vad_base + event.offset_seconds
            if event.kind == "speech_started":
                self._speech_started(offset)
            else:
                self._speech_stopped(offset)
        if state.utterance_start is None:
            # Kept: the pre-roll before a speech start the detector may report up to ~0.4 s (and a chunk) late.
            state.trim(state.heard - self._limits.pre_roll_seconds - 0.5)
        else:
            # A pause may be the end of speech: the final transcription starts now, so it is ready when the pause
            # is long enough to end the utterance (sooner if what was said sounds finished).
            assert state.vad is not None and self._listener is not None
            self._listener.heard(state, state.vad.pause_heard(), state.vad.pause_seconds())
            self._on_pause()
        if state.utterance_start is not None and state.utterance_seconds >= self._limits.max_utterance_seconds:
            self._emit(SpeechStoppedEvent(self._next_turn, state.heard - self._stream_base))
            self._finalize(state.heard, state.heard)
            self._restart_vad()
            raise InvalidArgument(FieldViolation("audio", f"an utterance may last at most "
                                                          f"{self._limits.max_utterance_seconds:g} s; it was cut "
                                                          "there and answered"),
                                  reason="UTTERANCE_TOO_LONG")

    def text(self, text: str) -> None:
        self._live()
        check_text(text)
        self._start_turn(Turn(self._next_turn, text=text.strip()))

    def end_of_turn(self) -> None:
        """The user says they finished speaking: the utterance is answered now. Without speech, nothing happens."""
        state = self._live()
        if state.utterance_start is None:
            return
        self._emit(SpeechStoppedEvent(self._next_turn, state.heard - self._stream_base))
        self._finalize(state.heard, state.heard)
        self._restart_vad()

    def playback(self, turn_number: int, played_seconds: float) -> None:
        self._live()
        if played_seconds < 0:
            raise InvalidArgument(FieldViolation("playback.played", "must not be negative"))
        for turn in reversed(self._turns):
            if turn.number == turn_number and turn.stage != DROPPED:
                turn.played_reported = played_seconds
                return

    async def finish(self) -> None:
        """The client sent its last event: answer what it said, then end the stream."""
        if self._state is not None and self._state.utterance_start is not None and not self._closed:
            self.end_of_turn()
        for turn in list(self._turns):
            for task in (turn.task, turn.cut_task):
                if task is not None:
                    with contextlib.suppress(BaseException):
                        await asyncio.shield(task)
        self._end_output()

    async def close(self) -> None:
        """Stops everything this stream runs (a reply task, which writes the stored reply, goes on)."""
        self._end_output()
        tasks = [t for t in (turn.task for turn in self._turns) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._listener is not None:
            self._listener.close()
        if self._state is not None:
            self._voice.live.detach(self._state, self)

    def _recent_words(self) -> str:
        """The last words said on this stream, the user's and the replies' (as far as they were heard), for the
        recognizer to hear names and the topic again."""
        return self._words_of(self._turns)

    def _words_of(self, turns: list[Turn]) -> str:
        """The last words of what was said before `turns` (turns no longer kept) and in them."""
        count = self._limits.recognizer_context_words
        if count <= 0:
            return ""
        said = [self._said_before, *(text for turn in turns if turn.stage != DROPPED
                                     for text in (turn.text, turn.stored_text or turn.reply_text) if text)]
        return " ".join(" ".join(said).split()[-count:])

    def _live(self) -> LiveState:
        if self._state is None:
            raise FailedPrecondition("The first event must be config.", reason="CONFIG_REQUIRED")
        return self._state

    def _restart_vad(self) -> None:
        """A fresh detector: after an end of turn (or a cut) the old one still believes the user is speaking."""
        state = self._live()
        state.vad = self._engines.vad.stream(STREAM_RATE)
        state.vad_base = state.heard

    # --- speech ------------------------------------------------------------------------------------------------------

    def _speech_started(self, offset: float) -> None:
        state = self._live()
        self._drop_draft()  # the user goes on (or starts anew): a reply drafted in the pause is not wanted
        self._held_end = None  # an utterance whose end was held goes on
        if state.utterance_start is not None:
            return
        latest = self._turns[-1] if self._turns else None
        if latest is not None and latest.stage == TRANSCRIBING and latest.mergeable and latest.task:
            # The user goes on after a short pause: one utterance, not two turns.
            latest.task.cancel()
            if latest.draft is not None:
                latest.draft.cancel()
            latest.stage = DROPPED
            state.prefix = latest.audio or b""
            state.utterance_start = state.audio_start
        else:
            # `offset` is the speech onset to the sample (not the detector's frame), so the utterance is the same
            # audio whatever the frames' phase, and so is what the recognizer hears.
            state.utterance_start = max(state.audio_start, offset - self._limits.pre_roll_seconds)
        now, grace = self._clock.monotonic(), self._limits.playback_grace_seconds
        for turn in self._turns:
            if not turn.interrupted and (turn.stage in (STORING, REPLYING)
                                         or (turn.stage == DONE and turn.playing(grace, now))):
                self._interrupt(turn)
        if self._listener is not None:
            self._listener.speech_started()
        self._emit(SpeechStartedEvent(self._next_turn, offset - self._stream_base))

    def _speech_stopped(self, offset: float) -> None:
        state = self._live()
        if state.utterance_start is None:
            return
        if self._limits.unfinished_hangover_seconds > 0 and self._listener is not None:
            self._held_end, self._held_voiced = offset, self._listener.voiced_until
            self._end_held()
            return
        self._end_utterance(offset)

    def _end_utterance(self, speech_end: float) -> None:
        """The detector's pause ended the utterance at `speech_end`: its turn starts."""
        state = self._live()
        self._emit(SpeechStoppedEvent(self._next_turn, speech_end - self._stream_base))
        self._finalize(min(state.heard, speech_end + self._limits.post_roll_seconds), speech_end, mergeable=True)

    def _end_held(self) -> None:
        """After the detector's pause: ends the utterance, unless its speculative final transcript sounds
        unfinished ("...a dragon and") or is still being written, and the pause is shorter than the long hangover.
        Called again with each chunk of audio (and when the final is done) until it ends or speech resumes."""
        state, listener, speech_end = self._live(), self._listener, self._held_end
        if speech_end is None or listener is None or state.utterance_start is None:
            self._held_end = None
            return
        if state.heard - max(speech_end, listener.voiced_until) < self._limits.unfinished_hangover_seconds:
            if listener.voiced_until > self._held_voiced:
                return  # sound again: the user goes on (the detector says so once it has heard enough of it)
            text = listener.finished_final(state)
            if text is None and listener.final_running(state):
                return  # judged when it is done (the turn would wait for that transcript anyway)
            if text is not None and sounds_unfinished(text):
                return
        self._held_end = None
        self._end_utterance(speech_end)

    def _finalize(self, end: float, speech_end: float, *, mergeable: bool = False) -> None:
        """Closes the utterance and starts its turn. A `mergeable` one (ended by a pause, not by the client or the
        length limit) is taken back if the user goes on speaking before it is transcribed."""
        state = self._live()
        start = state.utterance_start
        assert start is not None
        self._held_end = None
        turn = Turn(self._next_turn, audio=state.prefix + state.span(start, end), utterance_start=start,
                     mergeable=mergeable)
        if self._listener is not None:  # a transcription that heard the whole utterance is the final one
            turn.stt = self._listener.take(start, speech_end)
        if self._draft is not None and turn.stt is not None and self._draft.run is turn.stt:
            turn.draft, self._draft = self._draft, None
        self._drop_draft()
        state.utterance_start, state.prefix = None, b""
        state.trim(end)
        self._start_turn(turn)

    def _on_pause(self) -> None:
        """In a pause, once the speculative final transcript is done: drafts the reply, and ends the utterance
        after the short hangover when the transcript sounds finished (the detector waits longer for the others)."""
        state, listener = self._state, self._listener
        if state is None or listener is None or state.vad is None or state.utterance_start is None:
            return
        if self._held_end is not None:
            self._end_held()
            if state.utterance_start is None:
                return
        if (text := listener.finished_final(state)) is None:
            return
        final = listener.final
        if (self._limits.draft_replies and final is not None and SPEAKABLE.search(text)
                and (self._draft is None or self._draft.run is not final)
                and all(turn.stage in (DONE, DROPPED) for turn in self._turns)):  # (the history is complete)
            self._drop_draft()
            self._draft = Draft(final, asyncio.create_task(self._prepare(" ".join(text.split()))))
            self._draft.task.add_done_callback(retrieve)
        short = self._limits.finished_hangover_seconds
        pause = state.vad.pause_seconds()
        if not short or pause < short or not sounds_finished(text):
            return
        speech_end = state.vad_base + state.vad.processed_seconds - pause
        self._emit(SpeechStoppedEvent(self._next_turn, speech_end - self._stream_base))
        self._finalize(min(state.heard, speech_end + self._limits.post_roll_seconds), speech_end, mergeable=True)
        self._restart_vad()

    def _drop_draft(self) -> None:
        if self._draft is not None:
            self._draft.cancel()
            self._draft = None

    async def _prepare(self, heard: str) -> Prepared:
        """A reply drafted for `heard` (stored nowhere, sent to no one), and its first piece's synthesis begun."""
        session = self._session
        assert session is not None
        memories: tuple[str, ...] = ()
        if self._limits.memories_per_turn:
            matches = await self._voice.memories.relevant(self._user, heard, self._limits.memories_per_turn,
                                                          exclude_session=session.id)
            memories = tuple(match.memory.text for match in matches)
        text = await self._voice.conversations.draft_reply(self._user, session.conversation_id, heard, memories)
        # The first piece the reply's words will be spoken in, as they arrive one by one.
        pieces: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        split, written, queued = self._engines.tts.split_sentences, "", 0
        for word in re.findall(r"\S+\s*", text):
            written += word
            queued = queue_sentences(split, written, queued, pieces, final=False)
            if not pieces.empty():
                break
        else:
            queue_sentences(split, written, queued, pieces, final=True)
        first = "" if pieces.empty() else (pieces.get_nowait() or ("", 0))[0]
        audio = None
        if first:
            audio = asyncio.create_task(self._synthesize(first))
            audio.add_done_callback(retrieve)
        return Prepared(heard, text, memories, first, audio)

    async def _synthesize(self, piece: str) -> bytes:
        async with contextlib.aclosing(self._engines.tts.synthesize_sentences(piece)) as synthesized:
            return b"".join([pcm async for _piece, pcm in synthesized])

    # --- turns -------------------------------------------------------------------------------------------------------

    def _start_turn(self, turn: Turn) -> None:
        now = self._clock.monotonic()
        kept = [t for t in self._turns if t.stage != DROPPED and not t.finished(now)][-8:]
        self._said_before = self._words_of([t for t in self._turns if t not in kept])  # (kept for the recognizer)
        self._turns = kept
        earlier = list(self._turns)
        self._turns.append(turn)
        turn.task = asyncio.create_task(self._run_turn(turn, earlier), name=f"voice-turn-{turn.number}")

    async def _run_turn(self, turn: Turn, earlier: list[Turn]) -> None:
        session = self._session
        assert session is not None
        try:
            if turn.audio is not None:
                assert self._listener is not None
                transcription = await self._listener.transcribe(turn.audio, turn.stt)
                text = " ".join(transcription.text.split())
                if not SPEAKABLE.search(text):
                    turn.stage = DROPPED  # silence or noise: no turn
                    return
                turn.text = text
                self._emit(TranscriptEvent(turn.number, text, True, transcription.language_code))
            turn.stage = STORING
            turn.number = self._next_turn
            self._next_turn += 1
            # The newest thing the user said wins: an earlier reply still going is stopped, and stored first.
            for other in earlier:
                if other.stage in (STORING, REPLYING) and not other.interrupted:
                    self._interrupt(other)
            for other in earlier:
                for task in (other.task, other.cut_task):
                    if task is not None:
                        with contextlib.suppress(BaseException):
                            await asyncio.shield(task)
            events = await asyncio.shield(self._send(turn))
            turn.stage = REPLYING
            try:
                if not turn.interrupted:
                    turn.reply_task = asyncio.create_task(self._reply(turn, events))
                    try:
                        await asyncio.shield(turn.reply_task)
                    except asyncio.CancelledError:
                        if not (turn.interrupted and turn.reply_task.done()):
                            raise  # the stream is closing (a barge-in cancels only the reply task)
            finally:
                if turn.reply_task is not None and not turn.reply_task.done():
                    turn.reply_task.cancel()
                    with contextlib.suppress(BaseException):
                        await turn.reply_task
                with contextlib.suppress(Exception):
                    await events.aclose()
            reply: Message | None
            if turn.interrupted:
                reply = await asyncio.shield(self._voice.conversations.cut_reply(
                    self._user, turn.reply_id, turn.stored_text))
            else:
                reply = await self._voice.conversations.message(turn.reply_id)
            turn.stage = DONE
            assert turn.user_message is not None and reply is not None
            self._emit(TurnCompleteEvent(turn.number, turn.user_message, reply))
            if self._limits.remember_turns:
                await self._voice.memories.add(self._user, turn.text[:4000], reply.text[:4000], session.id)
        except asyncio.CancelledError:
            raise
        except DomainError as exc:
            turn.stage = DONE if turn.reply_id else DROPPED
            self.report(exc)
        except Exception:
            request_id = uuid.uuid4().hex
            log.exception("voice turn failed", extra={"session": session.id, "requestId": request_id})
            turn.stage = DONE if turn.reply_id else DROPPED
            self.report(Internal(f"The turn could not be completed; it has been logged as request {request_id}.",
                                 reason="TURN_FAILED", metadata={"requestId": request_id}))

    async def _send(self, turn: Turn) -> AsyncGenerator[ReplyEvent]:
        """Stores the user's turn and starts the reply; returns the reply's event stream, its first event read."""
        session = self._session
        assert session is not None
        prepared = None
        if turn.draft is not None:
            with contextlib.suppress(Exception):
                prepared = await asyncio.shield(turn.draft.task)
        if prepared is not None and prepared.heard == turn.text:
            memories = list(prepared.memories)  # the reply drafted in the pause: its words, and its first audio
            if prepared.first_pcm is not None:
                turn.first_audio = (prepared.first_piece, prepared.first_pcm)
        else:
            if prepared is not None:
                prepared.discard()
            prepared, memories = None, []
            if self._limits.memories_per_turn:
                matches = await self._voice.memories.relevant(self._user, turn.text, self._limits.memories_per_turn,
                                                              exclude_session=session.id)
                memories = [match.memory.text for match in matches]
        events = await self._voice.conversations.send(self._user, session.conversation_id, turn.text,
                                                      memories=memories, paced=False,
                                                      prepared=prepared.text if prepared is not None else None)
        accepted = await anext(events)
        turn.user_message, turn.reply_id = accepted.user_message, accepted.reply.id
        self._session = await self._voice.record_turn(session.id) or session
        return events

    async def _reply(self, turn: Turn, events: AsyncGenerator[ReplyEvent]) -> None:
        """Forwards the reply's text and speaks it sentence by sentence as it is written."""
        sentences: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        split = self._engines.tts.split_sentences
        speaker = asyncio.create_task(self._speak(turn, sentences))
        queued = 0  # how much of the reply text is queued for speech
        failed: DomainError | None = None
        try:
            async for event in events:
                if event.delta is not None:
                    turn.reply_text += event.delta
                    self._emit(ReplyTextEvent(turn.number, event.delta))
                    queued = queue_sentences(split, turn.reply_text, queued, sentences, final=False)
                elif event.error is not None:
                    error = event.error
                    failed = TurnFailed(error.code, error.reason, error.message, error.metadata)
            queue_sentences(split, turn.reply_text, queued, sentences, final=True)
            turn.text_complete = True
            sentences.put_nowait(None)
            await speaker
        finally:
            if not speaker.done():
                speaker.cancel()
                with contextlib.suppress(BaseException):
                    await speaker
        if failed is not None:
            self.report(failed)

    async def _speak(self, turn: Turn, sentences: asyncio.Queue[tuple[str, int] | None]) -> None:
        rate, source = self._output_rate, self._engines.tts.sample_rate_hertz
        chunk_bytes = max(2, round(rate * self._limits.chunk_seconds)) * 2
        pause = b"\x00\x00" * round(rate * self._limits.sentence_pause_seconds)
        pending: ReplyAudioEvent | None = None
        while (item := await sentences.get()) is not None:
            sentence, text_end = item
            pieces = []
            if turn.first_audio is not None and not turn.spoken and turn.first_audio[0] == sentence:
                drafted = turn.first_audio[1]  # synthesized while the user paused and the turn was stored
                try:
                    pieces.append(await asyncio.shield(drafted))
                except asyncio.CancelledError:
                    if not drafted.cancelled():
                        raise  # this reply is stopped (not the synthesis)
                except Exception:  # synthesized again below (and failing there, if it must)
                    log.debug("the drafted first piece failed", exc_info=True)
            if not pieces:
                async with contextlib.aclosing(self._engines.tts.synthesize_sentences(sentence)) as synthesized:
                    async for _piece, pcm in synthesized:
                        pieces.append(pcm)
            pcm = b"".join(pieces)
            if not pcm:
                continue
            if rate != source:
                pcm = await asyncio.to_thread(self._engines.codecs.resample, pcm, source, rate)
            # A pause between sentences; none after the opening clause cut off a first sentence.
            gap = pause if turn.spoken and ENDS_SENTENCE.search(turn.spoken[-1].text + " ") else b""
            pcm = gap + pcm
            start = turn.audio_seconds
            turn.spoken.append(Spoken(sentence, text_end, start, pcm_seconds(pcm, rate), pcm_seconds(gap, rate)))
            # Equal chunks of at most chunk_seconds: no sliver at the end of a sentence. Each goes out at once; only
            # the sentence's last one may wait, when it is not yet known whether it ends the reply.
            count = -(-len(pcm) // chunk_bytes)
            size = -(-len(pcm) // 2 // count) * 2
            turn.audio_seconds = start + pcm_seconds(pcm, rate)
            for at in range(0, len(pcm), size):
                if pending is not None:
                    self._sent_audio(turn, pending)
                pending = ReplyAudioEvent(turn.number, pcm[at:at + size], sentence if at == 0 else "",
                                          start + at / 2 / rate, False)
            waiting = sentences.qsize()  # sentences queued after this one (and the end mark, once the text is done)
            if pending is not None and waiting > (1 if turn.text_complete else 0):
                self._sent_audio(turn, pending)  # more is coming
                pending = None
            elif pending is not None and turn.text_complete and waiting == 1:
                self._sent_audio(turn, dataclasses.replace(pending, last=True))  # only the end mark is left
                pending = None
                await sentences.get()
                break
        else:
            if pending is None:
                pending = ReplyAudioEvent(turn.number, b"", "", turn.audio_seconds, True)
            self._sent_audio(turn, dataclasses.replace(pending, last=True))

    def _sent_audio(self, turn: Turn, event: ReplyAudioEvent) -> None:
        self._emit(event)
        if turn.first_audio_at is None and event.audio:
            turn.first_audio_at = self._clock.monotonic()

    def _interrupt(self, turn: Turn) -> None:
        """Barge-in: tells the client at once, stops the reply's text and audio, and stores what was played."""
        turn.interrupted = True
        self._silenced.add(turn.number)
        played = turn.played(self._clock.monotonic())
        turn.stored_text = turn.text_played(played)
        self._emit(InterruptedEvent(turn.number, played, turn.stored_text))
        if turn.stage == REPLYING and turn.reply_task is not None:
            turn.reply_task.cancel()
        elif turn.stage == DONE and turn.reply_id:
            turn.cut_task = in_background(self._voice.conversations.cut_reply(
                self._user, turn.reply_id, turn.stored_text))

"""A scripted Converse client for tests and the voice benchmark: speaks PCM in real time, records every server event
with its arrival time, and waits for events by predicate. Speech comes from the piper voice, resampled to 16 kHz."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import grpc
from google.protobuf import duration_pb2

from storyloom.domain.ports.speech import SentenceSynthesizer
from storyloom.engines.speech.audio import resample_pcm16
from storyloom.v1 import voice_pb2 as pb
from storyloom.v1 import voice_pb2_grpc

RATE = 16000
CHUNK_SECONDS = 0.1


async def speech(tts: SentenceSynthesizer, text: str, *, pause: float = 0.2) -> bytes:
    """`text` spoken by the TTS voice as 16 kHz PCM16 (sentences joined by a short pause)."""
    pieces = []
    async for _sentence, pcm in tts.synthesize_sentences(text):
        pieces.append(resample_pcm16(pcm, tts.sample_rate_hertz, RATE))
    return (b"\x00\x00" * round(RATE * pause)).join(pieces)


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * round(RATE * seconds)


def seconds(value: duration_pb2.Duration) -> float:
    return value.ToNanoseconds() / 1e9


def kind(event: pb.ConverseResponse) -> str:
    return event.WhichOneof("event") or ""


class ConverseClient:
    """One Converse stream. `send*` queue client events; `events` holds every server event in order, `arrivals`
    their monotonic arrival times."""

    def __init__(self, channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...]):
        self._requests: asyncio.Queue[pb.ConverseRequest | None] = asyncio.Queue()
        self.call = voice_pb2_grpc.VoiceServiceStub(channel).Converse(self._generate(), metadata=metadata)
        self.events: list[pb.ConverseResponse] = []
        self.arrivals: list[float] = []
        self.ended = asyncio.Event()
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.audio_sent_seconds = 0.0

    async def _generate(self) -> AsyncIterator[pb.ConverseRequest]:
        while (request := await self._requests.get()) is not None:
            yield request

    async def _read(self) -> None:
        try:
            async for event in self.call:
                self.events.append(event)
                self.arrivals.append(time.monotonic())
                self._changed.set()
        except BaseException as exc:  # noqa: BLE001 - kept for the test to look at
            self.error = exc
        finally:
            self._requests.put_nowait(None)  # the call is over: the request generator (and grpc's task) end too
            self.ended.set()
            self._changed.set()

    def send(self, request: pb.ConverseRequest) -> None:
        self._requests.put_nowait(request)

    def configure(self, session: str = "", **fields: object) -> None:
        self.send(pb.ConverseRequest(config=pb.ConverseConfig(session=session, **fields)))  # type: ignore[arg-type]

    def text(self, text: str) -> None:
        self.send(pb.ConverseRequest(text=text))

    def end_of_turn(self) -> None:
        self.send(pb.ConverseRequest(end_of_turn=pb.EndOfTurn()))

    def playback(self, turn: int, played: float) -> None:
        value = duration_pb2.Duration()
        value.FromNanoseconds(round(played * 1e9))
        self.send(pb.ConverseRequest(playback=pb.PlaybackPosition(turn=turn, played=value)))

    async def speak(self, pcm: bytes, *, speed: float = 1.0, on_chunk: Callable[[int], None] | None = None) -> float:
        """Streams the audio in 100 ms chunks at `speed` times real time; returns the monotonic time the last chunk
        was sent."""
        size = round(RATE * CHUNK_SECONDS) * 2
        start = time.monotonic()
        sent = 0.0
        for index, at in enumerate(range(0, len(pcm), size)):
            chunk = pcm[at:at + size]
            self.send(pb.ConverseRequest(audio=chunk))
            if on_chunk is not None:
                on_chunk(index)
            sent += len(chunk) / 2 / RATE
            self.audio_sent_seconds += len(chunk) / 2 / RATE
            delay = start + sent / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return time.monotonic()

    async def wait_for(self, predicate: Callable[[pb.ConverseResponse], bool], *, after: int = 0,
                       timeout: float = 30.0) -> pb.ConverseResponse:
        """The first event from index `after` on that satisfies `predicate`, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        index = after
        while True:
            while index < len(self.events):
                if predicate(self.events[index]):
                    return self.events[index]
                index += 1
            if self.ended.is_set():
                raise AssertionError(f"the stream ended ({self.error!r}) without the awaited event; "
                                     f"got {[kind(e) for e in self.events]}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; events so far: {[kind(e) for e in self.events]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def index_of(self, event: pb.ConverseResponse) -> int:
        return next(i for i, e in enumerate(self.events) if e is event)

    def of_kind(self, name: str, turn: int | None = None) -> list[pb.ConverseResponse]:
        return [e for e in self.events if kind(e) == name and (turn is None or e.turn == turn)]

    async def close(self) -> None:
        """Half-closes (no more client events) and waits for the server to end the stream."""
        self._requests.put_nowait(None)
        await asyncio.wait_for(self.ended.wait(), 60)

    async def cancel(self) -> None:
        self.call.cancel()
        self._requests.put_nowait(None)  # ends the request generator, so grpc's task feeding it ends too
        with contextlib.suppress(BaseException):
            await self._reader

"""The Pipecat side of bench_voice_pipecat.py. Runs in a separate venv that has `pipecat-ai[silero,whisper,piper]`
(it needs protobuf < 7, so it cannot share the project's venv); never imported by the project.

    PIPECAT_PYTHON job.json      (written by bench_voice_pipecat.py; prints one JSON line of results on stdout)

The pipeline is Pipecat's own voice pipeline without a network transport: a feeder pushes the job's 16 kHz PCM
clips as InputAudioRawFrames in real time (100 ms chunks, silence between the utterances, like bench_voice's
client) -> VADProcessor (Silero, stop 0.2 s) -> WhisperSTTService (faster-whisper, the job's model directory,
int8, cpu) -> the user context aggregator (Pipecat's default turn strategies: VAD start, Smart Turn v3 stop, the
model bundled in the package; or `"turn": "vad"`: VAD-only end of turn) -> a stand-in LLM that streams the reply
text the parent got from our offline storyteller for that utterance (word by word, no delay) -> PiperTTSService
(the job's voice, in process), with probes after the recognizer and at the end that timestamp, per utterance, VAD
stop, the final transcription, the user turn's end and the first TTS audio.
Nothing downloads: every model is a local file.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineParams, PipelineTask
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

RATE = 16000
CHUNK_SECONDS = 0.1


class State:
    """What the feeder and the probe share: the utterance being answered and the timestamps per utterance."""

    def __init__(self, turns: int):
        self.current = -1
        self.marks: list[dict[str, float | str]] = [{} for _ in range(turns)]
        self.reply_done = asyncio.Event()


class Feeder(FrameProcessor):
    """Head of the pipeline: passes frames on; the bench pushes audio through it."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class StandInLLM(FrameProcessor):
    """Answers each user turn (LLMContextFrame) with the reply text our storyteller gave for that utterance."""

    def __init__(self, state: State, replies: list[str]):
        super().__init__()
        self._state, self._replies = state, replies

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        turn = self._state.current
        if turn < 0 or "llm" in self._state.marks[turn]:
            return  # a second turn end inside one utterance: answered once only
        self._state.marks[turn]["llm"] = time.monotonic()
        await self.push_frame(LLMFullResponseStartFrame())
        for index, word in enumerate(self._replies[turn].split(" ")):
            await self.push_frame(LLMTextFrame(word if index == 0 else " " + word))
        await self.push_frame(LLMFullResponseEndFrame())


class Probe(FrameProcessor):
    """Tail of the pipeline: timestamps what the bench measures."""

    def __init__(self, state: State):
        super().__init__()
        self._state = state

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        turn = self._state.current
        if turn >= 0:
            marks, now = self._state.marks[turn], time.monotonic()
            if isinstance(frame, VADUserStoppedSpeakingFrame):
                marks.setdefault("vad_stopped", now)
            elif isinstance(frame, TranscriptionFrame) and "turn_end" not in marks:
                marks.setdefault("transcript", now)
                marks["heard"] = str(marks.get("heard", "")) + frame.text
            elif isinstance(frame, UserStoppedSpeakingFrame):
                marks.setdefault("turn_end", now)
            elif isinstance(frame, TTSAudioRawFrame):
                marks.setdefault("audio", now)
            elif isinstance(frame, TTSStoppedFrame) and "audio" in marks:
                self._state.reply_done.set()
        await self.push_frame(frame, direction)


async def feed(feeder: Feeder, state: State, clips: list[bytes], ends: list[float]) -> None:
    chunk = round(RATE * CHUNK_SECONDS) * 2
    silence = b"\x00" * chunk
    clock = time.monotonic()

    async def push(pcm: bytes) -> None:
        nonlocal clock
        await feeder.push_frame(InputAudioRawFrame(audio=pcm, sample_rate=RATE, num_channels=1))
        clock += len(pcm) / 2 / RATE
        await asyncio.sleep(max(0.0, clock - time.monotonic()))

    for _ in range(5):
        await push(silence)
    for number, clip in enumerate(clips):
        state.current = number
        state.reply_done.clear()
        clock = time.monotonic()
        state.marks[number]["started"] = clock
        state.marks[number]["ended"] = clock + ends[number]
        for offset in range(0, len(clip), chunk):
            await push(clip[offset:offset + chunk].ljust(chunk, b"\x00"))
        deadline = time.monotonic() + 30
        while not state.reply_done.is_set() and time.monotonic() < deadline:  # the microphone stays open
            await push(silence)
        for _ in range(5):
            await push(silence)


async def main(job: dict, clips: list[bytes]) -> None:
    state = State(len(clips))
    voice = Path(job["piper_model"])
    if job["turn"] == "vad":
        strategies = UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.0)])
    else:
        strategies = UserTurnStrategies()  # Pipecat's default: VAD start, Smart Turn v3 (bundled model) stop
    feeder = Feeder()
    context = LLMContext()
    aggregators = LLMContextAggregatorPair(context, user_params=LLMUserAggregatorParams(
        user_turn_strategies=strategies))
    stt = WhisperSTTService(device="cpu", compute_type="int8",
                            settings=WhisperSTTService.Settings(model=job["whisper_model"]))
    tts = PiperTTSService(download_dir=voice.parent, settings=PiperTTSService.Settings(voice=voice.name.removesuffix(
        ".onnx")))
    if job.get("greedy"):  # decoding like our final pass (greedy, no timestamps), to split settings from framework
        stt._model.transcribe = functools.partial(stt._model.transcribe, beam_size=1, without_timestamps=True,
                                                  condition_on_previous_text=False)
    # Warm-up, as our server's engines.warm_up(): the first transcription and synthesis build their caches.
    list(stt._model.transcribe(np.zeros(RATE, dtype=np.float32), language="en")[0])
    list(tts._voice.synthesize("Hello there."))
    pipeline = Pipeline([
        feeder,
        VADProcessor(vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=job["stop_secs"]))),
        stt,
        Probe(state),  # transcripts: the user aggregator consumes them
        aggregators.user(),
        StandInLLM(state, job["replies"]),
        tts,
        Probe(state),
        aggregators.assistant(),
    ])
    task = PipelineTask(pipeline, params=PipelineParams(audio_in_sample_rate=RATE), idle_timeout_secs=None)

    async def drive() -> None:
        await asyncio.sleep(2.0)  # StartFrame through the pipeline, models loaded
        await feed(feeder, state, clips, job["ends"])
        await task.queue_frame(EndFrame())

    driver = asyncio.create_task(drive())
    await PipelineRunner(handle_sigint=False).run(task)
    await driver
    turns = []
    for marks in state.marks:
        ended = float(marks["ended"])
        turns.append({name: (float(value) - ended if isinstance(value, float) else value)
                      for name, value in marks.items() if name not in ("started", "ended")})
    print(json.dumps({"turns": turns}), flush=True)


if __name__ == "__main__":
    job = json.loads(Path(sys.argv[1]).read_text())
    asyncio.run(main(job, [Path(path).read_bytes() for path in job["clips"]]))

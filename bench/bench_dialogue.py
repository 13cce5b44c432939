"""Benchmark: the offline storyteller's reply to the Nth message of a growing conversation (its CPU time, in the
calling thread), with every earlier turn read again (cold) and with the previous reply's reading remembered (warm:
what the same conversation's next reply finds).

    .venv/bin/python bench/bench_dialogue.py [--turns 1,5,10,20] [--repeat 21]

The conversation is played once through `reply_text` (the assistant's turns are its own replies); then, for each N,
the request holding the first N user messages is timed: cold with the remembered readings forgotten first, warm
with only the request before it (N - 1 user messages and their replies) read just before. Medians of `--repeat`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from storyloom.domain.ports.text import ChatRequest, ChatTurn
from storyloom.engines.text.offline import OfflineStoryteller, dialogue

SYSTEM = "You help a child plan a story."
MESSAGES = [
    "Hi!", "I want a story about a brave fox named Luna", "and her friend Max the owl",
    "In a magical forest by a river", "Funny please", "my daughter is 6", "short", "a happy ending",
    "Luna has a red scarf that her grandma knitted", "Can Max be a bit grumpy but kind?",
    "add a little hedgehog called Pip", "Pip is scared of the dark", "they should find a glowing mushroom",
    "make it 5 scenes", "and it should teach sharing", "what's your name?", "the title is The Glowing Mushroom",
    "no dragons please", "thank you!", "ok go ahead",
]


def forget() -> None:
    prefixes = getattr(dialogue, "_PREFIXES", None)  # absent before the readings were remembered
    if prefixes is not None:
        prefixes.clear()


def play(engine: OfflineStoryteller) -> list[list[ChatTurn]]:
    """The turns of each request: requests[n - 1] ends with the nth user message."""
    turns: list[ChatTurn] = []
    requests = []
    for message in MESSAGES:
        turns.append(ChatTurn("user", message))
        requests.append(list(turns))
        turns.append(ChatTurn("assistant", engine.reply_text(ChatRequest(SYSTEM, list(turns)))))
    return requests


def timed(engine: OfflineStoryteller, turns: list[ChatTurn]) -> float:
    start = time.perf_counter()
    engine.reply_text(ChatRequest(SYSTEM, turns))
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", default="1,5,10,20", help="the user messages in the timed request (1-20)")
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    engine = OfflineStoryteller(word_delay=0)
    requests = play(engine)
    print(f"{'user turns':>10} {'cold ms':>9} {'warm ms':>9}")
    for n in (int(x) for x in args.turns.split(",")):
        cold, warm = [], []
        for _ in range(args.repeat):
            forget()
            cold.append(timed(engine, requests[n - 1]))
            forget()
            if n > 1:
                engine.reply_text(ChatRequest(SYSTEM, requests[n - 2]))
            warm.append(timed(engine, requests[n - 1]))
        print(f"{n:>10} {statistics.median(cold):>9.2f} {statistics.median(warm):>9.2f}")


if __name__ == "__main__":
    main()

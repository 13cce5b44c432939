"""The offline storyteller remembers what reading a conversation's turns left, so the next reply reads only the new
turns: the analysis and the reply are the same as a full reading's, turn by turn, and the remembered reading is
really used, is never changed by a caller, and is safe to share between threads."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from storyloom.domain.ports.text import ChatRequest, ChatTurn
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.text.offline import OfflineStoryteller, dialogue
from storyloom.engines.text.offline.dialogue import _analyse, _Prefixes, _read_question, _read_user
from storyloom.engines.text.offline.replies import _compose, _memory_name, _summary
from storyloom.engines.text.offline.state import _Analysis, _Question, _State
from tests.integration.engines.test_offline_storyteller import (
    OFF_TOPIC,
    OTHER_LANGUAGES,
    SAMPLES,
    SCRIPT,
    SYSTEM,
    UNSAFE,
)

CASES = Path(__file__).resolve().parents[3] / "bench" / "quality" / "cases.toml"


def full_reading(turns: list[ChatTurn], known: StoryRequirements, summary: str = "") -> _Analysis:
    """`_analyse` as it was before readings were remembered: every turn read from the start."""
    state = _State.known(known)
    if summary.strip():
        _read_user(summary, state, None, 0, summary_only=True)
    analysis = _Analysis(state=state)
    question: _Question | None = None
    running = hashlib.sha256()
    for turn in turns:
        running.update(f"{turn.role}:{turn.text}\x1f".encode("utf-8", "surrogatepass"))
        if turn.role == "assistant":
            question = _read_question(turn.text)
            analysis.assistant_turns += 1
            analysis.foreign_noted = analysis.foreign_noted or "stories in English" in turn.text
            continue
        seed = int.from_bytes(running.copy().digest()[:8], "big")
        analysis.before = state.copy()
        analysis.question = question
        analysis.facts = _read_user(turn.text, state, question, seed)
        analysis.seed = seed
        question = None
    if not turns or turns[-1].role != "user":
        analysis.facts = None
        analysis.seed = int.from_bytes(running.digest()[:8], "big")
    return analysis


def shape(value: Any, seen: dict[int, int] | None = None) -> Any:
    """`value` as plain data in which each mutable object (list, dict, dataclass) is written out once and then named
    by number: two analyses with equal shapes hold equal values, in the same order, and share the same objects."""
    seen = {} if seen is None else seen
    if isinstance(value, (list, dict)) or dataclasses.is_dataclass(value):
        if id(value) in seen:
            return ("the same object as", seen[id(value)])
        seen[id(value)] = len(seen)
        if isinstance(value, list):
            return [shape(x, seen) for x in value]
        if isinstance(value, dict):
            return [(k, shape(v, seen)) for k, v in value.items()]
        assert not isinstance(value, type)
        return (type(value).__name__, [(f.name, shape(getattr(value, f.name), seen))
                                       for f in dataclasses.fields(value)])
    if isinstance(value, tuple):
        return tuple(shape(x, seen) for x in value)
    return value


class CountingPrefixes(_Prefixes):
    """The real LRU, counting the lookups that found a remembered reading."""

    def __init__(self, entries: int = 1024) -> None:
        super().__init__(entries)
        self.hits = 0

    def get(self, key: Any) -> tuple[_Analysis, _Question | None] | None:
        found = super().get(key)
        self.hits += found is not None
        return found


@dataclasses.dataclass
class Chat:
    name: str
    messages: list[str]
    known: StoryRequirements = StoryRequirements()
    summary: str = ""
    memories: tuple[str, ...] = ()


def requirements(given: dict[str, Any]) -> StoryRequirements:
    fields = {f.name for f in dataclasses.fields(StoryRequirements)}
    characters = tuple(Character(c["name"], c.get("description", ""), c.get("pronouns", ""))
                       for c in given.get("characters", ()))
    return StoryRequirements(characters=characters, **{k: v for k, v in given.items()
                                                        if k in fields and k != "characters"})


def quality_cases() -> list[dict[str, Any]]:
    with CASES.open("rb") as handle:
        return list(tomllib.load(handle)["case"])


EXTRA = ["yes", "no", "the first one", "the last one", "you choose", "you choose the names", "you choose the rest",
         "go ahead", "make the story now", "thank you!", "bye", "", "...", "what can you do?", "how are you?",
         "my name is Ava", "she is 7", "8", "add a dragon", "no dragons", "change his name to Bob",
         "actually make it scary", "a happy ending please", "in space", "about me", "10 minutes long"]


def chats() -> list[Chat]:
    """The engine tests' conversations, the quality benchmark's, and generated ones: several users, some with a
    summary of earlier turns, known requirements or memories, and some sharing their first turns then diverging."""
    cases = quality_cases()
    found = [Chat("script", [m for m, _, _ in SCRIPT])]
    found += [Chat(f"sample {name}", messages) for name, messages, _ in SAMPLES]
    found += [Chat(f"quality {c['id']}", list(c["turns"])) for c in cases if "turns" in c]
    forms = [requirements(c["requirements"]) for c in cases if "requirements" in c]
    pool = [m for chat in found for m in chat.messages] + [m for m, _ in UNSAFE] + [m for m, _ in OTHER_LANGUAGES]
    pool += OFF_TOPIC + EXTRA
    rng = random.Random(20261206)
    for user in range(8):
        found.append(Chat(f"user {user}", rng.sample(pool, 12),
                          known=forms[user % len(forms)] if user % 3 == 0 else StoryRequirements(),
                          summary="The user asked for a story about a dragon named Ember in a volcano."
                          if user % 2 else "", memories=("The child's name is Mia.",) if user % 4 == 1 else ()))
    for trunk in range(3):  # a start, then three ways on from it
        start = rng.sample(pool, 6)
        for branch in range(3):
            found.append(Chat(f"trunk {trunk} branch {branch}", start + rng.sample(pool, 6),
                              summary="Earlier: a cat named Tom." if trunk == 1 else ""))
    return found


def played(chat: Chat, engine: OfflineStoryteller) -> Iterator[list[ChatTurn]]:
    """The turns after each message, the user's and the engine's replies, as the conversation grows."""
    turns: list[ChatTurn] = []
    for message in chat.messages:
        turns.append(ChatTurn("user", message))
        yield list(turns)
        turns.append(ChatTurn("assistant", engine.reply_text(request(chat, turns))))
        yield list(turns)


def request(chat: Chat, turns: list[ChatTurn]) -> ChatRequest:
    return ChatRequest(SYSTEM, list(turns), summary=chat.summary, requirements=chat.known, memories=chat.memories)


CHATS = chats()


@pytest.fixture(autouse=True)
def forgotten() -> Iterator[None]:
    dialogue._PREFIXES.clear()
    yield
    dialogue._PREFIXES.clear()


def test_every_reading_and_reply_is_the_full_readings_turn_by_turn() -> None:
    engine = OfflineStoryteller(word_delay=0)
    prefixes = CountingPrefixes()
    compared = 0
    for chat in CHATS:
        for turns in played(chat, engine):
            full = full_reading(turns, chat.known, chat.summary)
            remembered = _analyse(turns, chat.known, chat.summary, prefixes=prefixes)
            assert shape(remembered) == shape(full), (chat.name, len(turns))
            if turns[-1].role == "user":  # the reply the engine gives (its own remembered readings) is the same
                expected = _compose(full, turns, _memory_name(chat.memories))
                assert engine.reply_text(request(chat, turns)) == expected, (chat.name, len(turns))
            compared += 1
    # Most readings took up a remembered one (each turn after the first, and each branch's shared start).
    assert compared > 600 and prefixes.hits >= compared - len(CHATS)


def test_the_requirements_and_summaries_are_the_full_readings() -> None:
    engine = OfflineStoryteller(word_delay=0)
    for chat in CHATS[:12]:
        turns = list(played(chat, engine))[-1]
        for end in range(1, len(turns) + 1):  # as extract_requirements and summarize read them
            full = full_reading(turns[:end], chat.known)
            assert _analyse(turns[:end], chat.known).state.requirements(with_prompt=True) == \
                full.state.requirements(with_prompt=True)
            assert _summary(_analyse(turns[:end], StoryRequirements())) == \
                _summary(full_reading(turns[:end], StoryRequirements()))


def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The messages `_read_user` reads from now on (the real one, counted)."""
    read: list[str] = []
    real: Callable[..., Any] = dialogue._read_user

    def counting(text: str, *args: Any, **kwargs: Any) -> Any:
        read.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(dialogue, "_read_user", counting)
    return read


def test_the_next_reply_reads_only_the_new_message(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = OfflineStoryteller(word_delay=0)
    chat = Chat("growing", [m for m, _, _ in SCRIPT], summary="Earlier: a cat named Tom.")
    requests = [turns for turns in played(chat, engine) if turns[-1].role == "user"]
    dialogue._PREFIXES.clear()
    engine.reply_text(request(chat, requests[-2]))
    read = reads(monkeypatch)

    engine.reply_text(request(chat, requests[-1]))

    assert read == [requests[-1][-1].text]  # not the summary, not the earlier messages


def test_a_conversation_read_from_scratch_reads_every_message(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = OfflineStoryteller(word_delay=0)
    chat = Chat("growing", [m for m, _, _ in SCRIPT])
    turns = list(played(chat, engine))[-2]
    read = reads(monkeypatch)

    _analyse(turns, chat.known, prefixes=_Prefixes(entries=0))

    assert read == [t.text for t in turns if t.role == "user"]


def test_a_reading_handed_out_is_a_copy_that_can_be_changed() -> None:
    engine = OfflineStoryteller(word_delay=0)
    chat = Chat("changed", ["a brave fox named Luna and her friend Max the owl", "in a castle", "funny", "7"])
    turns = list(played(chat, engine))[-1]
    prefixes = _Prefixes()
    for end in (5, 7):
        first = _analyse(turns[:end], chat.known, prefixes=prefixes)
        again = _analyse(turns[:end], chat.known, prefixes=prefixes)  # remembered: the same turns
        assert again is not first and again.state.chars[0] is not first.state.chars[0]
        for analysis in (first, again):  # a caller may change all it is given
            assert analysis.facts is not None and analysis.before is not None
            analysis.state.chars[0].name = "Changed"
            analysis.state.chars.append(analysis.state.chars[0])
            analysis.state.values["setting"] = "changed"
            analysis.state.said.append("changed")
            analysis.before.values.clear()
            analysis.facts.new.clear()
            analysis.assistant_turns = 99
        for later in (end, end + 1):
            expected = shape(full_reading(turns[:later], chat.known))
            assert shape(_analyse(turns[:later], chat.known, prefixes=prefixes)) == expected


def test_threads_sharing_the_remembered_readings_each_get_the_full_reading() -> None:
    engine = OfflineStoryteller(word_delay=0)
    branches = [chat for chat in CHATS if chat.name.startswith(("trunk 0", "trunk 1"))]
    work = [(chat, turns) for chat in branches for turns in played(chat, engine) if turns[-1].role == "user"]
    expected = [shape(full_reading(turns, chat.known, chat.summary)) for chat, turns in work]
    prefixes = CountingPrefixes(entries=16)  # small: entries are evicted while others read

    def read(index: int) -> Any:
        chat, turns = work[index]
        return shape(_analyse(turns, chat.known, chat.summary, prefixes=prefixes))

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(read, [*range(len(work)), *range(len(work))]))

    assert got == expected + expected
    assert prefixes.hits > 0 and len(prefixes) <= 16


def test_requirements_with_a_list_of_characters_are_read_in_full() -> None:
    known = StoryRequirements(characters=[Character("Luna", "a fox")])  # type: ignore[arg-type]
    turns = [ChatTurn("user", "in a castle"), ChatTurn("assistant", "How should it feel?"), ChatTurn("user", "funny")]

    assert shape(_analyse(turns, known)) == shape(full_reading(turns, known))
    assert len(dialogue._PREFIXES) == 0


def test_the_remembered_readings_are_bounded_least_recently_used_first() -> None:
    prefixes = CountingPrefixes(entries=2)
    known = StoryRequirements()
    fox, cat, owl = ([ChatTurn("user", text)] for text in ("a fox", "a cat", "an owl"))
    _analyse(fox, known, prefixes=prefixes)
    _analyse(cat, known, prefixes=prefixes)
    _analyse(fox, known, prefixes=prefixes)  # the fox: used again, so the cat is the oldest
    _analyse(owl, known, prefixes=prefixes)
    assert len(prefixes) == 2 and prefixes.hits == 1

    for turns in (fox, owl, cat):
        _analyse(turns, known, prefixes=prefixes)

    assert prefixes.hits == 3  # the fox and the owl were remembered; the cat was read again


def test_the_remembered_readings_are_bounded_in_bytes() -> None:
    known = StoryRequirements()
    one = _Prefixes()
    _analyse([ChatTurn("user", "a fox named Luna")], known, prefixes=one)
    size = one._bytes
    prefixes = _Prefixes(total_bytes=2 * size + size // 2)
    for name in ("Luna", "Lena", "Lina", "Lana"):  # the same length: each entry is as big
        _analyse([ChatTurn("user", f"a fox named {name}")], known, prefixes=prefixes)

    assert len(prefixes) == 2 and prefixes._bytes <= prefixes.total_bytes
    too_small = _Prefixes(total_bytes=size - 1)
    _analyse([ChatTurn("user", "a fox named Luna")], known, prefixes=too_small)
    assert len(too_small) == 0  # an entry bigger than the bound is not kept

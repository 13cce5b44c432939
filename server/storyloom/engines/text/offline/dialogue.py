"""The dialogue: a conversation read turn by turn (`_analyse`), and each user message read into the state
(`_read_user`): its language, nonsense and famous names, unsafe clauses dropped, cues (greetings, yes and no, "you
choose"), the slots the scan finds, an answer to the question the assistant asked, and the slots the user left to
the assistant to choose.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import threading
from collections import OrderedDict
from typing import cast

from storyloom.domain.ports.text import ChatTurn
from storyloom.domain.requirements import StoryRequirements
from storyloom.engines.text.offline import understand as U
from storyloom.engines.text.offline.characters import _enrich
from storyloom.engines.text.offline.slots import _Scan
from storyloom.engines.text.offline.state import MAX_CHARACTERS, _Analysis, _Char, _Facts, _Question, _State
from storyloom.engines.text.offline.words import (
    _GREETINGS,
    _NUM,
    _TONES,
    D,
    _age_group,
    _clean,
    _contains,
    _digest,
    _is_name_word,
    _match,
    _minutes,
    _name_text,
    _normalise,
    _number,
    _Sentence,
    _sentences,
    _Tok,
)
from storyloom.engines.text.safety import unsafe as _unsafe

# --- reading a conversation ---------------------------------------------------------------------

def _analyse(turns: list[ChatTurn], known: StoryRequirements, summary: str = "",
             prefixes: _Prefixes | None = None) -> _Analysis:
    """Reads the conversation turn by turn (the summary first, onto the known requirements).

    What reading a conversation's turns left is remembered (in `prefixes`, the process's own unless given), so the
    same conversation's next reply reads only the turns added since: the longest remembered start of these turns,
    with the same `known` and `summary`, is taken up where it ended. The analysis is the same either way: each
    turn's seed is still the digest of all the turns up to it."""
    prefixes = _PREFIXES if prefixes is None else prefixes
    if not _hashable(known):  # requirements built with a list of characters: read in full, as they always were
        prefixes = _NOTHING
    running = hashlib.sha256()
    ends = [running.copy()]  # the digest's state after each number of turns
    for turn in turns:
        running.update(f"{turn.role}:{turn.text}\x1f".encode("utf-8", "surrogatepass"))
        ends.append(running.copy())
    found = None
    for start in range(len(turns), -1, -1):  # the longest remembered start first
        found = prefixes.get((ends[start].digest(), known, summary))
        if found is not None:
            break
    if found is None:
        state = _State.known(known)
        if summary.strip():
            _read_user(summary, state, None, 0, summary_only=True)
        analysis, question = _Analysis(state=state), None
    else:
        analysis, question = found
        state = analysis.state
    for index in range(start, len(turns)):
        turn = turns[index]
        if turn.role == "assistant":
            question = _read_question(turn.text)
            analysis.assistant_turns += 1
            analysis.foreign_noted = analysis.foreign_noted or "stories in English" in turn.text
            continue
        seed = int.from_bytes(ends[index + 1].digest()[:8], "big")
        analysis.before = state.copy()
        analysis.question = question
        analysis.facts = _read_user(turn.text, state, question, seed)
        analysis.seed = seed
        question = None
    if not turns or turns[-1].role != "user":
        analysis.facts = None
        analysis.seed = int.from_bytes(ends[-1].digest()[:8], "big")
    if start < len(turns) or found is None:
        prefixes.put((ends[-1].digest(), known, summary), analysis, question)
    return analysis


_PrefixKey = tuple[bytes, StoryRequirements, str]  # (the turns' digest, known, summary)


class _Prefixes:
    """What reading the first turns of conversations left, by what seeded the reading (the known requirements and
    the summary) and a digest of those turns: a bounded LRU, safe to share between threads.

    An entry is what the reading loop carries from one turn to the next (the `_Analysis` so far and the question
    still unanswered), pickled: bytes no caller can change, and each `get` unpickles a copy of its own, with the
    objects the reading shared still shared (a character in both the state and the last facts is one object, as in
    a full reading). `entries=0` remembers nothing."""

    def __init__(self, entries: int = 1024, total_bytes: int = 32 << 20) -> None:
        self.entries, self.total_bytes = entries, total_bytes
        self._lock = threading.Lock()
        self._saved: OrderedDict[_PrefixKey, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: _PrefixKey) -> tuple[_Analysis, _Question | None] | None:
        if not self.entries:
            return None
        with self._lock:
            saved = self._saved.get(key)
            if saved is None:
                return None
            self._saved.move_to_end(key)
        return cast("tuple[_Analysis, _Question | None]", pickle.loads(saved))

    def put(self, key: _PrefixKey, analysis: _Analysis, question: _Question | None) -> None:
        if not self.entries:
            return
        saved = pickle.dumps((analysis, question), protocol=pickle.HIGHEST_PROTOCOL)
        if _size(key, saved) > self.total_bytes:
            return
        with self._lock:
            old = self._saved.pop(key, None)
            if old is not None:
                self._bytes -= _size(key, old)
            self._saved[key] = saved
            self._bytes += _size(key, saved)
            while len(self._saved) > self.entries or self._bytes > self.total_bytes:
                self._bytes -= _size(*self._saved.popitem(last=False))

    def clear(self) -> None:
        with self._lock:
            self._saved.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._saved)


# One entry per conversation being replied to is what its next reply needs (the turns of its last reply), and one
# more for its periodic restatement (extract_requirements, over all its turns): 1,024 keep 500 conversations at once
# going (the chat bench's top level) warm. An entry is about 2 KB after 20 short messages and grows with what the
# user said (the state keeps every message); the byte bound keeps a flood of long ones to 32 MiB.
_PREFIXES = _Prefixes()
_NOTHING = _Prefixes(entries=0)


def _hashable(known: StoryRequirements) -> bool:
    try:
        hash(known)
    except TypeError:
        return False
    return True


def _size(key: _PrefixKey, saved: bytes) -> int:
    """An entry's bytes, counted: the pickled reading and the summary in its key (each request brings its own)."""
    return len(saved) + len(key[2])


def _classify_question(sentence: str) -> str:
    s = sentence.lower()
    if re.search(r"\bhow old\b|\bwhat age\b|\bage\b", s):
        return "audience_age_group"
    if re.search(r"\bhow long\b|\bshort or long\b|\blong or short\b|\blength\b", s):
        return "length"
    if re.search(r"\bend(?:ing|s)?\b", s):
        return "ending_preference"
    if re.search(r"\bwhere\b|\bwhat place\b|\bwhich place\b|\bsetting\b", s):
        return "setting"
    if re.search(r"\bfeel\b|\bmood\b|\btone\b|\bkind of story\b", s):
        return "tone"
    if re.search(r"\bwho\b|\bcharacters?\b|\bhero\b|\bbe about\b", s):
        return "characters"
    return ""


def _read_question(text: str) -> _Question | None:
    sentences = _sentences(_normalise(text))
    for index in range(len(sentences) - 1, -1, -1):
        if "?" not in sentences[index]:
            continue
        slot = _classify_question(sentences[index])
        if slot:
            rest = " ".join(sentences[index:]).lower()
            return _Question(slot, _offered(slot, rest))
    return None


def _option_pool(slot: str) -> list[tuple[str, object]]:
    if slot == "characters":
        return [(phrase, (kind, name)) for phrase, kind, name in D.CHARACTER_OPTIONS]
    if slot == "setting":
        return [(s, s) for s in D.SETTING_OPTIONS]
    pools = {"tone": D.TONE_OPTIONS, "audience_age_group": D.AGE_OPTIONS, "length": D.LENGTH_OPTIONS,
             "ending_preference": D.ENDING_OPTIONS}
    return list(pools.get(slot, ()))


def _offered(slot: str, text: str) -> list[tuple[str, object]]:
    found = []
    for phrase, value in _option_pool(slot):
        m = re.search(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", text)
        if m:
            found.append((m.start(), phrase, value))
    return [(phrase, value) for _, phrase, value in sorted(found)]


def _is_foreign(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(1 for ch in letters if ord(ch) > 0x24F) / len(letters) > 0.5:
        return True
    words = re.findall(r"[^\W\d_]+", text.lower())
    foreign = sum(1 for w in words if w in D.FOREIGN_WORDS)
    english = sum(1 for w in words if w in D.ENGLISH_WORDS)
    return len(words) >= 2 and foreign >= 2 and foreign > english


def _translate(text: str, only: frozenset[str] | None = None) -> str:
    def swap(m: re.Match[str]) -> str:
        word = m.group()
        if only is not None and word.lower() not in only:
            return word
        return str(D.TRANSLATIONS.get(word.lower(), word))
    return re.sub(r"[^\W\d_]+", swap, text)


def _read_user(text: str, state: _State, question: _Question | None, seed: int,
               summary_only: bool = False) -> _Facts:
    """Reads one user message into `state` and says what it did."""
    facts = _Facts()
    text = _normalise(text)
    if not re.search(r"[^\W_]", text):
        facts.empty = True
        return facts
    language = U.language_of(text)
    if language:
        facts.foreign, facts.language = True, language
        if language != "und":
            state.values["language_code"] = language
        text = _translate(U.to_english(text, language))
    elif _is_foreign(text):
        facts.foreign = True
        text = _translate(text)
    else:
        words = re.findall(r"[^\W\d_]+", text.lower())
        if any(w in D.ALWAYS_TRANSLATE for w in words):
            facts.foreign = not any(w in D.ENGLISH_WORDS for w in words)
            text = _translate(text, D.ALWAYS_TRANSLATE)
    junk = U.nonsense(text)
    if junk:
        facts.nonsense = junk
        text = " ".join(w for w in text.split() if w.strip(".,!?") not in junk.split())
        if not re.search(r"[^\W\d_]{2}", text):
            return facts
    for written, original, about, pronoun in U.famous(text):
        text = re.sub(re.escape(written), original, text, flags=re.IGNORECASE)
        facts.famous.append((written, original, about))
        if not any(c.name == original for c in state.chars):
            state.add_char(_Char(name=original, given_description=about, pronoun=pronoun))
            state.hero_name = state.hero_name or original
    if U.confirmation(text):
        facts.go_ahead = True
    facts.about_them = bool(re.match(r"\s*(?:she|he|they)\b", text, re.IGNORECASE))
    bare = re.fullmatch(r"\s*(\d{1,2})\s*(?:years?(?: old)?)?[.!]?\s*", text)
    if bare and not summary_only and not state.values.get("audience_age_group") and 0 < int(bare.group(1)) < 18 and (
            question is None or question.slot != "audience_age_group"):
        state.age, state.age_self = int(bare.group(1)), False  # a bare number, with the age still unknown: the age
        state.values["audience_age_group"] = facts.new["audience_age_group"] = _age_group(state.age)
        return facts
    if not summary_only:
        state.said.append(text)
        count = U.scene_count(text)
        if count:
            state.scene_count = count
            facts.new["scene_count"] = str(count)
        lesson = U.moral(text)
        if lesson:
            state.values["moral"] = facts.new["moral"] = lesson
    sentences = _sentences(text)
    safe = []
    for sentence in sentences:
        if not _unsafe(sentence):
            safe.append(sentence)
            continue
        clauses = re.split(r"\s+(?=(?:who|that|and|with|but|then)\b)", sentence)
        kept = []
        for clause in clauses:
            if _unsafe(clause):
                break
            kept.append(clause)
        if kept and len(" ".join(kept).split()) >= 3:
            safe.append(" ".join(kept) + ".")
    facts.unsafe = any(_unsafe(x) for x in sentences)
    body = " ".join(safe)
    plain = re.sub(r"[^\w'\s-]", " ", body.lower())
    plain = re.sub(r"\s+", " ", plain).strip()
    words = plain.split()
    before_complete = state.complete
    if not summary_only:
        _read_cues(facts, plain, words, body, question, state, before_complete)

    scan = _Scan(state, question)
    for sentence in safe:
        if not _ABOUT_YOU.search(sentence.lower()):  # "are you a robot?" is not a robot character
            scan.read(sentence)
    _apply(scan, state, facts)
    if facts.go_ahead:
        facts.create = True
        facts.special = False
        state.specials = [x for x in state.specials if not U.confirmation(x)]
    if not summary_only:
        _enrich(state, scan, facts)

    slot = question.slot if question else ""
    if not summary_only:
        answered = slot and slot in facts.new or (slot == "characters" and facts.chars)
        if question is not None and slot and not answered:  # a slot is only set with a question
            _answer(facts, state, question, plain, words, body, seed, before_complete)
        if re.search(r"\b(?:you|u)\s+(?:can\s+)?(?:choose|pick|decide|give|think of|name)\b.*\bnames?\b|"
                     r"\byou name (?:it|him|her|them)\b|\bname (?:it|him|her|them) for me\b", plain):
            _name_unnamed(facts, state, seed)
        if facts.choose:
            targets = _choose_targets(plain)
            if "*" in targets:
                targets = state.missing()
            elif not targets and not facts.told_something and not slot:
                targets = state.missing()[:1]
            for target in targets:
                if not state.has(target):
                    _choose(facts, state, target, None, seed)
        if facts.create and not before_complete:
            bedtime = state.values.get("tone") == "CALM" or "bedtime" in state.values.get("genre", "")
            if bedtime and not state.has("setting"):
                state.values["setting"] = facts.new["setting"] = "a cosy bedroom"  # where bedtime stories happen
            for target in StoryRequirements.ESSENTIAL:
                if not state.has(target):
                    _choose(facts, state, target, None, seed)
    return facts


def _name_unnamed(facts: _Facts, state: _State, seed: int) -> None:
    """"You choose the name": names the characters that have none yet."""
    taken = {c.name for c in state.chars}
    for char in state.chars:
        if char.name or char.listener or char.plural or not char.kind:
            continue
        by_kind = [name for _, kind, name in D.CHARACTER_OPTIONS if kind == char.kind]
        pool = [n for n in by_kind + list(D.NAMES) if n not in taken]
        fitting = by_kind and by_kind[0] not in taken
        char.name = by_kind[0] if fitting else pool[_digest(str(seed), char.kind) % len(pool)]
        taken.add(char.name)
        facts.picked.append(("names", f"the {char.kind} {char.name}"))


def _read_cues(facts: _Facts, plain: str, words: list[str], body: str, question: _Question | None,
               state: _State, before_complete: bool) -> None:
    n = len(words)
    size, _ = _match(_GREETINGS, words, 0) if words else (0, None)
    facts.greeting = bool(size)
    facts.thanks = _contains(plain, D.THANKS)
    facts.bye = n <= 6 and _contains(plain, D.BYES)
    facts.choose = _contains(plain, D.CHOOSE_PHRASES)
    bare = plain.strip(" !.-")
    affirm = bare in D.YES_WORDS or (n <= 4 and bool(words) and words[0] in D.YES_WORDS
                                      and not any(w in ("no", "not") for w in words))
    facts.accept = affirm and (bare in D.ACCEPT_WORDS or (bool(words) and words[0] in D.ACCEPT_WORDS))
    facts.declined = bare in D.NO_WORDS or bool(re.fullmatch(
        r"(?:no|nope|nah)(?: (?:thanks|thank you|that's all|that's it|that is all|i'm good|im good|not really|"
        r"i'm done|im done|it's fine|its fine|it's good|its good))?", bare))
    facts.create = _contains(plain, D.CREATE_PHRASES) and not facts.declined
    starting = question is None and not state.chars and _contains(plain, ("tell me a story", "make a story",
                                                                            "make a story now"))
    if starting:
        facts.create = False
    facts.affirm = affirm and not facts.declined
    facts.confirm = before_complete and (facts.affirm or facts.create)
    facts.story_intent = bool(re.search(r"\b(?:story|stories|tale)\b", plain))
    facts.question = body.rstrip().endswith("?") or bool(
        re.match(r"(?:what|why|how|who|where|when|can|could|do|does|are|is|will|would)\b", plain))
    facts.about_me = bool(_ABOUT_YOU.search(plain))
    facts.help = bool(re.search(r"\bhelp\b|\bwhat can you do\b|\bhow does this work\b", plain))
    facts.how_are_you = bool(re.search(r"\bhow are you\b|\bhow r u\b|\bhow's it going\b", plain))
    facts.joke = bool(re.search(r"\bjokes?\b", plain))
    name = re.search(r"\bmy name is ([^\W\d_][\w'-]*)|\bcall me ([^\W\d_][\w'-]*)", body, re.IGNORECASE) \
        or re.search(r"\b(?:I'm|I am|Im)\s+([A-Z][^\W\d_]+)\b", body) \
        or (n <= 5 and re.search(r"\b(?:i'm|i am|im)\s+([^\W\d_]+)\s*[.!]*$", body, re.IGNORECASE))
    if name:
        word = next(g for g in name.groups() if g)
        tok = _Tok(word, word.lower(), 0, 0)
        if _is_name_word(tok, loose=True) and not _unsafe(word):
            facts.user_name = state.user_name = _name_text(tok)
            for char in state.chars:
                if char.listener and not char.name:
                    char.name = state.user_name


_ABOUT_YOU = re.compile(r"\bwho are you\b|\bwhat are you\b|\bare you (?:a |an )?(?:robot|real|human|person|ai|"
                        r"computer|machine|alive)\b|\bwhat'?s your name\b|\bwhat is your name\b")


def _choose_targets(plain: str) -> list[str]:
    targets = []
    for m in re.finditer(r"\b(?:you|u)\s+(?:can\s+)?(?:choose|pick|decide)\s+(?:the\s+|a\s+|an\s+|its\s+|their\s+)?"
                         r"(\w+)|\bsurprise me with (?:the\s+)?(\w+)", plain):
        target = D.CHOOSE_TARGETS.get(m.group(1) or m.group(2), "")
        if target and target not in targets:
            targets.append(target)
    return targets


def _answer(facts: _Facts, state: _State, question: _Question, plain: str, words: list[str], body: str,
            seed: int, before_complete: bool) -> None:
    """Reads a message as the answer to the assistant's question (the asked slot is still unknown)."""
    slot, options = question.slot, question.options
    ordinal = None
    m = re.search(r"\b(first|1st|second|2nd|middle|third|3rd|last|number one|number two|number three)\b", plain)
    if m and len(words) <= 6:
        ordinal = dict(D.ORDINALS)[m.group(1)]
    if ordinal is not None and options and (slot != "audience_age_group" or not re.search(r"\d", plain)):
        index = ordinal if ordinal < len(options) else len(options) - 1
        _choose(facts, state, slot, options[index], seed, accepted=True)
        return
    targets = _choose_targets(plain)
    if facts.choose and (not targets or slot in targets or "*" in targets):
        if slot == "audience_age_group":
            option = next((o for o in options if o[1] == 7), None)
        else:
            option = options[_digest(str(seed), "choose") % len(options)] if options else None
        _choose(facts, state, slot, option, seed)
        return
    if facts.accept and options and not before_complete:
        _choose(facts, state, slot, options[0], seed, accepted=True)
        return
    if facts.declined or facts.create or (facts.greeting and len(words) <= 3) or facts.told_something:
        return
    value = _loose(slot, plain, words, body)
    if value is None:
        return
    # What _loose returns for the slot: characters, an age, else the slot's text.
    if slot == "characters":
        for char in cast(list[_Char], value):
            added = state.add_char(char)
            if added is not None:
                facts.chars.append(added)
    elif slot == "audience_age_group":
        age = cast(int, value)
        state.age, state.age_self = age, False
        state.values[slot] = facts.new[slot] = _age_group(age)
    else:
        state.values[slot] = facts.new[slot] = cast(str, value)


def _loose(slot: str, plain: str, words: list[str], body: str) -> object | None:
    if slot == "characters":
        sentence = _Sentence(body)
        loose = len(sentence.toks) <= 5
        names = [_name_text(t) for t in sentence.toks if _is_name_word(t, loose) and not _unsafe(t.text)]
        return [_Char(name=n) for n in names[:MAX_CHARACTERS]] or None
    if slot == "setting":
        if not 0 < len(words) <= 8 or _contains(plain, D.CHOOSE_PHRASES):
            return None
        text = re.sub(r"^(?:um+|hmm+|maybe|i think|it's|it is|it happens|the story is|let's say)\s+", "",
                      body.strip(), flags=re.IGNORECASE)
        text = re.sub(r"^(?:in|on|at)\s+", "", text, flags=re.IGNORECASE)
        text = _clean(re.sub(r"[.!?]+$", "", text))
        content = [w for w in re.findall(r"[^\W\d_]+", text.lower()) if w not in D.NOT_NAMES]
        return text if content else None
    if slot == "tone":
        for w in words:
            if w in D.TONE_ANSWERS:
                return str(D.TONE_ANSWERS[w])
        for i in range(len(words)):
            size, value = _match(_TONES, words, i)
            if size:
                return cast(tuple[str, bool], value)[0]
        return None
    if slot == "audience_age_group":
        m = re.search(r"\b" + _NUM + r"\b", plain)
        if m:
            age = _number(m.group(1))
            return age if age and 0 < age < 100 else None
        return None
    if slot == "length":
        minutes = _minutes(plain)
        if minutes:
            return minutes
        for w in words:
            if w in D.LENGTH_WORDS:
                return str(D.LENGTH_WORDS[w])
        return None
    if slot == "ending_preference":
        for w in words:
            if w in D.ENDING_ANSWERS:
                return str(D.ENDING_ANSWERS[w])
    return None


def _choose(facts: _Facts, state: _State, slot: str, option: tuple[str, object] | None, seed: int,
            accepted: bool = False) -> None:
    """Fills `slot` for the user: with the offered option, or one of the usual suggestions."""
    if option is None:
        pool = _option_pool(slot)
        option = pool[1] if slot == "audience_age_group" else pool[_digest(str(seed), "pick", slot) % len(pool)]
    phrase, value = option
    if slot == "characters":
        kind, name = cast(tuple[str, str], value)
        words = phrase.split()
        char = _Char(name="" if accepted else name, kind=kind, adjectives=tuple(words[1:-1]))
        state.add_char(char)
        facts.chars.append(char)
        spoken = phrase if accepted else f"{phrase} named {name}"
    elif slot == "setting":
        state.values["setting"] = spoken = str(value)
    elif slot == "audience_age_group":
        state.age, state.age_self = None, False
        state.values[slot] = _age_group(int(cast("int | str", value)))  # AGE_OPTIONS' values are ages
        spoken = f"a story for {D.AUDIENCE_PHRASES[state.values[slot]]}"
    else:
        state.values[slot] = str(value)
        spoken = f"a story that's {phrase}" if slot == "tone" else phrase
    facts.new[slot] = state.values.get(slot, "characters")
    (facts.accepted if accepted else facts.picked).append((slot, spoken))


def _apply(scan: _Scan, state: _State, facts: _Facts) -> None:
    """Puts what one message said into the state; later statements win."""
    for removed in scan.removed:
        keep = [c for c in state.chars if not (c.kind == removed or c.name == removed) or c in scan.chars]
        if len(keep) < len(state.chars):
            facts.removed.append(removed)
            state.chars = keep
        elif removed in D.KINDS:
            facts.excluded.append(removed)
    if scan.chars and scan.replace and not facts.removed:
        state.chars = [c for c in state.chars if c.listener and any(n.listener for n in scan.chars)]
    state.named_now = []
    for char in scan.chars:
        added = state.add_char(char)
        if added is not None and added not in facts.chars:
            facts.chars.append(added)
    facts.named = list(state.named_now)
    for name in scan.pronoun_names:
        target = next((c for c in reversed(state.chars) if not c.name and not c.listener), None)
        if target is None and scan.replace and state.chars:
            target = state.chars[-1]
        if target is not None:
            target.name, target.plural = name, False
            facts.renamed = name
        elif not any(c.name == name for c in state.chars):
            added = state.add_char(_Char(name=name))
            if added is not None:
                facts.chars.append(added)
    if scan.renamed and state.chars:
        target = next((c for c in reversed(state.chars) if not c.listener), state.chars[-1])
        target.name = facts.renamed = scan.renamed
    if scan.settings:
        setting = _clean(max(scan.settings)[2])
        if setting:
            state.values["setting"] = facts.new["setting"] = setting
    asked_tone = scan.question is not None and scan.question.slot == "tone"
    tone = scan.strong_tone or (scan.weak_tone if (asked_tone or not state.values.get("tone")) else "")
    if tone:
        state.values["tone"] = facts.new["tone"] = tone
    if scan.age:
        state.age, state.age_self = scan.age
        state.values["audience_age_group"] = facts.new["audience_age_group"] = _age_group(scan.age[0])
    for slot, value in (("length", scan.length), ("ending_preference", scan.ending), ("genre", scan.genre),
                        ("title", scan.title), *scan.others.items()):
        if value:
            state.values[slot] = facts.new[slot] = value
    for plot in scan.plots:
        if plot not in state.plots:
            state.plots.append(plot)
            facts.plot = plot
    for special in scan.specials:
        if special not in state.specials and special not in scan.plots:
            state.specials.append(special)
            facts.special = True

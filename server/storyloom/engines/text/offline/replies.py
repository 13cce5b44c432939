"""Writing the reply: warm, specific words about what the user just said (or what was picked for them), then
the question for the most important thing still missing with three suggestions, or the story idea restated once
enough is known; and the plain-text summary of older turns. Phrasing is chosen by a hash of the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from storyloom.domain.ports.text import ChatTurn
from storyloom.engines.text.offline import understand as U
from storyloom.engines.text.offline.dialogue import _option_pool
from storyloom.engines.text.offline.state import _Analysis, _Char, _describe_chars, _Facts, _State
from storyloom.engines.text.offline.words import (
    D,
    _aged,
    _article,
    _cap,
    _clean,
    _digest,
    _join,
    _join_or,
    _pick,
    _plural,
    _second_person,
    _where,
)
from storyloom.engines.text.safety import unsafe as _unsafe

_EXTRA_ACKS = (("scene_count", "{v} scenes"), ("moral", "a lesson about {v}"), ("writing_style", "{v}"),
               ("narrative_point_of_view", "told in the {v}"),
               ("language_code", "written in {v}"), ("illustration_style", "{v} pictures"),
               ("content_rating", "rated {v}"))
_EXTRA_VALUES = {"POETIC": "a rhyming story", "SIMPLE": "simple words", "DESCRIPTIVE": "lots of description",
                 "FIRST_PERSON": "first person", "SECOND_PERSON": "second person",
                 "THIRD_PERSON_LIMITED": "third person", "PG_13": "PG-13",
                 **{code: name.capitalize() for name, code in D.LANGUAGES.items()}}


# --- writing the reply ------------------------------------------------------------------------------

def _memory_name(memories: Sequence[str]) -> str:
    for memory in memories:
        m = re.search(r"\bname is ([A-Z][^\W\d_]+)", memory)
        if m and not _unsafe(m.group(1)):
            return m.group(1)
    return ""


def _compose(analysis: _Analysis, turns: list[ChatTurn], memory_name: str) -> str:
    state, facts, seed = analysis.state, analysis.facts, analysis.seed
    name = state.user_name or memory_name
    out: list[str] = []
    if facts is None:  # nothing from the user yet: open the conversation
        if not analysis.assistant_turns:
            out.append(_pick(seed, "greet", D.GREETING_FIRST).format(name=f" {name}" if name else ""))
        out.extend(_next_step(analysis, first_complete=True))
        return _finish(out)
    if facts.empty:
        out.append(_pick(seed, "empty", D.NOT_UNDERSTOOD))
    if facts.unsafe:
        out.append(_pick(seed, "unsafe", D.REDIRECT_UNSAFE))
    if facts.foreign and not analysis.foreign_noted:
        name = U.language_name(facts.language)
        out.append(D.FOREIGN.format(language=name) if facts.language and facts.language != "und" else D.FOREIGN_UNKNOWN)
    if facts.nonsense:
        out.append(D.NONSENSE.format(text=facts.nonsense))
    for written, original, about in facts.famous:
        out.append(D.FAMOUS.format(written=written, original=original, about=about))
    if facts.greeting:
        templates = D.GREETING_AGAIN if analysis.assistant_turns else D.GREETING_FIRST
        out.append(_pick(seed, "greet", templates).format(name=f" {name}" if name else ""))
    elif facts.user_name:
        out.append(f"Nice to meet you, {facts.user_name}!")
    if facts.thanks:
        out.append(D.THANKS_REPLY)
    acks = _acknowledge(facts, state, seed)
    if facts.bye and not acks:
        out.append(D.BYE_REPLY)
        return _finish(out)
    if not acks and not (facts.greeting or facts.unsafe or facts.thanks or facts.empty or facts.user_name
                         or facts.nonsense or facts.famous):
        if facts.about_me:
            out.append(D.ABOUT_ME)
        elif facts.help:
            out.append(D.HELP)
        elif facts.how_are_you:
            out.append(D.HOW_ARE_YOU)
        elif facts.joke:
            out.append(_pick(seed, "joke", D.JOKES))
        elif facts.confirm:
            pass
        elif facts.declined:
            if not state.complete:
                out.append(_pick(seed, "declined", D.DECLINED))
        elif facts.affirm:
            out.append("Great!")
        elif facts.story_intent:
            out.append("I'd love to make a story with you!")
        elif facts.question:
            out.append(_pick(seed, "offq", D.OFF_TOPIC_QUESTION))
        elif facts.foreign:
            pass
        elif _looks_like_chat(turns[-1].text):
            out.append(_pick(seed, "off", D.OFF_TOPIC))
        else:
            out.append(_pick(seed, "unclear", D.NOT_UNDERSTOOD))
    out.extend(acks)
    if state.complete and not facts.told_something and (facts.confirm or (facts.declined and analysis.before
                                                                           and analysis.before.complete)):
        out.append(_pick(seed, "ready", D.READY if facts.confirm else D.DECLINED_READY))
        return _finish(out)
    before_complete = analysis.before.complete if analysis.before else False
    out.extend(_next_step(analysis, first_complete=not before_complete, changed=facts.told_something))
    return _finish(out)


def _looks_like_chat(text: str) -> bool:
    return len(re.findall(r"[^\W\d_]+", text)) >= 3


def _finish(sentences: list[str]) -> str:
    text = " ".join(s.strip() for s in sentences if s.strip())
    text = re.sub(r"[<>*#_`~\[\]{}|\\^]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _next_step(analysis: _Analysis, first_complete: bool, changed: bool = True) -> list[str]:
    state, seed = analysis.state, analysis.seed
    missing = state.missing()
    if not state.complete:
        return [_question(missing[0], seed)]
    out = []
    if first_complete or changed:
        out.append(_pick(seed, "enough", D.ENOUGH_FIRST if first_complete else D.ENOUGH_AGAIN))
        out.append(_pick(seed, "restate", D.RESTATE).format(idea=_idea(state)))
        out.append(_pick(seed, "invite", D.INVITE))
    else:
        out.append(_pick(seed, "still", D.STILL_READY))
    if missing:
        question = _question(missing[0], seed)
        out.append(D.INVITE_MORE_QUESTION.format(question=question[:1].lower() + question[1:]))
    else:
        out.append(_pick(seed, "more", D.INVITE_MORE))
    return out


def _question(slot: str, seed: int) -> str:
    pool = _option_pool(slot)
    count = 3
    if slot in ("characters", "setting", "tone", "ending_preference"):
        start = _digest(str(seed), "options", slot) % len(pool)
        options = [pool[(start + i) % len(pool)] for i in range(count)]
    else:
        options = pool[:count]
    spoken = [_where(p) if slot == "setting" else p for p, _ in options]
    question = _pick(seed, "q-" + slot, D.QUESTIONS[slot])
    suggestion = _pick(seed, "s-" + slot, D.SUGGESTIONS[slot]).format(options=_join_or(spoken))
    return f"{question} {suggestion}"


def _spoken_chars(chars: Sequence[_Char]) -> str:
    return _join([c.spoken() for c in chars])


def _plural_subject(chars: Sequence[_Char]) -> bool:
    return len(chars) > 1 or any(c.plural or (c.listener and not c.name) for c in chars)


def _idea(state: _State) -> str:
    chars = [c for c in state.chars if not _unsafe(c.spoken())]
    subject = _spoken_chars(chars) or "our hero"
    action = D.TONE_ACTIONS.get(state.values.get("tone", ""), D.TONE_ACTIONS[""])[1 if _plural_subject(chars) else 0]
    setting = state.values.get("setting", "")
    where = _second_person(_where(setting)) if setting and not _unsafe(setting) else ""
    text = f"{_cap(subject)} {action} {where}".strip() + "."
    for plot in state.plots[:1]:
        if not _unsafe(plot):
            text += f" In the story, {plot[:1].lower() + plot[1:] if plot.startswith('The ') else plot}"
    details = []
    length = D.LENGTH_PHRASES.get(state.values.get("length", ""), "")
    genre = state.values.get("genre", "") or "story"
    audience = ""
    if state.age:
        audience = _aged(state.age)
    elif state.values.get("audience_age_group"):
        audience = D.AUDIENCE_PHRASES.get(state.values["audience_age_group"], "")
    ending = D.ENDING_PHRASES.get(state.values.get("ending_preference", ""), "")
    if length or audience or state.values.get("genre"):
        details.append(f"It will be {_article(length or genre)} {' '.join(w for w in (length, genre) if w)}"
                       + (f" for {audience}" if audience else "") + (f", with {ending}" if ending else "") + ".")
    elif ending:
        details.append(f"It will have {ending}.")
    if state.values.get("title") and not _unsafe(state.values["title"]):
        details.append(f"It's called {state.values['title']}.")
    return " ".join([text, *details])


def _acknowledge(facts: _Facts, state: _State, seed: int) -> list[str]:
    """Warm, specific sentences about what the user just said (or what was picked for them)."""
    out: list[str] = []
    names = [spoken for slot, spoken in facts.picked if slot == "names"]
    if names:
        out.append(f"Then I'll call {_join(names)}!")
    picked = [spoken for slot, spoken in facts.picked if slot != "names"]
    if picked:
        out.append(_pick(seed, "picked", D.PICKED).format(x=_join(picked)))
    if facts.accepted:
        out.append(_cap(_pick(seed, "accepted", D.ACCEPTED).format(x=_join([s for _, s in facts.accepted]))))
    if facts.removed:
        gone = _join([r if r[:1].isupper() else f"the {r}" for r in facts.removed])
        out.append(f"Okay, I've taken {gone} out of our story.")
    if facts.excluded:
        out.append(f"No {_join([_plural(k) for k in facts.excluded])}, got it.")
    if facts.renamed and not facts.chars:
        out.append(f"{facts.renamed} it is!")
    chosen = {slot for slot, _ in facts.picked + facts.accepted} - {"names"}
    items: list[str] = []
    if facts.named:
        lovely = "what lovely names" if len(facts.named) > 1 else "what a lovely name"
        items.append(_cap(f"{_spoken_chars(facts.named)}, {lovely}!"))
    chars = [c for c in facts.chars if "characters" not in chosen and not _unsafe(c.spoken()) and c not in facts.named]
    setting = facts.new.get("setting") if "setting" not in chosen else None
    if setting and not chars and facts.about_them and state.chars and not _unsafe(state.chars[0].spoken()):
        chars = [state.chars[0]]  # "She lives in a snowy forest": say whom it is about
    if chars and setting:
        items.append(_cap(_pick(seed, "charset", ("{c} {p}, how lovely!", "Ooh, {c} {p}! I can already picture it."))
                          .format(c=_spoken_chars(chars), p=_second_person(_where(setting)))))
    elif chars:
        templates = D.ACK_CHARACTERS_MANY if _plural_subject(chars) else D.ACK_CHARACTERS_ONE
        items.append(_cap(_pick(seed, "chars", templates).format(c=_spoken_chars(chars))))
    elif setting:
        items.append(_pick(seed, "setting", D.ACK_SETTING).format(
            s=_cap(_second_person(setting)), p=_second_person(_where(setting))))
    for slot, table in (("tone", D.ACK_TONE), ("length", D.ACK_LENGTH), ("ending_preference", D.ACK_ENDING)):
        value = facts.new.get(slot)
        if value and slot not in chosen and value in table:
            items.append(_pick(seed, "ack-" + slot, table[value]))
    if facts.new.get("audience_age_group") and "audience_age_group" not in chosen:
        if state.age and state.age_self:
            items.append(f"You're {state.age}, how wonderful!")
        elif state.age:
            items.append(f"A story for {_aged(state.age)}, lovely.")
        else:
            items.append(f"Perfect for {D.AUDIENCE_PHRASES[facts.new['audience_age_group']]}.")
    if facts.new.get("title"):
        items.append(f"{facts.new['title']}, what a great title!")
    if facts.plot:
        items.append(f"I love the idea: {facts.plot}")
    if facts.new.get("genre") and not items:
        items.append(f"{_cap(_article(facts.new['genre']))} {facts.new['genre']}, lovely.")
    extras = [phrase.format(v=_EXTRA_VALUES.get(facts.new[field], facts.new[field]))
              for field, phrase in _EXTRA_ACKS if facts.new.get(field)]
    if extras:
        items.append(_cap(_join(extras)) + ", got it.")
    if len(items) >= 4:
        # The restatement that follows (or this partial one) says it all.
        items = [_pick(seed, "many", D.MANY_DETAILS)] + ([] if state.complete else [f"So far: {_idea(state)}"])
    out.extend(items)
    named = [c for c in facts.chars if not c.name and c.kind and not c.listener and not c.plural]
    if len(facts.chars) == 1 and named and "characters" not in {s for s, _ in facts.picked}:
        out.append(D.NAME_HINT.format(c=f"the {named[0].kind}"))
    if facts.special and not facts.excluded:
        out.append("I'll remember your special wish.")
    return out


def _summary(analysis: _Analysis) -> str:
    state = analysis.state
    req = state.requirements()
    parts = []
    if req.characters:
        parts.append(f"The user asked for a story about {_describe_chars(req.characters)}.")
    if req.setting:
        parts.append(f"Set {_where(req.setting)}.")
    if req.tone:
        parts.append(f"Mood: {D.TONE_ADJECTIVES.get(req.tone, req.tone.lower())}.")
    if state.age:
        parts.append(f"For {_aged(state.age)}.")
    elif req.audience_age_group:
        parts.append(f"For {D.AUDIENCE_PHRASES.get(req.audience_age_group, '')}.")
    if req.length:
        parts.append(f"Length: {req.length.lower()}.")
    if req.ending_preference:
        parts.append(f"Ending: {D.ENDING_PHRASES.get(req.ending_preference, '')}.")
    if req.genre:
        parts.append(f"Kind of story: {req.genre}.")
    if req.title:
        parts.append(f"Title: {req.title}.")
    if req.plot_elements:
        parts.append(f"Plot: {req.plot_elements}")
    if req.special_requests:
        parts.append(f"Special requests: {req.special_requests}")
    if not parts:
        parts.append("The user chatted but gave no story details yet.")
    return _clean(" ".join(parts))

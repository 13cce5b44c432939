"""Slot extraction, part two (`_Scan`, built on `_CastScan`): everything else the rules find in a message:
settings, tone, length, ending and genre, ages, the title, writing style, point of view, language and rating, plot
lines and special requests.
"""

from __future__ import annotations

import re
from typing import cast

from storyloom.engines.text.offline.slots_cast import _COUNTS, _DETERMINERS, _PREPOSITIONS, _CastScan
from storyloom.engines.text.offline.state import _Char
from storyloom.engines.text.offline.words import (
    _AGE_WORDS,
    _BODY_PARTS,
    _ENDINGS,
    _GENRES,
    _KIND_WORDS,
    _KINDS,
    _NUM,
    _PLACE_WORDS,
    _PLACES,
    _TONES,
    _VOCAB,
    D,
    _article,
    _cap,
    _clean,
    _first,
    _is_name_word,
    _join,
    _match,
    _minutes,
    _number,
    _second_person,
    _Sentence,
)
from storyloom.engines.text.safety import unsafe as _unsafe

_PLOT_VERB = re.compile(
    r"(?:wants?|wanted|loves?|loved|learns?|learned|finds?|found|looks?|looked|searches|searched|goes|go|went|"
    r"grows?|grew|plants?|planted|bakes?|baked|rides?|rode|sings?|sang|watch(?:es)?|watched|fix(?:es)?|fixed|"
    r"climbs?|climbed|sails?|sailed|crosses|crossed|crossing|is crossing|is afraid|is scared|is nervous|"
    r"tries|tried|try|needs?|needed|must|helps?|helped|saves?|saved|meets?|met|discovers?|discovered|builds?|built|"
    r"makes?|made|gets?|got|loses?|lost|dreams?|dreamed|dreamt|wishes|wished|wish|can't|cannot|becomes?|became|"
    r"visits?|visited|travels?|travelled|traveled|flies|flew|fly|rescues?|rescued|explores?|explored|bakes?|baked|"
    r"has to|had to|have to|is looking|are looking|is searching|is trying|are trying|is scared|is afraid|"
    r"was scared|was afraid|are scared|decides?|decided|hopes?|hoped|plans?|planned|sets? off|set off|"
    r"escapes?|escaped|follows?|followed|teaches|taught|shares?|shared|sings?|sang|dances?|danced|"
    r"wakes? up|woke up|falls? asleep|fell asleep|wins?|won|solves?|solved|befriends?|befriended|"
    r"lives?|lived|live)\b", re.IGNORECASE)

_SPECIAL_MARKERS = (r"\bsomething (?:with|about)\b|\bplease\b|\bmake sure\b|\bi want\b|\bi'd like\b|\bi would like\b|"
                    r"\bcan you\b|\bcould you\b|"
                    r"\bshould\b|\bmust\b|\bdon't\b|\bdo not\b|\bno\b|\binclude\b|\bhas to\b|\bhave to\b|"
                    r"\bneeds? to\b|\bremember\b|\bwithout\b|\bnot\b")

_MASS_PLACES = frozenset({"space", "underwater", "home", "school", "mars", "venus", "jupiter", "saturn", "antarctica",
                          "wonderland", "fairyland", "dreamland", "stars", "clouds"})

_THE_PLACES = frozenset({"sky", "moon", "sea", "ocean", "arctic", "beach", "seaside", "jungle", "desert", "rainforest",
                         "world", "woods", "city", "countryside"})

_PROPER_PLACES = frozenset({"mars", "venus", "jupiter", "saturn", "antarctica"})

_MARKER_WORDS = frozenset([
    "please", "make", "sure", "want", "like", "would", "can", "could", "should", "must", "don't", "do", "not", "no",
    "include", "has", "have", "needs", "need", "remember", "without", "put", "add", "story", "called", "named"])


class _Scan(_CastScan):
    """Everything the rules find in the sentences of one message."""

    def read(self, text: str) -> None:
        sentence = _Sentence(text)
        low = sentence.low
        if not low:
            return
        if re.search(r"\b(?:instead|actually|rather|change)\b", text, re.IGNORECASE):
            self.replace = True
        hits_before = self.neg_hits
        negated = self._negations(sentence)
        used: set[int] = set()
        found_chars = self._characters(sentence, negated, used)
        self.chars.extend(found_chars)
        self._names(sentence, used, found_chars)
        self._settings(sentence, negated, used)
        self._tone(sentence, negated, used)
        self._length(sentence, negated)
        self._ending_genre(sentence, negated)
        self._age(text.lower())
        self._title(text)
        self._others(text)
        self._plot(sentence, found_chars, used)
        self._special(sentence, used, self.neg_hits > hits_before)
    # -- settings: "in a magical forest", "on the moon", "under the sea", "a castle in the clouds"
    def _settings(self, s: _Sentence, negated: set[int], used: set[int]) -> None:
        low, toks = s.low, s.toks
        asked = self.question is not None and self.question.slot == "setting"
        i = 0
        while i < len(low):
            size, place = _match(_PLACES, low, i)
            if not size or i in negated or i in used:
                i += 1
                continue
            j = i + size
            if j < len(low) and s.plain_gap(j) and (_match(_KINDS, low, j)[0] or low[j] in _BODY_PARTS):
                i = j  # "space explorer", "jungle cat"
                continue
            k = i - 1
            words: list[str] = []
            while k >= 0 and len(words) < 3 and s.plain_gap(k + 1) and k not in used and (
                    low[k] in D.ADJECTIVES or low[k] in _KIND_WORDS or low[k] in _PLACE_WORDS
                    or (low[k].endswith("'s") and len(low[k]) > 3)):
                words.insert(0, toks[k].text if toks[k].capitalised and low[k].endswith("'s") else low[k])
                k -= 1
            det = ""
            if k >= 0 and s.plain_gap(k + 1) and low[k] in _DETERMINERS and low[k] not in _COUNTS:
                det = low[k]
                k -= 1
            if det in ("a", "an") and not words and j < len(low) and low[j] in ("one", "story", "adventure", "tale"):
                det = ""  # "a space one", "a jungle adventure": the place is "space", "the jungle"
            prep = ""
            if k >= 0 and low[k] in _PREPOSITIONS:
                prep = low[k]
            end, extra = self._setting_tail(s, j)
            if not (prep or det or size > 1 or place in ("space", "outer space", "underwater") or asked):
                i = j
                continue
            kept = prep if prep in D.KEPT_PREPOSITIONS and not str(place).startswith(("under ", "bottom ")) else ""
            if not det and not prep and size == 1 and not words and place not in _MASS_PLACES:
                det = "the" if place in _THE_PLACES else _article(str(place))  # "volcano" -> "a volcano"
            place_words = " ".join(w.capitalize() if w in _PROPER_PLACES else w for w in low[i:j])
            text = " ".join(w for w in (kept, det, *words, place_words, extra) if w)
            priority = 3 if re.search(r"\b(?:set|takes? place|happens?|lives?|live)\s+(?:in|on|at|under)\s*$",
                                      s.text[:toks[k].end] if k >= 0 else "", re.IGNORECASE) else 2 if prep else 1
            self.order += 1
            self.settings.append((priority, -self.order, text))
            used.update(range(max(k, 0) if prep else k + 1, end))
            i = end
        for m in re.finditer(r"\b(?:in|on|at|to|visit|visits|visiting)\s+([A-Z][^\W\d_]+(?:\s+[A-Z][^\W\d_]+)?)",
                             s.text):
            words = m.group(1).split()
            if any(w.lower() in D.NOT_NAMES or w.lower() in _VOCAB or w.lower() in D.LANGUAGES for w in words):
                continue
            if any(c.name and _first(c.name) == words[0] for c in [*self.chars, *self.state.chars]):
                continue
            if words[0] in self.pronoun_names or words[0] == self.renamed or words[0] in self.audience_names:
                continue
            if _unsafe(m.group(1)):
                continue
            self.order += 1
            self.settings.append((1, -self.order, m.group(1)))

    def _setting_tail(self, s: _Sentence, j: int) -> tuple[int, str]:
        low, toks = s.low, s.toks
        if j >= len(low) or not s.plain_gap(j):
            return j, ""
        w = low[j]
        if w in ("made", "full") and j + 1 < len(low) and low[j + 1] == "of":
            p = j + 2
            words: list[str] = []
            while p < len(low) and len(words) < 2 and s.plain_gap(p) and low[p] not in D.NOT_NAMES - {"candy"}:
                words.append(low[p])
                p += 1
            return (p, f"{w} of {' '.join(words)}") if words else (j, "")
        if w in ("called", "named") and j + 1 < len(low) and _is_name_word(toks[j + 1], loose=False):
            return j + 2, f"{w} {toks[j + 1].text}"
        if w in ("of", "in", "on", "under", "above", "near", "beyond", "by"):
            p = j + 1
            words = []
            if p < len(low) and low[p] in ("a", "an", "the"):
                words.append(low[p])
                p += 1
            while p < len(low) and len(words) < 4 and low[p] in D.ADJECTIVES:
                words.append(low[p])
                p += 1
            if p < len(low) and s.plain_gap(p):
                size, _ = _match(_PLACES, low, p)
                if size:
                    return p + size, " ".join([w, *words, *low[p:p + size]])
                if w == "of" and (low[p] in _KIND_WORDS or low[p] not in D.COMMON_WORDS):
                    return p + 1, " ".join([w, *words, low[p]])
        return j, ""

    # -- moods: a stated mood overrides; a hint ("adventure", "magic") only fills an unknown mood
    def _tone(self, s: _Sentence, negated: set[int], used: set[int]) -> None:
        low = s.low
        if re.search(r"\bshort and sweet\b", s.text, re.IGNORECASE):
            negated = negated | {i for i, w in enumerate(low) if w == "sweet"}
        for i in range(len(low)):
            if i in negated or i in used:
                continue
            size, value = _match(_TONES, low, i)
            if not size:
                continue
            tone, strong = cast(tuple[str, bool], value)
            if strong and not self.strong_tone:
                self.strong_tone = tone
            elif not strong and not self.weak_tone:
                self.weak_tone = tone

    # -- length: "a short story", "make it long", "10 minutes"; not "a long time ago"
    def _length(self, s: _Sentence, negated: set[int]) -> None:
        low = s.low
        text = s.text.lower()
        if re.search(r"\bnot (?:too |very |that |so )?long\b", text):
            self.length = self.length or "SHORT"
            return
        if re.search(r"\bnot (?:too |very |that |so )?short\b", text):
            self.length = self.length or "MEDIUM"
            return
        minutes = _minutes(text)
        if minutes and not self.length:
            self.length = minutes
            return
        for i, w in enumerate(low):
            if w not in D.LENGTH_WORDS or w in D.LOOSE_LENGTH_WORDS or i in negated or self.length:
                continue
            nxt = low[i + 1] if i + 1 < len(low) else ""
            punct = i + 1 >= len(low) or not s.plain_gap(i + 1)
            if nxt in D.NOT_LENGTH_AFTER or (not punct and (nxt in _KIND_WORDS or nxt in D.ADJECTIVES)):
                continue
            if w == "quick" and not (punct or nxt in ("story", "one", "tale", "please", "bedtime")):
                continue
            if punct or nxt in ("story", "stories", "one", "tale", "book", "please", "version", "and", "bedtime",
                                "adventure", "fairy", "poem", "length", "sized", "size"):
                self.length = D.LENGTH_WORDS[w]

    def _ending_genre(self, s: _Sentence, negated: set[int]) -> None:
        low = s.low
        for i in range(len(low)):
            if i in negated:
                continue
            size, value = _match(_ENDINGS, low, i)
            if size and not self.ending:
                self.ending = str(value)
            size, value = _match(_GENRES, low, i)
            if size and not self.genre:
                self.genre = str(value)

    # -- ages: "I'm 5", "for my 7 year old", "ages 4 to 6", "a preschooler"
    def _age(self, text: str) -> None:
        found: list[tuple[int, int, bool]] = []  # (priority, age, the user speaks of themself)
        for m in re.finditer(r"\b(?:for\s+(?:my|our|a|an|his|her|their|the)\s+(?:little\s+|big\s+)?)?" + _NUM
                             + r"\s*-?\s*(?:years?|yrs?|yr)\s*-?\s*olds?\b", text):
            found.append((3 if m.group().startswith("for") else 2, _number(m.group(1)) or 0, False))
        for m in re.finditer(r"\b(i'm|i am|im|i'm turning|turned|turning|(?:she|he|they|who|son|daughter|kids?|child|"
                             r"children|boy|girl|grandson|granddaughter|brother|sister|twins|baby|toddler)"
                             r"(?: [a-z]+)?(?:'s|'re| is| are| turned| just turned| turns))\s+"
                             r"(?:just\s+|only\s+|almost\s+|nearly\s+|now\s+)?" + _NUM
                             + r"(?=\s*(?:$|[.,!?;)]|and\b|years?\b|yrs?\b|now\b|today\b|so\b|but\b))", text):
            found.append((2, _number(m.group(2)) or 0, m.group(1) in ("i'm", "i am", "im", "i'm turning")))
        if re.search(r"\bfor (?:a |my |our |the )?(?:baby|babies|newborn|infant)\b", text):
            found.append((2, 1, False))
        for m in re.finditer(r"\b(?:ages?|aged)\s+" + _NUM + r"\b", text):
            found.append((2, _number(m.group(1)) or 0, False))
        for m in re.finditer(_NUM + r"\s*(?:-|to)\s*" + _NUM + r"\s*(?:years?|yrs?)", text):
            found.append((2, _number(m.group(1)) or 0, False))
        words = re.findall(r"[\w'-]+", text)
        for i in range(len(words)):
            size, value = _match(_AGE_WORDS, words, i)
            if size:
                found.append((1, int(cast("int | str", value)), False))  # AGE_WORDS maps words to ages
        found = [f for f in found if 0 < f[1] < 100]
        if found:
            best = max(found, key=lambda f: f[0])
            if best[0] >= self.age_priority:
                self.age, self.age_priority = (best[1], best[2]), best[0]

    def _title(self, text: str) -> None:
        m = re.search(r"(?:\btitled?\b(?:\s+(?:is|should be|will be))?|\b(?:story|book|tale)\s+(?:is\s+|should be\s+|"
                      r"will be\s+)?(?:called|named)|\bcall\s+(?:the\s+)?(?:story|book)|\bname\s+(?:the\s+)?"
                      r"(?:story|book))\s*[:,-]?\s*(?:\"([^\"]{1,80})\"|'([^']{1,80})'|([^.!?\n\"]{1,80}))", text,
                      re.IGNORECASE)
        if not m:
            return
        title = m.group(1) or m.group(2) or ""
        if not title:
            title = re.split(r"\s+(?:about|where|which|because|for (?:my|a|an|our)|please|but|so)\b|,",
                             m.group(3) or "")[0]
            title = " ".join(title.split()[:8])
        title = _clean(title)
        if title and not _unsafe(title) and re.search(r"[^\W\d_]", title):
            small = {"a", "an", "the", "of", "and", "in", "on", "to", "with"}
            words = title.split()
            self.title = " ".join(w if (i and w.lower() in small) else _cap(w) for i, w in enumerate(words))

    def _others(self, text: str) -> None:
        low = text.lower()
        if re.search(r"\brhym(?:e|es|ing)\b|\bpoem\b|\bpoetic\b", low):
            self.others["writing_style"] = "POETIC"
        elif re.search(r"\b(?:simple|easy)\s+words\b|\beasy to read\b", low):
            self.others["writing_style"] = "SIMPLE"
        elif re.search(r"\bdescriptive\b", low):
            self.others["writing_style"] = "DESCRIPTIVE"
        for phrase, pov in (("first person", "FIRST_PERSON"), ("second person", "SECOND_PERSON"),
                            ("third person", "THIRD_PERSON_LIMITED")):
            if phrase in low:
                self.others["narrative_point_of_view"] = pov
        m = re.search(r"\bin\s+(" + "|".join(D.LANGUAGES) + r")\b", low)
        if m:
            self.others["language_code"] = D.LANGUAGES[m.group(1)]
        if re.search(r"\bpg[- ]?13\b", low):
            self.others["content_rating"] = "PG_13"
        elif re.search(r"\bPG\b|\bpg[- ]rated\b|\brated pg\b", text):
            self.others["content_rating"] = "PG"
        elif re.search(r"\brated\s+g\b|\bg[- ]rated\b|\brating\s+g\b", low):
            self.others["content_rating"] = "G"
        styles = "|".join(re.escape(s) for s in D.ILLUSTRATION_STYLES)
        m = re.search(r"\b(" + styles + r")\s+(?:style|pictures|drawings|illustrations|art|images)\b|"
                      r"\b(?:pictures|drawings|illustrations|images)\s+(?:in|like)\s+(?:a\s+)?(" + styles + r")\b",
                      low)
        if m:
            self.others["illustration_style"] = m.group(1) or m.group(2)

    # -- plot: "a fox named Luna who wants to find the moon", "He met an alien called Zip."
    def _plot(self, s: _Sentence, found: list[_Char], used: set[int]) -> list[tuple[int, int]]:
        text = s.text
        spans = []
        known = [c for c in [*self.state.chars, *self.chars] if c.name]
        starts = [(m.end(), m.group(1), m.group(2)) for m in re.finditer(
            r"\b(who|that|and then|where|and|but)\s+((?:[A-Z][^\W\d_]+|they|he|she|it)\s+)?", text)]
        if re.match(r"\s*We\s", text):
            text = re.sub(r"^\s*We\b", "They", text)
        m = re.match(r"\s*((?:[A-Z][^\W\d_]+|He|She|They|It)\s+)", text)
        if m and (m.group(1).strip().lower() in ("he", "she", "they", "it")
                  or any(_first(c.name) == m.group(1).strip() for c in [*known, *found] if c.name)):
            starts.insert(0, (m.end(), "^", m.group(1)))
        for position, link, subject in starts:
            subject = (subject or "").strip()
            rest = text[position:]
            if subject and link not in ("^",) and subject[0].isupper() and subject.lower() not in (
                    "he", "she", "they", "it") and not any(_first(c.name) == subject for c in known + found):
                continue
            if link in ("and", "where", "and then", "but") and not subject:
                continue
            verb = re.match(_PLOT_VERB, rest) or (link in ("who", "that", "^") and re.match(
                r"(?!(?:is|was|has|does|likes|likes|needs)\b)[a-z]{3,}(?:ed|s)\b", rest))
            if not verb:
                continue
            clause = re.split(r",|;|\s+but\s+|\s+so\s+|\s+and\s+(?:it|the story|make|please)\b", rest)[0]
            clause = re.sub(r"\b(?:a|the) story (?:about|where|in which|of)\s+", "", _clean(clause)).rstrip(".!?")
            if re.match(r"(?:lives?|lived|living|happens|meets?|met|is|was|comes along|keeps \w+ company)\b", clause):
                continue  # "lives in a jungle", "meets a dragon": the setting and the cast say it already
            thing = re.search(r"\b(?:the|a|an|his|her|their|my)\s+((?:[a-z]+\s+){0,2}[a-z]+)\s+(?:that|which)\s*$",
                              text[:position].rstrip() + " ")
            if link in ("that", "which") and thing and not _match(_KINDS, thing.group(1).split(), 0)[0]:
                subject = "the " + thing.group(1)  # "his magic hat that keeps flying away"
            if len(clause.split()) < 2 or re.search(r"\b(?:ending|end|story)\b", clause.lower()) or _unsafe(clause):
                continue
            if not subject or subject.lower() in ("he", "she", "it"):
                where = position - len(link) - 1
                pool = [c for c in self.chars if c not in found] if link == "^" else [
                    c for c in found if self.ends.get(id(c), 0) <= where]
                before = [c for c in pool if c.name or c.kind or c.listener] or [
                    c for c in self.state.chars if c.name or c.kind]
                first = clause.split()[0].lower()
                if len(before) > 1 and link in ("who", "that") and not first.endswith("s") and first not in (
                        "must", "lost", "can't", "cannot") and not first.endswith("ed"):
                    subject = _join([("you" if c.listener and not c.name else c.name or f"the {c.kind}")
                                     for c in before])
                elif before:
                    last = before[-1]
                    subject = "you" if last.listener and not last.name else last.name or f"the {last.kind}"
                elif subject and self.audience_names:
                    # "My daughter Emma is 4 and she loves butterflies": about the listener, worth passing on.
                    wish = _cap(f"{self.audience_names[-1]} {clause}") + "."
                    if not _unsafe(wish) and wish not in self.specials:
                        self.specials.append(wish)
                    continue
                else:
                    subject = subject or "they"
            plot = _cap(_second_person(f"{subject} {clause}".strip())) + "."
            if plot not in self.plots and len(self.plots) < 4:
                self.plots.append(plot)
            offset = text.find(clause)
            if offset >= 0:
                spans.append((offset, offset + len(clause)))
        for a, b in spans:
            used.update(i for i, t in enumerate(s.toks) if t.start >= a and t.end <= b and t.low not in _KIND_WORDS)
        return spans

    # -- special requests: "please make sure the fox has a red scarf", "no scary parts"
    def _special(self, s: _Sentence, used: set[int], negated_things: bool) -> None:
        names = {w.lower() for c in [*self.chars, *self.state.chars] for w in c.name.split()}
        names.update(n.lower() for n in self.audience_names)
        unused = " ".join(t.low for i, t in enumerate(s.toks) if i not in used)
        clauses = re.split(r",\s*|;\s*|\s+and\s+(?=(?:please|make sure|don't|do not|no|i want|i'd like|can you|"
                           r"include|also)\b)", s.text)
        for clause in clauses:
            low = clause.lower()
            if not re.search(_SPECIAL_MARKERS, low):
                continue
            words = re.findall(r"[^\W_]+(?:['\-][^\W_]+)*", low)
            leftover = [w for i, w in enumerate(words) if w not in D.COMMON_WORDS and w not in _VOCAB and w not in names
                        and w not in _MARKER_WORDS and not w.isdigit() and w not in D.NUMBER_WORDS and len(w) > 2
                        and not _match(_GENRES, words, i)[0] and not _match(_ENDINGS, words, i)[0]
                        and not _match(_AGE_WORDS, words, i)[0] and re.search(r"\b" + re.escape(w) + r"\b", unused)]
            negation = negated_things and re.search(r"\b(?:no|not|without|don't|never)\b", low)
            if leftover or negation:
                special = _clean(re.sub(r"^(?:and|also|but|so)\s+", "", clause.strip(), flags=re.IGNORECASE))
                if special and not _unsafe(special):
                    special = _cap(special)
                    self.specials.append(special if special[-1] in ".!?" else special + ".")

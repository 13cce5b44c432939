"""The quality benchmark's scorers: pure functions from a case's ground truth and what an engine made to figures.

Each scorer is deliberately simple and independent of the engine's own word lists (its lexicons live here), so an
engine cannot pass by agreeing with itself. tests/integration/quality/test_scorers.py shows every scorer failing on a
bad example: a scorer that cannot fail is a defect.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# --- words ------------------------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-zà-ÿ]+(?:'[a-z]+)?")
_SUFFIXES = ("fulness", "ousness", "iveness", "ingly", "ation", "ness", "ment", "ings", "ious", "eous", "ful",
             "ous", "ing", "ies", "ied", "ed", "es", "ly", "er", "s", "y")


def stem(word: str) -> str:
    """A crude stem that is enough to match "shares", "shared", "sharing" with "share" and "apples" with "apple"."""
    word = word.lower()
    for _ in range(2):  # "sunflowers" and "sunflower" meet at "sunflow"
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
    return word.rstrip("e")


def stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower())}


def has_stem(text: str, keyword: str) -> bool:
    """Whether every word of `keyword` ("star map") is in `text`, by stem."""
    found = stems(text)
    return all(stem(w) in found for w in _WORD.findall(keyword.lower()))


# Species as the benchmark names them, with the words a description or a picture spec may use for each.
SPECIES: dict[str, tuple[str, ...]] = {
    "human": ("human", "person", "girl", "boy", "child", "kid", "daughter", "son", "man", "woman", "grandpa",
              "grandma", "grandfather", "grandmother", "granddaughter", "grandson", "mother", "father", "mum", "mom",
              "dad", "papa", "sister", "brother", "knight", "princess", "prince", "pirate", "captain", "detective",
              "fisherman", "keeper", "baby", "toddler", "teacher", "singer", "hero", "superhero", "queen", "king",
              "scientist", "twin", "twins"),
    "dinosaur": ("dinosaur", "dino", "t-rex", "trex"), "dragon": ("dragon",), "owl": ("owl", "owlet"),
    "hedgehog": ("hedgehog",), "bunny": ("bunny", "rabbit", "hare"), "robot": ("robot", "android"),
    "cat": ("cat", "kitten", "kitty"), "dog": ("dog", "puppy", "pup"), "fox": ("fox",), "bear": ("bear", "teddy"),
    "mouse": ("mouse",), "unicorn": ("unicorn",), "penguin": ("penguin",), "turtle": ("turtle", "tortoise"),
    "whale": ("whale",), "fish": ("fish", "goldfish"), "frog": ("frog",), "duck": ("duck", "duckling"),
    "camel": ("camel",), "parrot": ("parrot",), "mermaid": ("mermaid",), "alien": ("alien",), "bee": ("bee",),
}
_SPECIES_OF = {word: species for species, words in SPECIES.items() for word in words}
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "grey", "brown", "silver",
           "gold")
_FEMALE = {"she", "her", "hers", "herself"}
_MALE = {"he", "him", "his", "himself"}
_THEY = {"they", "them", "their", "theirs", "themselves", "themself"}


def species_of(text: str) -> str:
    """The species a description names first ("a shy grey mouse" -> mouse); "" when none."""
    words = _WORD.findall(text.lower().replace("t-rex", "trex"))
    for word in words:
        for candidate in (word, word[:-1] if word.endswith("s") else word):
            if candidate in _SPECIES_OF and _SPECIES_OF[candidate] != "human":
                return _SPECIES_OF[candidate]
    for word in words:
        if word in _SPECIES_OF:
            return _SPECIES_OF[word]
    return ""


def colour_of(text: str) -> str:
    words = _WORD.findall(text.lower())
    named = [w if w != "gray" else "grey" for w in words if w in (*COLOURS, "gray", "golden")]
    return ("gold" if named[0] == "golden" else named[0]) if named else ""


def pronoun_of(description: str, given: str = "") -> str:
    if given:
        return given.split("/")[0].strip().lower()
    words = set(_WORD.findall(description.lower()))
    if words & (_FEMALE | {"girl", "daughter", "grandma", "granddaughter", "sister", "mother", "mum", "mom",
                           "princess", "queen", "woman", "aunt", "niece"}):
        return "she"
    if words & (_MALE | {"boy", "son", "grandpa", "grandson", "brother", "father", "dad", "papa", "prince", "king",
                         "man", "uncle", "nephew", "fisherman"}):
        return "he"
    return ""


def age_of(description: str) -> int:
    match = re.search(r"\b(\d{1,2})[- ]years?[- ]old\b|\baged? (\d{1,2})\b|\b(\d{1,2})\b", description)
    if not match:
        return 0
    return int(next(g for g in match.groups() if g))


# --- slots ------------------------------------------------------------------------------------------------------

# Slots an engine must not invent: a spurious value is a false positive even when the case says nothing of it.
STRICT_SLOTS = ("hero", "companion", "special", "moral", "scene_count")


@dataclasses.dataclass(frozen=True)
class Character:
    name: str
    description: str = ""
    pronouns: str = ""


@dataclasses.dataclass(frozen=True)
class Extracted:
    """What an engine understood, in the benchmark's own terms."""

    characters: tuple[Character, ...] = ()
    setting: str = ""
    tone: str = ""
    age_group: str = ""
    scene_count: int = 0
    moral: str = ""
    special: str = ""  # special requests and plot elements together
    language: str = ""


def expected_slots(expect: Mapping[str, Any]) -> set[tuple[str, str]]:
    slots: set[tuple[str, str]] = set()
    hero = expect.get("hero", {})
    if hero.get("name"):
        slots.add(("hero", hero["name"].lower()))
    for key in ("pronoun", "species", "colour", "age"):
        if hero.get(key):
            slots.add((f"hero.{key}", str(hero[key]).lower()))
    for companion in expect.get("companions", ()):
        name = companion["name"].lower()
        slots.add(("companion", name))
        for key in ("species", "colour", "pronoun", "age"):
            if companion.get(key):
                slots.add((f"companion.{name}.{key}", str(companion[key]).lower()))
    for key in ("tone", "age_group", "scene_count", "moral", "language"):
        if expect.get(key):
            slots.add((key, str(expect[key]).lower()))
    for word in expect.get("setting", ())[:1]:
        slots.add(("setting", word))
    if expect.get("special"):
        slots.add(("special", " ".join(expect["special"])))
    return slots


MORALS: dict[str, tuple[str, ...]] = {
    "courage": ("courage", "brave", "bravery", "courageous"),
    "patience": ("patience", "patient", "patiently"),
    "sharing": ("share", "sharing", "shared"),
    "kindness": ("kind", "kindness", "kindly"),
    "honesty": ("honest", "honesty", "truth", "truthful"),
}


def moral_family(text: str) -> str:
    found = stems(text)
    for moral, words in MORALS.items():
        if any(stem(w) in found for w in words):
            return moral
    return ""


def extracted_slots(got: Extracted, expect: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The engine's answer as slots, worded like the case's where they mean the same thing (a setting that
    contains the expected word, special requests that keep every expected word)."""
    slots: set[tuple[str, str]] = set()
    if got.characters:
        hero, *companions = got.characters
        slots.add(("hero", hero.name.lower()))
        for key, value in (("pronoun", pronoun_of(hero.description, hero.pronouns)),
                           ("species", species_of(hero.description) or species_of(hero.name)),
                           ("colour", colour_of(hero.description)), ("age", str(age_of(hero.description) or ""))):
            if value:
                slots.add((f"hero.{key}", value))
        for companion in companions:
            name = companion.name.lower()
            slots.add(("companion", name))
            for key, value in (("species", species_of(companion.description) or species_of(companion.name)),
                               ("colour", colour_of(companion.description)),
                               ("pronoun", pronoun_of(companion.description, companion.pronouns)),
                               ("age", str(age_of(companion.description) or ""))):
                if value:
                    slots.add((f"companion.{name}.{key}", value))
    for key, value in (("tone", got.tone), ("age_group", got.age_group), ("language", got.language or "en")):
        if value:
            slots.add((key, value.lower()))
    if got.scene_count:
        slots.add(("scene_count", str(got.scene_count)))
    if got.moral:
        slots.add(("moral", moral_family(got.moral) or got.moral.lower()))
    setting_words = expect.get("setting", ())[:1]
    if got.setting:
        slots.add(("setting", setting_words[0] if setting_words and any(
            has_stem(got.setting, w) for w in expect.get("setting", ())) else got.setting.lower()))
    if got.special.strip():
        wanted = expect.get("special", ())
        slots.add(("special", " ".join(wanted) if wanted and all(has_stem(got.special, w) for w in wanted)
                   else got.special.lower()))
    return slots


@dataclasses.dataclass
class SlotCounts:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    def add(self, other: SlotCounts) -> None:
        self.true_positive += other.true_positive
        self.false_positive += other.false_positive
        self.false_negative += other.false_negative

    @property
    def precision(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_positive)

    @property
    def recall(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_negative)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score_slots(got: Extracted, expect: Mapping[str, Any]) -> tuple[SlotCounts, list[str]]:
    """Precision counts only slot kinds the case states, plus the strict ones (a wrong or invented hero,
    companion, special request, moral or scene count is always an error). Returns the counts and the misses."""
    wanted = expected_slots(expect)
    found = extracted_slots(got, expect)
    stated_kinds = {kind.split(".")[0] for kind, _ in wanted} | set(STRICT_SLOTS)
    if "not_hero" in expect:
        found = {s for s in found if s[0] != "hero"}  # any original name will do
    judged = {s for s in found if s[0].split(".")[0] in stated_kinds and (
        s[0].count(".") == 0 or any(w[0] == s[0] for w in wanted))}
    counts = SlotCounts(true_positive=len(judged & wanted), false_positive=len(judged - wanted),
                        false_negative=len(wanted - found))
    problems = [f"missed {k}={v}" for k, v in sorted(wanted - found)]
    problems += [f"wrong {k}={v}" for k, v in sorted(judged - wanted)]
    return counts, problems


# --- stories ------------------------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])[\"'”’]?\s+(?=[\"'“‘]?[A-Z])")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]


def name_in(text: str, name: str) -> bool:
    first = name.split()[-1] if name.lower().startswith(("grandpa ", "grandma ", "captain ")) else name.split()[0]
    return bool(re.search(rf"(?<![\w]){re.escape(first)}(?![\w])", text))


def hero_in_every_scene(scenes: Sequence[str], hero: str) -> tuple[int, int]:
    """(scenes naming the hero, scenes)."""
    return sum(name_in(s, hero) for s in scenes), len(scenes)


def _gender(word: str) -> str:
    word = word.lower()
    return "she" if word in _FEMALE else "he" if word in _MALE else "they" if word in _THEY else ""


def pronoun_mismatches(text: str, name: str, pronoun: str, others: Iterable[str]) -> list[str]:
    """Sentences that name this character and no other, then speak of them with a pronoun of another gender: a
    reflexive ("Zack hurt herself"), a possessive in "did her very best" / "her own", or "their name was" for a
    he or she. (An object pronoun may mean someone else, so it is not judged.)"""
    wrong = {"he", "she"} - {pronoun} if pronoun in ("he", "she") else {"he", "she"} if pronoun == "they" else set()
    if pronoun in ("he", "she"):
        wrong.add("they")
    others = [o for o in others if o and o != name]
    first = name.split()[0]
    bad = []
    for sentence in sentences(text):
        if not name_in(sentence, name) or any(name_in(sentence, o) for o in others):
            continue
        after = sentence[sentence.find(first) + len(first):] if first in sentence else sentence
        low = after.lower()
        tied = re.findall(r"\b(himself|herself|themselves|themself)\b|\b(his|her|their) (?:very )?(?:best|own)\b", low)
        genders = {_gender(a or b) for a, b in tied} - {""}
        if genders & wrong or (pronoun in ("he", "she") and re.search(r"\b(?:their name|they were a)\b",
                                                                      sentence.lower())):
            bad.append(sentence)
    return bad


def realized(scenes: Sequence[str], keywords: Sequence[str], *, min_scenes: int = 1) -> bool:
    """Every keyword is in the story (by stem), and some keyword is in at least `min_scenes` scenes."""
    whole = " ".join(scenes)
    if not all(has_stem(whole, k) for k in keywords):
        return False
    return sum(any(has_stem(s, k) for k in keywords) for s in scenes) >= min(min_scenes, len(scenes))


def moral_realized(scenes: Sequence[str], moral: str) -> bool:
    """The lesson is named (any word of its family) in the last scene: it drives the resolution."""
    words = MORALS.get(moral, (moral,))
    return bool(scenes) and any(has_stem(scenes[-1], w) for w in words)


def masked_sentences(text: str, names: Iterable[str]) -> set[str]:
    """The story's sentences of four words or more, names masked, lower case: what a template would share."""
    out = set()
    patterns = [re.compile(rf"\b{re.escape(part)}\b") for name in names for part in name.split() if len(part) > 1]
    for sentence in sentences(text):
        for pattern in patterns:
            sentence = pattern.sub("NAME", sentence)
        if len(sentence.split()) >= 4:
            out.add(" ".join(sentence.lower().split()))
    return out


def duplicate_rate(stories: Sequence[tuple[set[str], str]]) -> tuple[float, float, list[str]]:
    """Between every two stories of different requests: shared sentences / sentences of the smaller story.
    Returns the mean, the worst pair's rate, and the sentences shared most often."""
    rates = []
    shared_count: dict[str, int] = {}
    for (a, key_a), (b, key_b) in itertools.combinations(stories, 2):
        if key_a == key_b or not a or not b:
            continue
        shared = a & b
        rates.append(len(shared) / min(len(a), len(b)))
        for sentence in shared:
            shared_count[sentence] = shared_count.get(sentence, 0) + 1
    common = sorted(shared_count, key=lambda s: -shared_count[s])[:5]
    return (sum(rates) / len(rates) if rates else 0.0), max(rates, default=0.0), common


GRAMMAR_PATTERNS: dict[str, re.Pattern[str]] = {
    "article before a possessive": re.compile(r"\b(?:a|an|the)\s+(?:her|his|their|my|your|our|its)\b", re.I),
    "a before a vowel": re.compile(r"\ba\s+(?!uni|use|usu|eu|one|once|u-)[aeiou]\w*", re.I),
    "an before a consonant": re.compile(r"\ban\s+(?!hour|honest|herb)[b-df-hj-np-tv-z]\w*", re.I),
    "doubled word": re.compile(r"\b(?!very\b|long\b|far\b|round\b|tap\b|knock\b|no\b|ha\b|so\b)(\w+)\s+\1\b", re.I),
    "dangling named": re.compile(r"\bwho\s+(?:\w+\s+){1,6}named\s+[A-Z]"),
    "lower case after a full stop": re.compile(r"[.!?]\s+[a-z]"),
    "leftover placeholder": re.compile(r"[{}\[\]]|\s,|\s\.(?!\.)"),
}


def grammar_hits(text: str, cast: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(pattern, the text it matched) for every known grammar mistake, plus pronoun disagreement for each
    character of known gender."""
    hits = []
    outside_quotes = re.sub(r"[\"“][^\"”]*[\"”]", " Quote ", text)
    for label, pattern in GRAMMAR_PATTERNS.items():
        source = outside_quotes if label == "lower case after a full stop" else text
        hits.extend((label, m.group()) for m in pattern.finditer(source))
    names = [n for n, _ in cast]
    for name, pronoun in cast:
        hits.extend(("pronoun agreement", s) for s in pronoun_mismatches(text, name, pronoun, names))
    return hits


# Setting families (found from the setting's words) and what can never be in them.
SETTING_FAMILIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("jelly planet", ("jelly",), ("moon dust", "dusty", "crater", "rocky ground")),
    ("indoors", ("bedroom", "kitchen", "library", "museum", "classroom", "garage", "workshop", "supermarket", "house",
                 "school"),
     ("waves lapped", "water lapping", "lapping", "the tide", "seaweed", "coral", "moon dust", "crater", "sand dune",
      "snowdrift")),
    ("space", ("space", "moon", "planet", "rocket", "station", "mars", "comet"),
     ("birds sang", "grass", "waves", "raindrop", "breeze", "the wind", "seaweed", "butterfl*", "puddle")),
    ("under the sea", ("under the sea", "underwater", "deep ocean", "ocean"),
     ("moon dust", "crater", "sand dune", "snowdrift", "breeze", "birds sang", "butterfl*", "grass")),
    ("desert", ("desert", "oasis"), ("snow", "waves lapped", "seaweed", "coral", "moss", "puddle", "icicle")),
    ("snow", ("snow", "arctic", "north", "ice"), ("sand dune", "coral", "palm tree", "seaweed", "cactus", "butterfl*")),
    ("countryside", ("forest", "jungle", "garden", "park", "orchard", "farm", "mountain", "meadow", "pond", "kingdom"),
     ("waves lapped", "the tide", "seaweed", "coral", "moon dust", "crater")),
)
_SKY = re.compile(r"\bsky (?:was|turned|grew|looked) ([a-z ]+?)(?:[,.!?]| and\b)", re.I)


def setting_violations(setting: str, scenes: Sequence[str]) -> list[str]:
    """Words that cannot belong to the setting, and a sky that changes colour within one scene."""
    low = setting.lower()
    family = next(((name, banned) for name, keys, banned in SETTING_FAMILIES if any(k in low for k in keys)), None)
    found = []
    for scene in scenes:
        text = scene.lower()
        if family:
            found.extend(f"{family[0]}: {word}" for word in family[1] if re.search(
                rf"\b{re.escape(word.rstrip('*'))}" + ("" if word.endswith("*") else r"\b"), text))
        skies = {("grey" if "gr" in m.group(1) else "blue" if "blue" in m.group(1) else m.group(1).strip())
                 for m in _SKY.finditer(scene)}
        if "grey" in skies and "blue" in skies:
            found.append("the sky is grey and blue in one scene")
    return found


# --- pictures -------------------------------------------------------------------------------------------------------

_GENDER_OF_PRONOUN = {"she": "female", "he": "male", "they": ""}


def picture_character_ok(spec_character: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """What a picture spec gets wrong about one character: species, colour, gender, age band."""
    wrong = []
    species = _SPECIES_OF.get(str(spec_character.get("species", "")).lower(), spec_character.get("species", ""))
    if expected.get("species") and species != expected["species"]:
        wrong.append(f"species {species!r} (want {expected['species']})")
    if expected.get("colour") and expected["colour"] != spec_character.get("colour"):
        wrong.append(f"colour {spec_character.get('colour')!r} (want {expected['colour']})")
    if "pronoun" in expected:
        gender = _GENDER_OF_PRONOUN.get(expected["pronoun"], "")
        if spec_character.get("gender", "") != gender:
            wrong.append(f"gender {spec_character.get('gender')!r} (want {gender or 'unsaid'})")
    if expected.get("age"):
        age = int(spec_character.get("age") or 0)
        if abs(age - int(expected["age"])) > 1:
            wrong.append(f"age {age} (want {expected['age']})")
    return wrong


def picture_scores(specs: Sequence[Mapping[str, Any] | None], expect: Mapping[str, Any]
                   ) -> tuple[int, int, int, int, list[str]]:
    """(characters drawn right, characters expected, objects shown, objects expected, problems).

    A character is right when every scene spec that includes it names its species, colour, gender and age right,
    and at least one scene includes it."""
    people = []
    hero = dict(expect.get("hero", {}))
    if hero:
        people.append(("hero", hero))
    people += [(c["name"], c) for c in expect.get("companions", ())]
    right, problems = 0, []
    for role, expected in people:
        seen, wrong = 0, []
        for spec in specs:
            if not spec:
                continue
            figures = spec.get("characters", [])
            if role == "hero":
                match = [f for f in figures if f.get("role") == "hero"] or (
                    [f for f in figures if expected.get("name") and name_in(f.get("name", ""), expected["name"])])
            else:
                match = [f for f in figures if name_in(f.get("name", ""), expected["name"])]
            for figure in match[:1]:
                seen += 1
                wrong.extend(picture_character_ok(figure, expected))
        if seen and not wrong:
            right += 1
        else:
            problems.append(f"{expected.get('name', role)}: " + ("; ".join(sorted(set(wrong))) or "never drawn"))
    objects = list(expect.get("objects", ()))
    shown_text = " ".join(" ".join(spec.get("objects", [])) for spec in specs if spec)
    shown = sum(has_stem(shown_text, o) for o in objects)
    problems += [f"object {o!r} not drawn" for o in objects if not has_stem(shown_text, o)]
    return right, len(people), shown, len(objects), problems


# --- narration --------------------------------------------------------------------------------------------------------


def _biquad_response(b: Sequence[float], a: Sequence[float], frequencies: Any, rate: int) -> Any:
    import numpy as np

    z = np.exp(-1j * 2 * np.pi * frequencies / rate)
    return (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)


def k_weighting(rate: int) -> tuple[tuple[list[float], list[float]], tuple[list[float], list[float]]]:
    """The two BS.1770 K-weighting biquads (high shelf, then high pass) for any sample rate."""
    f0, gain, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = ([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
             [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    highpass = ([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return shelf, highpass


def loudness(samples: Any, rate: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4: K-weighting, 400 ms blocks overlapping by 75 %, the absolute
    gate at -70 LUFS and the relative gate 10 LU below). The filters are applied in the frequency domain; for a
    measurement of energy in 400 ms blocks their phase does not matter."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    if x.size < rate * 0.4:
        return -math.inf
    spectrum = np.fft.rfft(x)
    frequencies = np.fft.rfftfreq(x.size, 1 / rate)
    for b, a in k_weighting(rate):
        spectrum *= np.abs(_biquad_response(b, a, frequencies, rate))
    weighted = np.fft.irfft(spectrum, n=x.size)
    block, step = int(0.4 * rate), int(0.1 * rate)
    power = np.square(weighted)
    cumulative = np.concatenate(([0.0], np.cumsum(power)))
    starts = np.arange(0, x.size - block + 1, step)
    means = (cumulative[starts + block] - cumulative[starts]) / block
    levels = -0.691 + 10 * np.log10(np.maximum(means, 1e-12))
    gated = means[levels > -70]
    if gated.size == 0:
        return -math.inf
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10
    final = gated[(-0.691 + 10 * np.log10(gated)) > relative]
    return float(-0.691 + 10 * math.log10(final.mean()))


def narration_measures(wav: bytes, words: int) -> dict[str, float]:
    """Words per minute, integrated loudness (LUFS), the sample peak (dBFS) and clipped samples of a 16-bit WAV."""
    import io
    import wave

    import numpy as np

    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    seconds = pcm.size / rate if rate else 0.0
    peak = int(np.max(np.abs(pcm.astype(np.int32)))) if pcm.size else 0
    return {"words_per_minute": words / seconds * 60 if seconds else 0.0,
            "lufs": loudness(pcm / 32768.0, rate),
            "peak_dbfs": 20 * math.log10(peak / 32768) if peak else -math.inf,
            "clipped_samples": int(np.sum(np.abs(pcm.astype(np.int32)) >= 32767)),
            "seconds": seconds}

"""The quality benchmark: plays every labeled case through the offline engines and prints a scorecard.

    make quality        (or: .venv/bin/python bench/quality/run.py [--narrate every|none|N] [--out FILE])

For each case (bench/quality/cases.toml) the conversation is played turn by turn through the chat, the requirements
are extracted, the story is written with the StoryWriter calls the story task makes, each scene's picture spec is
read, and (for the cases chosen by --narrate) every scene is narrated the way the story task does it. The scorers
(bench/quality/scorers.py) turn that into figures; the scorecard is printed and written as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import re
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "server"))

import scorers as S  # noqa: E402

from storyloom.domain import requirements as R  # noqa: E402
from storyloom.domain.ports.text import ChatRequest, ChatTurn, TextDelta  # noqa: E402

SYSTEM = "You help a family plan a story."
DEFAULT_SCENES = {"SHORT": 3, "MEDIUM": 5, "LONG": 8, "": 5}
# Narration targets: little ones and bedtime slower, everyone else at an easy reading pace.
SLOW_WPM = (130.0, 150.0)
EASY_WPM = (140.0, 175.0)
LUFS_TARGET, LUFS_TOLERANCE, PEAK_LIMIT = -16.0, 1.0, -1.0
# Words in a reply that ask what a slot is (the reply's question sentence), for "never re-ask".
QUESTION_WORDS = {"age": r"\bhow old\b|\bwhat age\b", "characters": r"\bwho\b", "setting": r"\bwhere\b"}


def load_cases(path: Path = HERE / "cases.toml") -> list[dict[str, Any]]:
    with path.open("rb") as handle:
        return list(tomllib.load(handle)["case"])


def build_requirements(given: dict[str, Any]) -> tuple[R.StoryRequirements, int]:
    """A client's requirement set as StoryRequirements; fields this version does not have are folded into the
    nearest field it has (a moral into the plot, pronouns into the description), as a client would."""
    fields = {f.name for f in dataclasses.fields(R.StoryRequirements)}
    char_fields = {f.name for f in dataclasses.fields(R.Character)}
    values = {k: v for k, v in given.items() if k in fields and k not in ("characters",)}
    characters = []
    for c in given.get("characters", ()):
        extra = {k: v for k, v in c.items() if k in char_fields and k not in ("name", "description")}
        description = c.get("description", "")
        if c.get("pronouns") and "pronouns" not in char_fields:
            description += f" ({c['pronouns']})"
        characters.append(R.Character(c["name"], description, **extra))
    values["characters"] = tuple(characters)
    if given.get("moral") and "moral" not in fields:
        values["plot_elements"] = (values.get("plot_elements", "") + f" The lesson is {given['moral']}.").strip()
    return R.StoryRequirements(**values), int(given.get("scene_count", 0))


def extracted(req: R.StoryRequirements) -> S.Extracted:
    return S.Extracted(
        characters=tuple(S.Character(c.name, c.description, getattr(c, "pronouns", "")) for c in req.characters),
        setting=req.setting, tone=req.tone, age_group=req.audience_age_group,
        scene_count=int(getattr(req, "scene_count", 0) or 0), moral=str(getattr(req, "moral", "") or ""),
        special=" ".join(x for x in (req.special_requests, req.plot_elements) if x), language=req.language_code)


def asked_slot(reply: str) -> str:
    questions = [s for s in re.split(r"(?<=[.!?])\s+", reply) if s.endswith("?")]
    for question in questions[-1:]:
        for slot, pattern in QUESTION_WORDS.items():
            if re.search(pattern, question.lower()):
                return slot
    return ""


def reasks(turns: list[str], replies: list[str], expect: dict[str, Any]) -> list[str]:
    """Replies that ask for something the user had already said: the hero's name, the age, the setting."""
    found = []
    hero = expect.get("hero", {})
    for index, reply in enumerate(replies):
        said = " ".join(turns[: index + 1])
        slot = asked_slot(reply)
        age = hero.get("age") or {"PRESCHOOL": 4, "EARLY_READERS": 7, "MIDDLE_GRADE": 10}.get(expect.get("age_group"))
        if slot == "age" and expect.get("age_group") and re.search(
                rf"\b{age}\b|\b\d{{1,2}}\s*(?:years?|yrs?|ans|años|jahre)\b|\bi'?m \d|\b(?:is|she's|he's) \d|,\s*\d+,",
                said, re.I):
            found.append(f"asked the age again after: {said[-60:]!r}")
        if slot == "characters" and hero.get("name") and hero["name"].split()[0] in said:
            found.append(f"asked who again after {hero['name']}")
        if slot == "setting" and any(w in said.lower() for w in expect.get("setting", ())):
            found.append("asked where again")
    return found


async def play(engine: Any, turns: list[str]) -> tuple[list[ChatTurn], list[str]]:
    history: list[ChatTurn] = []
    replies = []
    for message in turns:
        history.append(ChatTurn("user", message))
        events = engine.chat(ChatRequest(SYSTEM, list(history)))
        reply = "".join([e.text async for e in events if isinstance(e, TextDelta)])
        replies.append(reply)
        history.append(ChatTurn("assistant", reply))
    return history, replies


async def write_story(engine: Any, req: R.StoryRequirements, count: int) -> list[Any]:
    premise = await engine.premise(req)
    outline = await engine.outline(req, premise.premise, count)
    scenes: list[Any] = []
    for index in range(len(outline)):
        scenes.append(await engine.scene(req, premise.premise, outline, index, scenes))
    return scenes


def picture_spec(scene: Any) -> dict[str, Any] | None:
    spec = getattr(scene, "picture", None)
    if spec is None:
        return None
    return spec if isinstance(spec, dict) else spec.as_dict()


def narration_plan(scene: Any, req: R.StoryRequirements) -> tuple[str, dict[str, Any]]:
    """What the story task reads aloud for a scene and how (this version's own rule when it has one)."""
    try:
        from storyloom.domain.stories import narration_request
    except ImportError:
        return f"{scene.title}. {scene.text}", {}
    return narration_request(scene.text, req)


def pace_target(req: R.StoryRequirements) -> tuple[float, float]:
    slow = req.audience_age_group in ("PRESCHOOL", "") or req.tone == "CALM" or "bedtime" in req.genre.lower()
    return SLOW_WPM if slow else EASY_WPM


async def run(args: argparse.Namespace, cases: list[dict[str, Any]]) -> dict[str, Any]:
    from storyloom.engines.text.offline import OfflineStoryteller

    engine = OfflineStoryteller(word_delay=0)
    narrator = None
    if args.only:
        cases = [c for c in cases if c["id"] in args.only.split(",")]
    narrate_ids = set()
    if args.narrate == "every":
        narrate_ids = {c["id"] for c in cases}
    elif args.narrate != "none":
        step = max(1, len(cases) // max(1, int(args.narrate)))
        narrate_ids = {c["id"] for c in cases[::step]}
    if narrate_ids:
        from storyloom.engines.speech.piper_tts import PiperNarrator

        narrator = PiperNarrator()

    slots = S.SlotCounts()
    tally: dict[str, list[bool]] = {k: [] for k in (
        "hero_every_scene", "pronouns_consistent", "companions_realized", "setting_realized", "moral_realized",
        "special_realized", "scene_count_honored", "no_reask", "celebrity_kindly_replaced", "nonsense_questioned",
        "language_detected", "language_honest", "unsafe_kept_out")}
    grammar: list[tuple[str, str, str]] = []
    setting_hits: list[tuple[str, str]] = []
    stories: list[tuple[set[str], str]] = []
    pictures = [0, 0, 0, 0]
    narration: list[dict[str, Any]] = []
    report: list[dict[str, Any]] = []
    started = time.perf_counter()
    for case in cases:
        expect = case["expect"]
        problems: list[str] = []
        replies: list[str] = []
        if "turns" in case:
            history, replies = await play(engine, case["turns"])
            req = await engine.extract_requirements(history, R.StoryRequirements())
            asked_count = 0
        else:
            req, asked_count = build_requirements(case["requirements"])
        got = extracted(req)
        counts, slot_problems = S.score_slots(got, expect)
        slots.add(counts)
        problems += slot_problems
        count = got.scene_count or asked_count or DEFAULT_SCENES.get(req.length, 5)
        scenes = await write_story(engine, req, count)
        texts = [s.text for s in scenes]
        whole = "\n".join(texts)
        hero = req.characters[0].name if req.characters else ""
        want_hero = expect.get("hero", {})
        hero_name = want_hero.get("name") or hero
        cast = [(c.name, S.pronoun_of(c.description, getattr(c, "pronouns", ""))) for c in req.characters]
        if want_hero.get("name") and want_hero.get("pronoun"):
            cast = [(want_hero["name"], want_hero["pronoun"])] + [(n, p) for n, p in cast if n != want_hero["name"]]
        for companion in expect.get("companions", ()):
            if companion.get("pronoun"):
                cast = [(n, p) for n, p in cast if n != companion["name"]] + [(companion["name"], companion["pronoun"])]

        named, total = S.hero_in_every_scene(texts, hero_name) if hero_name else (0, len(texts))
        tally["hero_every_scene"].append(bool(hero_name) and named == total)
        if named != total:
            problems.append(f"hero {hero_name!r} in {named} of {total} scenes")
        pronoun = want_hero.get("pronoun") or S.pronoun_of(req.characters[0].description if req.characters else "")
        if hero_name and pronoun:
            others = [n for n, _ in cast if n != hero_name]
            bad = S.pronoun_mismatches(whole, hero_name, pronoun, others)
            tally["pronouns_consistent"].append(not bad)
            problems += [f"pronoun: {b}" for b in bad[:2]]
        for companion in expect.get("companions", ()):
            ok = any(S.name_in(t, companion["name"]) for t in texts)
            tally["companions_realized"].append(ok)
            if not ok:
                problems.append(f"companion {companion['name']} missing from the story")
        if expect.get("setting"):
            ok = any(S.has_stem(whole, w) for w in expect["setting"])
            tally["setting_realized"].append(ok)
            if not ok:
                problems.append(f"setting {expect['setting']} not in the story")
        if expect.get("moral"):
            ok = S.moral_realized(texts, expect["moral"])
            tally["moral_realized"].append(ok)
            if not ok:
                problems.append(f"moral {expect['moral']} not in the last scene")
        if expect.get("special"):
            ok = S.realized(texts, expect["special"], min_scenes=2)
            tally["special_realized"].append(ok)
            if not ok:
                problems.append(f"special request {expect['special']} not central to the story")
        if expect.get("scene_count"):
            ok = len(scenes) == expect["scene_count"]
            tally["scene_count_honored"].append(ok)
            if not ok:
                problems.append(f"{len(scenes)} scenes, asked {expect['scene_count']}")
        if replies:
            again = reasks(case["turns"], replies, expect)
            tally["no_reask"].append(not again)
            problems += again
        if expect.get("not_hero"):
            celebrity = expect["not_hero"].lower()
            stored = json.dumps(dataclasses.asdict(req)).lower()
            ok = celebrity not in stored and celebrity.split()[0] not in whole.lower() and any(
                "inspired" in r.lower() for r in replies)
            tally["celebrity_kindly_replaced"].append(ok)
            if not ok:
                problems.append(f"{expect['not_hero']} used as is, or not explained kindly")
        if expect.get("nonsense"):
            junk = expect["nonsense"].lower()
            stored = json.dumps(dataclasses.asdict(req)).lower()
            turn = next(i for i, t in enumerate(case["turns"]) if junk in t.lower())
            questioned = "?" in replies[turn] and bool(re.search(
                r"not sure|didn't understand|don't understand|did you mean|what do you mean|mean\b|typo|"
                r"didn't quite|couldn't read", replies[turn], re.I))
            ok = junk not in stored and junk not in whole.lower() and questioned
            tally["nonsense_questioned"].append(ok)
            if not ok:
                problems.append("nonsense used or not questioned")
        if expect.get("language"):
            tally["language_detected"].append(req.language_code == expect["language"])
            honest = any("english" in r.lower() for r in replies)
            tally["language_honest"].append(honest)
            if req.language_code != expect["language"]:
                problems.append(f"language {req.language_code!r}, want {expect['language']}")
        if expect.get("unsafe"):
            stored = json.dumps(dataclasses.asdict(req)).lower() + whole.lower()
            ok = not any(re.search(rf"\b{w}", stored) for w in expect["unsafe"])
            tally["unsafe_kept_out"].append(ok)
            if not ok:
                problems.append("unsafe words reached the story")

        hits = S.grammar_hits(whole, [(n, p) for n, p in cast if p])
        grammar += [(case["id"], label, text) for label, text in hits]
        violations = S.setting_violations(req.setting or " ".join(expect.get("setting", ())), texts)
        setting_hits += [(case["id"], v) for v in violations]
        names = [c.name for c in req.characters] + [w for c in expect.get("companions", ()) for w in [c["name"]]]
        stories.append((S.masked_sentences(whole, names), case["id"]))

        specs = [picture_spec(s) for s in scenes]
        right, people, shown, objects, picture_problems = S.picture_scores(specs, expect)
        pictures = [pictures[0] + right, pictures[1] + people, pictures[2] + shown, pictures[3] + objects]
        problems += [f"picture: {p}" for p in picture_problems]

        if narrator is not None and case["id"] in narrate_ids:
            low, high = pace_target(req)
            for scene in scenes:
                text, options = narration_plan(scene, req)
                audio = await narrator.narrate(text, **options)
                measures = S.narration_measures(audio.wav, len(scene.text.split()))
                measures.update(case=case["id"], low=low, high=high, title_read=text.startswith(scene.title))
                narration.append(measures)
        report.append({"id": case["id"], "problems": problems, "scenes": len(scenes),
                       "requirements": {k: v for k, v in dataclasses.asdict(req).items()
                                        if v and k != "extracted_prompt"}})
    if narrator is not None:
        await narrator.aclose()

    mean_dup, worst_dup, common = S.duplicate_rate(stories)
    rate = {k: (sum(v) / len(v) if v else math.nan, len(v)) for k, v in tally.items()}
    narration_ok = [n for n in narration if n["low"] <= n["words_per_minute"] <= n["high"]
                    and abs(n["lufs"] - LUFS_TARGET) <= LUFS_TOLERANCE and n["peak_dbfs"] < PEAK_LIMIT
                    and n["clipped_samples"] == 0 and not n["title_read"]]
    card = {
        "cases": len(cases),
        "slot_precision": round(slots.precision, 3), "slot_recall": round(slots.recall, 3),
        "slot_f1": round(slots.f1, 3),
        **{k: {"rate": round(r, 3) if not math.isnan(r) else None, "of": n} for k, (r, n) in rate.items()},
        "duplicate_sentence_rate_mean": round(mean_dup, 4), "duplicate_sentence_rate_worst_pair": round(worst_dup, 4),
        "most_shared_sentences": common,
        "grammar_hits": len(grammar), "grammar_examples": [list(g) for g in grammar[:12]],
        "setting_violations": len(setting_hits), "setting_examples": [list(v) for v in setting_hits[:12]],
        "picture_characters_right": f"{pictures[0]}/{pictures[1]}",
        "picture_character_rate": round(pictures[0] / max(1, pictures[1]), 3),
        "picture_objects_shown": f"{pictures[2]}/{pictures[3]}",
        "picture_object_rate": round(pictures[2] / max(1, pictures[3]), 3),
        "narration_files": len(narration), "narration_within_targets": len(narration_ok),
        "narration": {
            "words_per_minute": _spread([n["words_per_minute"] for n in narration]),
            "lufs": _spread([n["lufs"] for n in narration]),
            "peak_dbfs": _spread([n["peak_dbfs"] for n in narration]),
            "clipped_files": sum(1 for n in narration if n["clipped_samples"]),
            "title_read_files": sum(1 for n in narration if n["title_read"]),
        },
        "narration_detail": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in n.items()}
                             for n in narration],
        "seconds": round(time.perf_counter() - started, 1),
        "per_case": report,
    }
    return card


def _spread(values: list[float]) -> dict[str, float] | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    return {"min": round(min(finite), 1), "max": round(max(finite), 1), "mean": round(sum(finite) / len(finite), 1)}


def print_card(card: dict[str, Any]) -> None:
    print(f"Quality scorecard: {card['cases']} cases ({card['seconds']} s)")
    print(f"  slot extraction     precision {card['slot_precision']:.3f}  recall {card['slot_recall']:.3f}  "
          f"F1 {card['slot_f1']:.3f}")
    for key in ("hero_every_scene", "pronouns_consistent", "companions_realized", "setting_realized",
                "moral_realized", "special_realized", "scene_count_honored", "no_reask", "celebrity_kindly_replaced",
                "nonsense_questioned", "language_detected", "language_honest", "unsafe_kept_out"):
        value = card[key]
        rate = "  n/a" if value["rate"] is None else f"{100 * value['rate']:5.1f} %"
        print(f"  {key.replace('_', ' '):28s}{rate}  (of {value['of']})")
    print(f"  duplicate sentences between requests: mean {100 * card['duplicate_sentence_rate_mean']:.2f} %, "
          f"worst pair {100 * card['duplicate_sentence_rate_worst_pair']:.1f} %")
    print(f"  grammar pattern hits {card['grammar_hits']}; setting-lexicon violations {card['setting_violations']}")
    print(f"  picture specs: characters right {card['picture_characters_right']} "
          f"({100 * card['picture_character_rate']:.1f} %), key objects {card['picture_objects_shown']}")
    n = card["narration"]
    print(f"  narration: {card['narration_within_targets']}/{card['narration_files']} files within targets; "
          f"wpm {n['words_per_minute']}, LUFS {n['lufs']}, peak {n['peak_dbfs']} dBFS, "
          f"clipped files {n['clipped_files']}, titles read {n['title_read_files']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--narrate", default="10", help="'every', 'none' or how many cases to narrate (default 10)")
    parser.add_argument("--out", default=str(HERE / "scorecard.json"))
    parser.add_argument("--only", default="", help="comma-separated case ids")
    parser.add_argument("--problems", action="store_true", help="print each case's problems")
    args = parser.parse_args()
    cases = load_cases()
    card = asyncio.run(run(args, [c for c in cases if not c.get("heldout")]))
    print_card(card)
    args.narrate = "none"
    heldout = asyncio.run(run(args, [c for c in cases if c.get("heldout")]))
    print("\nHeld out (written after tuning, never tuned on):")
    print_card(heldout)
    card["heldout"] = heldout
    if args.problems:
        for case in card["per_case"] + heldout["per_case"]:
            for problem in case["problems"]:
                print(f"    {case['id']}: {problem}")
    Path(args.out).write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

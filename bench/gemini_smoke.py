"""Smoke test against the real Gemini API: a streamed chat reply, an extraction, a story step, a picture, embeddings.

    make gemini-smoke        (or: GEMINI_API_KEY=... .venv/bin/python bench/gemini_smoke.py [--out DIR])

Uses the engines exactly as the server builds them (GEMINI_API_KEY, STORYLOOM_GEMINI_MODEL,
STORYLOOM_GEMINI_IMAGE_MODEL, STORYLOOM_GEMINI_EMBEDDING_MODEL, STORYLOOM_GEMINI_API_VERSION,
STORYLOOM_GEMINI_BASE_URL), checks that the models exist, and prints each step's timings, or its error as the
engine reports it (reason, message, metadata). The embedding step also prints how similar a related and two
unrelated memories are to a query, to check the memory search's threshold. Exits 1 if any step failed. Without
GEMINI_API_KEY it sends nothing, says so and exits 0. A handful of small requests: a few cents at most.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from storyloom.domain.errors import DomainError
from storyloom.domain.memory import cosine
from storyloom.domain.ports.story import SceneText
from storyloom.domain.ports.text import ChatRequest, ChatTurn, ReplyEnd, TextDelta
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.gemini_client import api_version_from_env
from storyloom.engines.gemini_embedder import GeminiEmbedder
from storyloom.engines.images.gemini import GeminiIllustrator
from storyloom.engines.text.gemini import GeminiTextEngine

CONVERSATION = [ChatTurn("user", "I want a story about a brave little fox called Pip who is afraid of the dark."),
                ChatTurn("assistant", "What a lovely idea! Where does Pip live?"),
                ChatTurn("user", "In an enchanted forest. Make it cozy, for my five-year-old, at bedtime.")]
REQUIREMENTS = StoryRequirements(characters=(Character("Pip", "a brave little fox afraid of the dark"),),
                                 setting="an enchanted forest", tone="COZY", audience_age_group="PRESCHOOL")
MEMORIES = ["The user said: My dog is called Biscuit and he loves running on the beach",
            "The user said: I want to fly a rocket to the moon one day",
            "The user said: My favourite food is pizza with mushrooms"]
MEMORY_QUERY = "Where does Biscuit like to go?"
SCENE = SceneText(title="Pip and the fireflies", text="Pip met the fireflies at the edge of the forest.",
                  mood="cozy", illustration_prompt="A little orange fox smiling at glowing fireflies among ferns")


def elapsed(since: float) -> str:
    return f"{time.perf_counter() - since:.2f} s"


async def chat(engine: GeminiTextEngine) -> str:
    started = time.perf_counter()
    first: str | None = None
    parts: list[str] = []
    end: ReplyEnd | None = None
    request = ChatRequest(system_instruction="You are Loom, a kind story assistant for children. Answer in two "
                                             "short sentences, then ask one question.", turns=CONVERSATION[:1])
    async for event in engine.chat(request):
        if isinstance(event, TextDelta):
            first = first or elapsed(started)
            parts.append(event.text)
        else:
            end = event
    assert end is not None
    reply = " ".join("".join(parts).split())
    return (f"first text after {first}, whole reply {elapsed(started)} in {len(parts)} chunks, finish "
            f"{end.finish_reason}, tokens {end.input_tokens} in / {end.output_tokens} out\n      {reply[:160]!r}")


async def extraction(engine: GeminiTextEngine) -> str:
    started = time.perf_counter()
    found = await engine.extract_requirements(CONVERSATION, StoryRequirements())
    filled = [f.name for f in dataclasses.fields(found) if getattr(found, f.name) and f.name != "extracted_prompt"]
    return f"{elapsed(started)}; fields: {', '.join(filled) or '(none)'}\n      {found.extracted_prompt[:160]!r}"


async def story_step(engine: GeminiTextEngine) -> str:
    started = time.perf_counter()
    premise = await engine.premise(REQUIREMENTS)
    return f"{elapsed(started)}; title {premise.title!r}\n      {premise.premise[:160]!r}"


async def picture(illustrator: GeminiIllustrator, out: Path) -> str:
    started = time.perf_counter()
    drawn = await illustrator.illustrate(SCENE, REQUIREMENTS, width=768, height=512)
    path = out / "gemini-smoke.png"
    path.write_bytes(drawn.png)
    return f"{elapsed(started)}; {drawn.width}x{drawn.height} PNG, {len(drawn.png)} bytes, saved to {path}"


async def embeddings(embedder: GeminiEmbedder) -> str:
    started = time.perf_counter()
    documents = await embedder.embed(MEMORIES, query=False)
    [query] = await embedder.embed([MEMORY_QUERY], query=True)
    related, *unrelated = (cosine(query, document) for document in documents)
    separates = related >= embedder.min_similarity > max(unrelated)
    return (f"{elapsed(started)}; {len(query)} dimensions; similarity to a related memory {related:.2f}, to "
            f"unrelated ones {', '.join(f'{u:.2f}' for u in unrelated)}; the threshold {embedder.min_similarity} "
            f"{'separates them' if separates else 'does NOT separate them: please report these figures'}")


async def step(name: str, run: Callable[[], Awaitable[str]]) -> bool:
    """Runs one step and prints one line for it (after any warning it logged)."""
    try:
        print(f"  {name}: {await run()}", flush=True)
        return True
    except DomainError as error:
        print(f"  {name}: FAILED: {error.reason}: {error}  {dict(error.metadata)}", flush=True)
    except Exception as error:  # noqa: BLE001 - a smoke test reports everything plainly and goes on
        print(f"  {name}: FAILED: {type(error).__name__}: {error}", flush=True)
    return False


async def main(out: Path) -> int:
    if not os.environ.get("GEMINI_API_KEY", "").strip():
        print("gemini-smoke: GEMINI_API_KEY is not set, so nothing was sent. Set it (and optionally "
              "STORYLOOM_GEMINI_MODEL, STORYLOOM_GEMINI_IMAGE_MODEL) and run `make gemini-smoke` again.")
        return 0
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(message)s")
    try:
        engine = GeminiTextEngine.from_env()
        illustrator = GeminiIllustrator.from_env()
        embedder = GeminiEmbedder.from_env()
    except ValueError as error:
        print(f"gemini-smoke: the engines refused the configuration: {error}")
        return 1
    base = os.environ.get("STORYLOOM_GEMINI_BASE_URL", "").strip() or "Google's endpoint"
    print(f"gemini-smoke: API {api_version_from_env()} at {base}; text model {engine.model}, "
          f"image model {illustrator.model}, embedding model {embedder.model}", flush=True)
    try:
        started = time.perf_counter()
        models = await asyncio.gather(engine.check_model(), illustrator.check_model(), embedder.check_model())
        said = "all exist" if all(models) else "see the warning above"
        print(f"  models: {said} ({elapsed(started)})", flush=True)
        results = [await step("streamed chat reply", lambda: chat(engine)),
                   await step("requirement extraction", lambda: extraction(engine)),
                   await step("story step (premise)", lambda: story_step(engine)),
                   await step("picture", lambda: picture(illustrator, out)),
                   await step("memory embeddings", lambda: embeddings(embedder))]
    finally:
        await engine.aclose()
        await illustrator.aclose()
        await embedder.aclose()
    failed = results.count(False)
    missing = False in models
    print(f"gemini-smoke: {len(results) - failed} of {len(results)} steps worked"
          + ("; a configured model was not found" if missing else "") + ".")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()), help="where to save the picture")
    sys.exit(asyncio.run(main(parser.parse_args().out)))

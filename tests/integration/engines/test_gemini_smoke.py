"""`make gemini-smoke` (bench/gemini_smoke.py): without a key it sends nothing and exits 0; with one it runs its five
steps, here against the strict wire fake in place of the real service, and exits 1 when a step fails."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

from PIL import Image

from tests.support.gemini_fake import GeminiFake, Stream, chunk, image_reply, json_reply, unavailable, usage
from tests.support.paths import ROOT

pytest_plugins = ("tests.support.gemini_fixtures",)

SCRIPT = ROOT / "bench" / "gemini_smoke.py"


async def run_smoke(environ: dict[str, str], out: Path) -> tuple[int, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("GEMINI_", "STORYLOOM_GEMINI_", "GOOGLE_"))} | environ
    process = await asyncio.create_subprocess_exec(sys.executable, str(SCRIPT), "--out", str(out), env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (250, 160, 60)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_without_a_key_it_says_so_sends_nothing_and_exits_0(tmp_path: Path) -> None:
    code, output = await run_smoke({}, tmp_path)

    assert code == 0
    assert "GEMINI_API_KEY is not set, so nothing was sent" in output
    assert list(tmp_path.iterdir()) == []


async def test_with_a_key_it_runs_chat_extraction_a_story_step_a_picture_and_embeddings_printing_timings(
        tmp_path: Path, gemini: GeminiFake) -> None:
    gemini.script(Stream([chunk("Pip sounds wonderful! "),
                          chunk("Where does Pip live?", finish_reason="STOP", usage_metadata=usage(30, 9))]),
                  json_reply({"characters": [{"name": "Pip", "description": "a brave little fox"}],
                              "setting": "an enchanted forest", "extracted_prompt": "A cozy story about Pip."}),
                  json_reply({"title": "Pip and the Fireflies", "premise": "Pip, a little fox, is afraid of the "
                                                                          "dark until fireflies light the way."}),
                  image_reply(png((1248, 832))))

    code, output = await run_smoke({"GEMINI_API_KEY": "test-key", "STORYLOOM_GEMINI_BASE_URL": gemini.base_url},
                                   tmp_path)

    assert code == 0, output
    assert ("text model gemini-3.5-flash-lite, image model gemini-3.1-flash-image, embedding model "
            "gemini-embedding-001") in output
    assert "models: all exist" in output
    assert "streamed chat reply: first text after" in output and "in 2 chunks, finish STOP" in output
    assert "requirement extraction:" in output and "characters, setting" in output
    assert "story step (premise):" in output and "'Pip and the Fireflies'" in output
    assert "picture:" in output and "768x512 PNG" in output
    assert "memory embeddings:" in output and "768 dimensions; similarity to a related memory" in output
    assert "5 of 5 steps worked." in output
    assert [r.body["requests"][0]["taskType"] for r in gemini.embedding_requests] == [
        "RETRIEVAL_DOCUMENT", "RETRIEVAL_QUERY"]
    assert Image.open(tmp_path / "gemini-smoke.png").size == (768, 512)
    assert [(r.version, r.model, r.rpc) for r in gemini.requests] == [
        ("v1beta", "gemini-3.5-flash-lite", "streamGenerateContent"),
        ("v1beta", "gemini-3.5-flash-lite", "generateContent"),
        ("v1beta", "gemini-3.5-flash-lite", "generateContent"),
        ("v1beta", "gemini-3.1-flash-image", "generateContent")]


async def test_a_failing_step_is_printed_plainly_and_the_exit_code_is_1(tmp_path: Path, gemini: GeminiFake) -> None:
    gemini.models.pop("gemini-3.1-flash-image")
    gemini.script(Stream([chunk("Hello!", finish_reason="STOP")]), json_reply({"extracted_prompt": "A story."}),
                  *[unavailable()] * 3)

    code, output = await run_smoke({"GEMINI_API_KEY": "test-key", "STORYLOOM_GEMINI_BASE_URL": gemini.base_url},
                                   tmp_path)

    assert code == 1
    assert "Gemini model gemini-3.1-flash-image does not exist on API v1beta" in output
    assert "story step (premise): FAILED: ENGINE_UNAVAILABLE: Gemini failed: 503 UNAVAILABLE" in output
    assert "picture: FAILED: ENGINE_UNAVAILABLE: Gemini rejected the request: 404 NOT_FOUND" in output
    assert "3 of 5 steps worked; a configured model was not found." in output

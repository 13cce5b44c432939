"""Benchmark: a story's files on the offline engines. A 5-scene narrated story is written, then bundled (the
ZIP an offline app downloads), exported as EPUB and PDF, and a DOCX of the same text is illustrated. Prints each
step's time and size, side by side with the story's own writing time, and the load. Runs the real server in-process
on 127.0.0.1:0 with SQLite in a temp dir, through the Python client.

    make bench          (or: .venv/bin/python bench/bench_story_files.py [--scenes 5])
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import served

from storyloom_client import StoryloomClient, v1


def _docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in text.split("\n\n"):
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def main(scenes: int) -> None:
    async with (served(text_engine="offline", offline_word_delay_seconds=0) as server,
                StoryloomClient(f"127.0.0.1:{server.port}", server.key) as client):
        started = time.perf_counter()
        task = await client.create_story(v1.StoryRequirements(
            characters=[v1.Character(name="Luna", description="a brave little fox")],
            setting="an enchanted forest"), scene_count=scenes)
        event = await client.wait_task(task.name)
        written = time.perf_counter() - started
        if event.state is not v1.TaskState.SUCCEEDED:
            raise SystemExit(f"story failed: {event}")
        story = await client.stories.get_story(v1.GetStoryRequest(name=task.target))
        print(f"story: {scenes} scenes, illustrated and narrated (with renditions): {written:.2f} s")

        rows = []
        for attempt in ("first", "again"):
            started = time.perf_counter()
            received = [0]
            bundle = await client.download_bundle(story.name, server.work_dir / f"{attempt}.zip",
                                                  progress=lambda size, seen=received: seen.append(size))
            rows.append((f"bundle ({attempt}, verified)", time.perf_counter() - started, received[-1],
                         f"{len(bundle.files)} files"))
        for fmt in (v1.ExportFormat.EPUB, v1.ExportFormat.PDF):
            started = time.perf_counter()
            book = await client.export_story(story.name, fmt)
            rows.append((f"export {fmt.name}", time.perf_counter() - started, len(book.data), ""))
        text = "\n\n".join(s.text for s in story.scenes)
        document = server.work_dir / "tale.docx"
        document.write_bytes(_docx(text))
        started = time.perf_counter()
        illustrated = await client.illustrate_file(document, max_scenes=scenes)
        done = await client.wait_task(illustrated.name)
        result = await client.stories.get_story(v1.GetStoryRequest(name=illustrated.target))
        rows.append(("illustrate DOCX (pictures only)", time.perf_counter() - started, document.stat().st_size,
                     f"{len(result.scenes)} scenes, {done.state.name}"))
        for name, seconds, size, note in rows:
            print(f"  {name:<34} {seconds:6.2f} s  {seconds / written:6.1%} of writing  "
                  f"{size / 1024:8.0f} KiB  {note}")
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=5)
    asyncio.run(main(parser.parse_args().scenes))

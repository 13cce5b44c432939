"""`storyloom-cli` commands for a story's files: `story export` (Markdown, text, EPUB, PDF), `story bundle` (a ZIP of
every asset with its manifest, verified) and `illustrate FILE` (a document illustrated scene by scene)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import DownloadColumn, Progress, SpinnerColumn, TextColumn, TransferSpeedColumn

from . import v1
from .cli_common import app, err, follow, full_name, out, print_story, run, story_app, task_failed
from .client import DOCUMENT_TYPES, StoryloomClient, document_type

FORMATS = {"markdown": (v1.ExportFormat.MARKDOWN, ".md"), "md": (v1.ExportFormat.MARKDOWN, ".md"),
           "text": (v1.ExportFormat.PLAIN_TEXT, ".txt"), "txt": (v1.ExportFormat.PLAIN_TEXT, ".txt"),
           "epub": (v1.ExportFormat.EPUB, ".epub"), "pdf": (v1.ExportFormat.PDF, ".pdf")}
BINARY = {v1.ExportFormat.EPUB, v1.ExportFormat.PDF}


def _spinner(title: str) -> Progress:
    return Progress(SpinnerColumn(), TextColumn(title), console=err, transient=True, disable=not err.is_terminal)


@story_app.command("export")
def story_export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="users/me/stories/ID or ID.")],
    format: Annotated[str, typer.Option("--format", "-f", help="markdown, text, epub or pdf.")] = "markdown",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here instead of stdout (EPUB and PDF: default story-ID.epub/.pdf).",
        show_default=False)] = None,
) -> None:
    """Export a story as one document: Markdown, plain text, an EPUB 3 book (pictures, text, read-aloud
    narration) or a printable PDF picture book."""
    if format.lower() not in FORMATS:
        raise typer.BadParameter(f"{format!r} is not markdown, text, epub or pdf", param_hint="--format")
    kind, extension = FORMATS[format.lower()]
    story = full_name(name, "users/me/stories")
    path = output
    if path is None and kind in BINARY:
        path = Path(f"story-{story.rsplit('/', 1)[-1]}{extension}")

    async def export(client: StoryloomClient) -> None:
        with _spinner(f"exporting {format.lower()}") as spinner:
            spinner.add_task("export", total=None)
            document = await client.export_story(story, kind)
        if path is None:
            import sys

            sys.stdout.buffer.write(document.data)
            sys.stdout.flush()
        else:
            path.write_bytes(document.data)
            err.print(f"wrote {len(document.data)} bytes ({document.content_type}) to {path}", markup=False)
            out.print(str(path), markup=False)

    run(ctx, export)


@story_app.command("bundle")
def story_bundle(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="users/me/stories/ID or ID.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: story-ID.zip.",
                                                show_default=False)] = None,
) -> None:
    """Download everything an offline app needs of a story as one ZIP (pictures in three sizes, narration with
    30-second previews, the Markdown, manifest.json), with a progress bar; every file's SHA-256 is verified."""
    story = full_name(name, "users/me/stories")
    path = output or Path(f"story-{story.rsplit('/', 1)[-1]}.zip")

    async def bundle(client: StoryloomClient) -> None:
        await _download_bundle(client, story, path)

    run(ctx, bundle)


async def _download_bundle(client: StoryloomClient, story: str, path: Path) -> None:
    columns = (SpinnerColumn(), TextColumn("bundle"), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
        bar = progress.add_task("bundle", total=None)
        result = await client.download_bundle(story, path, progress=lambda done: progress.update(bar, completed=done))
    size = path.stat().st_size
    err.print(f"wrote {size} bytes to {path}: {len(result.files)} files, {len(result.scenes)} scenes, "
              "every sha256 verified", markup=False)
    out.print(str(path), markup=False)


@app.command("illustrate")
def illustrate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=f"The document: {', '.join(sorted(DOCUMENT_TYPES))}.", exists=True,
                                         dir_okay=False)],
    style: Annotated[str, typer.Option("--style", help="The picture style, for example 'watercolor'.")] = "",
    narrate: Annotated[bool, typer.Option("--narrate", help="Also read each scene aloud.")] = False,
    scenes: Annotated[int, typer.Option(help="At most this many scenes, 1 to 12 (0: 12).")] = 0,
    bundle: Annotated[Path | None, typer.Option(
        "--bundle", help="When done, download the pictures and a manifest as this ZIP.", show_default=False)] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Print the task and return at once.")] = False,
) -> None:
    """Illustrate a text, Markdown, PDF or DOCX file: it is cut into scenes at its natural breaks and each gets a
    picture (and narration with --narrate), with a live progress bar. The file is uploaded: the server never
    fetches URLs."""
    try:
        document_type(str(file))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from None

    async def work(client: StoryloomClient) -> int:
        task = await client.illustrate_file(file, illustration_style=style, narrate=narrate, max_scenes=scenes)
        err.print(f"task: {task.name}\nstory: {task.target}", markup=False)
        if detach:
            out.print(task.name, markup=False)
            return 0
        try:
            final = await follow(client, task.name, "illustrating")
        except (KeyboardInterrupt, asyncio.CancelledError):
            err.print(f"stopped watching; the illustrations go on. Watch again with: "
                      f"storyloom-cli tasks watch {task.name}", markup=False)
            raise
        if code := task_failed(final):
            return code
        story = client.story_of(final) or await client.stories.get_story(v1.GetStoryRequest(name=task.target))
        if bundle is not None:
            await _download_bundle(client, story.name, bundle)
        else:
            print_story(story, json=False, text=False)
        return 0

    run(ctx, work)
